// Messages between the orchestrator (bench/run.ts) and its load-generator processes (bench/load-generator.ts),
// over the child-process IPC channel.
import type { Kind } from '../catalog/index.js';
import type { HistogramData } from './histogram.js';

export interface GeneratorDevice {
  id: string;
  token: string;
  kind: Kind;
}

/** Connect every device, at most `connectConcurrency` CONNECTs outstanding at a time. */
export interface SetupMessage {
  type: 'setup';
  index: number;
  url: string;
  devices: GeneratorDevice[];
  connectConcurrency: number;
  keepaliveSeconds: number;
}

export interface RunMessage {
  type: 'run';
  /**
   * `window`: closed loop, each client keeps `window` QoS 1 messages in flight (a PUBACK frees a slot).
   * `rate`: open loop at `rate` messages/s for this process, round-robin over its clients; a client with
   * `window` messages unacknowledged is skipped (back-pressure) and the skipped publish is counted, not queued.
   * `open`: open loop at `rate` messages/s for this process, on a fixed schedule (message k is due `k / rate` s after
   * the start), round-robin over its clients, whether or not earlier messages were acknowledged. How late each
   * message went out is recorded; what was due but not sent when the time was up is counted, never sent late.
   */
  mode: 'window' | 'rate' | 'open';
  window: number;
  /** Readings per message: 1 = a single object, more = a gateway's array. */
  batch: number;
  rate: number;
  durationMs: number;
  /** Reading timestamps are max(now - backlogMs, previous + 1) per device: unique, and a backlog looks old. */
  backlogMs: number;
  /** Devices whose every reading is reported (id, ts, publish time) for the publish → queryable probe. */
  sampleDevices: string[];
  /** After the run, how long to wait for outstanding PUBACKs. */
  ackWaitMs: number;
}

export type ParentMessage = SetupMessage | RunMessage | { type: 'close' };

export interface ConnectResult {
  connected: number;
  failed: number;
  errors: string[];
  ms: number;
}

export interface GeneratorStats {
  publishedMessages: number;
  publishedReadings: number;
  publishedByKind: Record<Kind, number>;
  ackedMessages: number;
  ackedReadings: number;
  ackedByKind: Record<Kind, number>;
  /** Readings acknowledged before publishing stopped (the rate's numerator). */
  ackedReadingsInRun: number;
  /** Publishes whose callback reported an error (connection closed before the PUBACK). */
  errors: number;
  /** Messages still unacknowledged when the generator gave up waiting. */
  unacked: number;
  /** Open-loop publishes skipped because the client's window was full. */
  skipped: number;
  /** Connections that closed during the run. */
  disconnects: number;
  /** Publish → PUBACK, per message, ms. */
  ackLatency: HistogramData;
  runMs: number;
  /** Mode `open`: messages due by the schedule within the run (sent or not). */
  dueMessages: number;
  /** Mode `open`: how late each message was published against its schedule, ms (0 when on time). */
  scheduleLag: HistogramData;
  /** Bytes written by the clients but still in their sockets' user-space buffers when the run ended. */
  socketBacklogBytes: number;
}

/** One sampled reading: device id, kind, reading ts, wall-clock publish time (ms). */
export type Sample = [string, Kind, number, number];

export type ChildMessage =
  | { type: 'connected'; result: ConnectResult }
  | { type: 'samples'; items: Sample[] }
  | { type: 'progress'; publishedReadings: number; ackedReadings: number; connected: number }
  | { type: 'done'; stats: GeneratorStats }
  | { type: 'closed' };
