// The shape of a scenario's figures, as printed and as written to bench/results/latest.json.
import type { Percentiles } from './histogram.js';
import type { ProfileSummary } from './cpu-profile.js';

export interface Target {
  name: string;
  goal: string;
  value: string;
  pass: boolean;
}

export interface IngestFigures {
  devices: number;
  durationS: number;
  /** Readings published per second (offered load): what the generators really sent within the run. */
  offeredPerS: number;
  /** Open loop (`open`): the readings/s the schedule asked for; offeredPerS below it means the generators fell behind. */
  scheduledPerS?: number;
  /** Open loop: readings that fell due within the run but were not sent by its end (the generators were behind). */
  notSent?: number;
  /** Open loop: how late messages were published against their schedule (generator lag), ms. */
  scheduleLagMs?: Percentiles;
  /** Bytes the generators had written that were still queued in their sockets' user-space buffers at the end. */
  generatorSocketBacklogKiB?: number;
  /** CPU time of the platform's process tree (every thread) over the window ÷ readings stored in the window, µs. */
  platformCpuUsPerStored: number;
  /**
   * Garbage collection's share of that CPU: the platform's GC pauses on its main thread over the window
   * (prom-client's `pantau_nodejs_gc_duration_seconds`, from perf_hooks 'gc' entries; no `--trace-gc`) ÷ the
   * process tree's CPU time. Undefined when the platform does not expose the metric.
   */
  gcShare?: number;
  /** Readings whose message got its PUBACK during the run, per second. */
  ackedPerS: number;
  /** Readings that reached InfluxDB during the measured window, per second (count at the end − count at the start). */
  storedPerS: number;
  /** The window's readings per second from its start until the last of them was stored (includes the drain). */
  storedInclDrainPerS: number;
  /** The platform's spool (`pantau_spool_bytes`) at the end of the window: what InfluxDB has yet to receive. */
  spoolMiBAtEnd: number;
  /** Totals below include the warm-up, so the loss check covers every reading sent. */
  published: number;
  acked: number;
  stored: number;
  /** Acknowledged readings not found in InfluxDB (must be 0). */
  lost: number;
  /** Published, not acknowledged (in flight at the end or failed). */
  unacked: number;
  /** Open-loop publishes skipped because a client had its window full. */
  skipped: number;
  rejected: number;
  disconnects: number;
  /** Seconds from the end of the run until the last reading was stored (spool drain). */
  drainS: number;
  ackLatencyMs: Percentiles;
  /** InfluxDB /write requests per second made by the platform's writer in the window, from its metrics. */
  influxWritesPerS: number;
  pointsPerWrite: number;
  influxWriteMeanMs: number;
}

export interface ScenarioResult {
  scenario: string;
  title: string;
  startedAt: string;
  cpuProfiled: boolean;
  config: Record<string, unknown>;
  ingest?: IngestFigures;
  /** Publish → queryable latency. */
  queryableLatencyMs?: Percentiles & { missing: number; samples: number };
  extra?: Record<string, unknown>;
  /** Cores used per process group over the measured window (2 cores on the reference machine). */
  cpuCores: Record<string, number>;
  rssMiB: Record<string, number>;
  targets: Target[];
  notes: string[];
  profile?: Omit<ProfileSummary, 'byArea'> & { byArea: ProfileSummary['byArea'] };
  /** Profiles of the platform's other threads (worker threads), when profiled. */
  threadProfiles?: ProfileSummary[];
  phases?: ScenarioResult[];
  /** `--runs N`: the N runs, and each headline figure's median with min and max over them. */
  runs?: ScenarioResult[];
  summary?: RunSummary;
  /** The figures compared across runs, by label (see bench/repeat.ts). */
  headline?: Record<string, number>;
}

export type RunSummary = Record<string, { median: number; min: number; max: number; values: number[] }>;
