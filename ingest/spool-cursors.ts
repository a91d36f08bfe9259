// The log's durable cursors: where the InfluxDB writer and each durable consumer have got to, held in memory and
// saved to the checkpoint file (checkpoints.ts) within 200 ms of moving. The lowest saved cursor is the floor below
// which segments may be deleted.
//
// Consumers never stall ingest (docs/consumers.md). A durable consumer (never the writer) that falls more than
// `maxConsumerLagBytes` behind the log's end, or that holds back segments while the disk is full, is detached:
// logged as an error, `consumer-detached` emitted (a metric), and its segments no longer kept. When it next
// finishes a batch it is attached again and resumes from the oldest record still on disk (or from the writer's
// position when that is too far back); what lies between is never handed to it.
//
// With PANTAU_ACK_AFTER=store a message is acknowledged once every attached durable cursor has passed it
// (`attachedFloor`): in InfluxDB and, on a cluster node, in the alert feed — a node whose data dir is lost then
// leaves no acknowledged reading the alert owner never judged. A detached consumer no longer holds them back, nor
// does one whose work stays in the data dir (`nodeLocal`: the rollups), since it is lost with the dir anyway.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CheckpointFile, readLegacyCheckpoint } from './checkpoints.js';
import type { SegmentBounds } from './log-format.js';
import type { LogConsumer } from './log-types.js';

/** The writer's checkpoint key. */
export const WRITER = 'influxdb';

/** The checkpoint file, and the single checkpoint of earlier versions it was started from (deleted once saved). */
export interface SavedCheckpoints {
  file: CheckpointFile;
  legacyPath: string | undefined;
}

export async function openCheckpoints(dir: string): Promise<SavedCheckpoints> {
  const legacyPath = join(dir, 'checkpoint.json');
  const legacy = readLegacyCheckpoint(legacyPath);
  const file = await CheckpointFile.open(join(dir, 'checkpoints'), legacy !== undefined ? { [WRITER]: legacy } : {});
  return { file, legacyPath: legacy !== undefined ? legacyPath : undefined };
}

/** What the cursors need to know of the log. */
export interface CursorLog {
  readonly durableEnd: number;
  readonly startOffset: number;
  readonly diskFull: boolean;
  bounds(): { segments: SegmentBounds[]; durableEnd: number };
}

/** What the cursors tell the log. */
export interface CursorEvents {
  /** A durable consumer was detached (`true`) or attached again (`false`). */
  detached(name: string, detached: boolean): void;
  /** Checkpoints were saved: segments every cursor has passed may go. */
  saved(): Promise<void>;
  /** The writer's cursor moved. */
  writerMoved(): void;
  /** A durable cursor moved, or a consumer was detached: the lowest attached position (`attachedFloor`) may have risen. */
  moved(): void;
}

export class Cursors {
  /** Offsets consumers have reached, in memory (persisted lazily). */
  private readonly at = new Map<string, number>();
  /** Durable consumers whose work stays in the data dir: acknowledgements do not wait for them (`attachedFloor`). */
  private readonly nodeLocal = new Set<string>();
  /** Durable consumers detached for lagging (no segment is kept for them), by name: since when. */
  private readonly detachedSince = new Map<string, number>();
  private readonly checkpoints: CheckpointFile;
  private legacyCheckpoint: string | undefined;
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: CursorLog,
    saved: SavedCheckpoints,
    private readonly maxLag: number,
    private readonly logger: Logger,
    private readonly events: CursorEvents,
  ) {
    this.checkpoints = saved.file;
    this.legacyCheckpoint = saved.legacyPath;
  }

  /** Where the InfluxDB writer has got to. */
  get writer(): number {
    return this.at.get(WRITER) ?? this.log.startOffset;
  }

  /** Place the writer at its checkpoint: never before the first segment, never past the end. */
  startWriter(): number {
    const start = this.log.startOffset;
    const writerAt = Math.max(start, Math.min(this.checkpoints.persisted[WRITER] ?? start, this.log.durableEnd));
    this.at.set(WRITER, writerAt);
    return writerAt;
  }

  /** Where a consumer being registered starts: durable ones at their checkpoint (or the oldest record on disk). */
  register(consumer: LogConsumer): number {
    const start = this.log.startOffset;
    const end = this.log.durableEnd;
    const saved = consumer.durable ? this.checkpoints.persisted[consumer.name] : undefined;
    const from = consumer.durable ? Math.max(start, Math.min(saved ?? start, end)) : end;
    if (saved !== undefined && saved < start) {
      // its segments were deleted while it was detached (or not registered): say what it will never see
      this.logger.error({ consumer: consumer.name, checkpoint: saved, resumesAt: from, missedBytes: from - saved }, 'log consumer: its checkpoint is older than the oldest record on disk; it resumes from there and never sees what lies between');
    }
    if (consumer.durable) this.at.set(consumer.name, from);
    if (consumer.durable && consumer.nodeLocal) this.nodeLocal.add(consumer.name);
    return from;
  }

  /** Names of the durable consumers detached for lagging. */
  get detached(): string[] {
    return [...this.detachedSince.keys()];
  }

  /**
   * Detach durable consumers (never the writer) that lag more than the limit, or — while the disk is full — the
   * one holding back the oldest segment the writer no longer needs. True when one was: its segments may go.
   */
  checkLag(): boolean {
    const end = this.log.durableEnd;
    const writerAt = this.writer;
    // only a consumer in an older segment than the writer's holds space the writer does not need
    let writerSegment = this.log.startOffset;
    for (const seg of this.log.bounds().segments) if (seg.base <= writerAt) writerSegment = seg.base;
    let slowest: { name: string; at: number } | undefined;
    let changed = false;
    for (const [name, at] of this.at) {
      if (name === WRITER || this.detachedSince.has(name)) continue;
      if (end - at > this.maxLag) {
        this.detach(name, at, `more than ${this.maxLag} bytes behind the end of the log (PANTAU_CONSUMER_MAX_LAG)`);
        changed = true;
      } else if (at < writerSegment && (!slowest || at < slowest.at)) slowest = { name, at };
    }
    if (this.log.diskFull && slowest) {
      this.detach(slowest.name, slowest.at, 'holding back log segments while the disk is full');
      changed = true;
    }
    return changed;
  }

  private detach(name: string, at: number, reason: string): void {
    this.detachedSince.set(name, Date.now());
    this.logger.error(
      { consumer: name, position: at, lagBytes: this.log.durableEnd - at, reason },
      `log consumer "${name}" DETACHED: ${reason}; ingest goes on without it and its segments are no longer kept. It resumes from the oldest record on disk once it finishes a batch again; what lies between is never handed to it`,
    );
    this.events.detached(name, true);
    // it no longer counts for the acknowledgements waiting on it (PANTAU_ACK_AFTER=store)
    this.events.moved();
  }

  /**
   * After a detached consumer finished a batch: where it resumes (attached again), or undefined when it is not
   * detached. The oldest record on disk, unless that is beyond the lag limit: then the writer's position, or the
   * end of the log.
   */
  reattach(name: string, at: number): number | undefined {
    const since = this.detachedSince.get(name);
    if (since === undefined) return undefined;
    this.detachedSince.delete(name);
    const end = this.log.durableEnd;
    const candidates = [Math.max(at, this.log.startOffset), this.writer, end];
    const from = candidates.find((c) => end - c <= this.maxLag && c >= at) ?? end;
    this.at.set(name, from);
    this.logger.error(
      { consumer: name, detachedForSeconds: Math.round((Date.now() - since) / 1000), position: at, resumesAt: from, missedBytes: from - at },
      from > at
        ? `log consumer "${name}" attached again; the ${from - at} bytes of log between its position and the oldest record kept for it were never handed to it`
        : `log consumer "${name}" attached again; nothing was missed`,
    );
    this.events.detached(name, false);
    this.saveSoon();
    return from;
  }

  /** A durable cursor moved (the writer's commit, or a consumer's handled entries). */
  advance(name: string, end: number): void {
    const prev = this.at.get(name);
    if (prev !== undefined && end <= prev) return;
    this.at.set(name, end);
    this.saveSoon();
    if (name === WRITER) this.events.writerMoved();
    this.events.moved();
  }

  /**
   * The lowest in-memory position of every attached durable cursor — the writer's and each durable consumer's
   * not detached for lagging, but for the node-local ones (rollups): every record before it is in InfluxDB and
   * handled by each of them (what PANTAU_ACK_AFTER=store waits for). Not `floor()`: that one is what is saved, for
   * deleting segments.
   */
  attachedFloor(): number {
    let floor = this.writer;
    for (const [name, at] of this.at) if (!this.detachedSince.has(name) && !this.nodeLocal.has(name)) floor = Math.min(floor, at);
    return floor;
  }

  /** The lowest persisted position of every attached durable cursor: nothing before it is needed any more. */
  floor(): number {
    let floor = this.log.durableEnd;
    for (const name of this.at.keys()) {
      if (this.detachedSince.has(name)) continue;
      floor = Math.min(floor, this.checkpoints.persisted[name] ?? this.log.startOffset);
    }
    return floor;
  }

  private saveSoon(): void {
    this.saveTimer ??= setTimeout(() => {
      this.saveTimer = undefined;
      void this.save();
    }, 200);
  }

  private async save(): Promise<void> {
    // checkpoints of consumers not registered in this run are kept (they do not hold segments back, though)
    const ok = await this.checkpoints.save({ ...this.checkpoints.persisted, ...Object.fromEntries(this.at) });
    if (!ok) this.logger.warn('spool: consumer checkpoints not saved (retried with the next commit)');
    else {
      if (this.legacyCheckpoint) {
        rmSync(this.legacyCheckpoint, { force: true });
        this.legacyCheckpoint = undefined;
      }
      await this.events.saved();
    }
  }

  /** Save the cursors now and close the checkpoint file. */
  async close(): Promise<void> {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    await this.save();
    await this.checkpoints.close();
  }
}
