// The ingest log's consumer contract. The spool is the log: every accepted message is appended, fsync'd and only
// then acknowledged. Everything that happens after durability — the InfluxDB writer, the latest cache, the live
// stream, the alert engine, rollups, exports — is a consumer of the log with its own cursor. A slow or failing
// consumer never slows acknowledgement; a durable consumer resumes from its own checkpoint after a restart.
import type { Kind, RejectionReason } from '../catalog/index.js';

/** One validated reading, as stored. `ts` in ms since the epoch. */
export interface LogReading {
  deviceId: string;
  kind: Kind;
  ts: number;
  values: Record<string, number>;
}

export interface LogRejection {
  deviceId: string;
  kind: Kind;
  ts: number;
  reason: RejectionReason;
  detail: string;
}

/** What one log record holds, decoded. */
export interface LogEntry {
  /** Log offset just past this record; a consumer that has handled the entry is checkpointed here. */
  end: number;
  /** When the record was appended (ms). */
  appendedAt: number;
  readings: LogReading[];
  rejections: LogRejection[];
  /** Derived points (alerts, indices, device_state, platform) in this record; most consumers ignore them. */
  derivedLines: number;
}

export interface LogConsumer {
  /** Checkpoint key: [a-z0-9-]+, unique per process. */
  readonly name: string;
  /**
   * Durable: its checkpoint is kept on disk, the log keeps its segments until it has passed them, and after a
   * restart it is handed every entry after its checkpoint (entries read back from disk). Not durable (latest
   * cache, live stream): starts at the log's end on every start.
   */
  readonly durable: boolean;
  /**
   * A durable consumer whose work stays in this node's data dir (the rollups' dirty marks): it is lost with the dir
   * as the consumer's checkpoint is, so PANTAU_ACK_AFTER=store, which is for nodes whose dir may be lost, does not
   * wait for it (`Spool.stored`). Default false: acknowledgements in that mode wait for the consumer.
   */
  readonly nodeLocal?: boolean;
  /**
   * Handle entries in log order. The log checkpoints the last entry's `end` once this resolves. A throw or a
   * rejection is logged and counted (`pantau_log_consumer_errors_total{consumer}`) and the entries are passed
   * over: it never blocks the log or an acknowledgement. Entries are never handed before they are durable, and
   * never before the acknowledgement of the publish that carried them has been sent.
   */
  handle(entries: LogEntry[]): void | Promise<void>;
}
