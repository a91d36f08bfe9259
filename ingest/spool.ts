// The spool: Pantau's ingest log. An accepted message is appended here, fsync'd, and only then acknowledged to
// the device (SPEC: acknowledgement means durable). Everything after durability reads the log with its own cursor:
// the InfluxDB writer (in a worker thread, see writer-thread.ts), the latest cache, the live stream, the alert
// engine, rollups. A slow or failing consumer never slows acknowledgement; a durable consumer resumes from its
// own checkpoint after a restart (checkpoints.ts).
//
// Layout and record format: log-format.ts. Group commit: appends made while a write+fsync is in flight share the
// next one, so throughput grows with concurrency instead of being bounded by fsync latency.
//
// Failure model (fail-stop on I/O errors, after PostgreSQL's "fsyncgate"):
// - A write is placed at an explicit offset (pwritev) and must write every byte. A short write or a failed write
//   acknowledges nothing: the file is cut back (ftruncate + fdatasync) to its last verified end before anything
//   else is written, so no partial frame is ever followed by another one.
//     · Out of space (ENOSPC, EDQUOT, or a short write): the spool goes "disk full": the messages stay
//       unacknowledged and queued, QoS 0 is dropped and counted, and the append is retried every second. Space
//       comes back as consumers commit (whole consumed segments are deleted; the active one is rolled over to a
//       new file once everything in it is consumed). Ingest resumes by itself.
//     · Any other write error: the batch is refused (its publishes are not acknowledged; the device resends).
// - A failed fsync, or a failed cut-back: the state of the page cache is unknown, so the spool stops: every
//   waiting append is refused and `fatal` is emitted; the platform stops accepting and exits for its supervisor
//   to restart it. At start-up the tail is checked record by record and anything after the last whole, valid
//   record is cut off — only bytes that were never acknowledged can be there.
// - A disk reserve (a few % of the file system, at most 256 MiB) is left to the registry and the checkpoints: the
//   spool counts as full before the file system is.
//
// Consumers never stall ingest (docs/consumers.md). Segments are kept for the InfluxDB writer — durability itself,
// whose backlog is bounded by `maxBytes` (then acknowledgements wait) — and for the durable consumers that are
// attached. A durable consumer that falls more than `maxConsumerLagBytes` behind the log's end, or that holds back
// segments while the disk is full, is detached: logged as an error, `consumer-detached` emitted (a metric), and
// its segments no longer kept. When it next finishes a batch it is attached again and resumes from the oldest
// record still on disk (or from the writer's position when that is too far back); what lies between is never
// handed to it. Durable consumers are registered before any is run or any segment deleted (`deferConsumers`,
// `startConsumers`): a consumer registered later would find the segments it had not read already gone.
import { EventEmitter } from 'node:events';
import { closeSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { open, statfs, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { CheckpointFile, readLegacyCheckpoint, type CheckpointValues } from './checkpoints.js';
import { ConsumerRunner } from './consumers.js';
import { encodeFrame, SEGMENT_NAME, NAME_DIGITS, scanValidLength, SegmentReader, segmentPath, type LogBatch, type SegmentBounds } from './log-format.js';
import type { LogConsumer, LogEntry } from './log-types.js';

export type { LogBatch as SpoolBatch } from './log-format.js';

/** The three operations of the append path; tests wrap them to inject short writes and I/O errors. */
export interface SpoolIo {
  /** Write `buffers` at `position`; resolves with the bytes written (fewer than asked on a full disk). */
  writev(handle: FileHandle, buffers: Buffer[], position: number): Promise<number>;
  datasync(handle: FileHandle): Promise<void>;
  truncate(handle: FileHandle, length: number): Promise<void>;
}

export const realIo: SpoolIo = {
  async writev(handle, buffers, position) {
    return (await handle.writev(buffers, position)).bytesWritten;
  },
  datasync: (handle) => handle.datasync(),
  truncate: (handle, length) => handle.truncate(length),
};

export interface SpoolOptions {
  dir: string;
  /** Bytes the un-drained spool may hold before QoS 1/2 acknowledgements wait and QoS 0 is dropped. */
  maxBytes: number;
  /** Segment file size; default: 1/16 of the file system, between 1 MiB and 64 MiB. */
  segmentBytes?: number;
  /** Free space left to others on the file system; default: 5 % of it, between 256 KiB and 256 MiB. */
  diskReserveBytes?: number;
  log: Logger;
  io?: SpoolIo;
  /** Retry interval of appends while the disk is full. */
  diskFullRetryMs?: number;
  /** A durable consumer (not the writer) further behind than this is detached; default: no limit but the disk. */
  maxConsumerLagBytes?: number;
  /** Run no consumer and delete no segment until `startConsumers()`: every durable consumer is registered first. */
  deferConsumers?: boolean;
}

/** What a record holds, known at append time; the spool adds `end` and `appendedAt`. */
export type EntryDraft = Omit<LogEntry, 'end' | 'appendedAt'>;

interface Segment {
  base: number;
  path: string;
  size: number;
}

interface Pending {
  frame: Buffer;
  draft: EntryDraft | undefined;
  appendedAt: number;
  resolve: (end: number) => void;
  reject: (err: Error) => void;
}

/** The writer's checkpoint key. */
export const WRITER = 'influxdb';
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

export class SpoolFailedError extends Error {
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'SpoolFailedError';
  }
}

export class Spool extends EventEmitter {
  readonly dir: string;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly reserveBytes: number;
  private readonly log: Logger;
  private readonly io: SpoolIo;
  private readonly retryMs: number;
  private segments: Segment[] = [];
  private active!: FileHandle;
  /** Logical offset up to which data is fsync'd. */
  private end = 0;
  private queuedBytes = 0;
  private queue: Pending[] = [];
  private flushing = false;
  private closed = false;
  private failedWith: Error | undefined;
  private noSpace = false;
  /** Since the last out-of-space write, until one succeeds with the queue written down to nothing. */
  private spaceShort = false;
  private freeBytes = Number.POSITIVE_INFINITY;
  private retryTimer: NodeJS.Timeout | undefined;
  private statTimer: NodeJS.Timeout | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private roomWaiters: Array<() => void> = [];
  /** `stored()` callers: each waits for the writer's commit to pass its record's end. */
  private storeWaiters: Array<{ end: number; resolve: () => void; reject: (err: Error) => void }> = [];
  private checkpoints!: CheckpointFile;
  private legacyCheckpoint: string | undefined;
  /** The in-process writer's reader (tests and the fallback writer); the writer thread has its own. */
  private reader!: SegmentReader;
  /** Offsets consumers have reached, in memory (persisted lazily). */
  private readonly cursors = new Map<string, number>();
  readonly consumers: ConsumerRunner;
  /** Corrupt regions skipped or cut, for the operator. */
  corruptSkips = 0;
  private readonly maxLag: number;
  /** Durable consumers detached for lagging (no segment is kept for them), by name: since when. */
  private readonly detachedSince = new Map<string, number>();
  private consumersStarted: boolean;

  private constructor(options: SpoolOptions) {
    super();
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.log = options.log;
    this.io = options.io ?? realIo;
    this.retryMs = options.diskFullRetryMs ?? 1000;
    this.maxLag = options.maxConsumerLagBytes ?? Number.POSITIVE_INFINITY;
    this.consumersStarted = !options.deferConsumers;
    mkdirSync(this.dir, { recursive: true });
    let fsBytes = 0;
    try {
      const s = statfsSync(this.dir);
      fsBytes = s.blocks * s.bsize;
    } catch {
      // unknown file system size: defaults below
    }
    const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));
    this.segmentBytes = options.segmentBytes ?? (fsBytes > 0 ? clamp(Math.floor(fsBytes / 16), 1 << 20, 64 << 20) : 64 << 20);
    this.reserveBytes = options.diskReserveBytes ?? (fsBytes > 0 ? clamp(Math.floor(fsBytes * 0.05), 256 << 10, 256 << 20) : 0);
    this.consumers = new ConsumerRunner(this, this.log, !this.consumersStarted);
  }

  static async open(options: SpoolOptions): Promise<Spool> {
    const spool = new Spool(options);
    await spool.recover();
    return spool;
  }

  // ---- state --------------------------------------------------------------------------------------------

  /** Offset up to which the log is durable. */
  get durableEnd(): number {
    return this.end;
  }

  /** Offset of the oldest byte still on disk. */
  get startOffset(): number {
    return this.segments[0]!.base;
  }

  /** Where the InfluxDB writer has got to. */
  get committed(): number {
    return this.cursors.get(WRITER) ?? this.startOffset;
  }

  /** Bytes appended (or waiting to be) but not yet committed as written to InfluxDB. */
  get pendingBytes(): number {
    return this.end + this.queuedBytes - this.committed;
  }

  /** Durable bytes the in-process reader has not taken yet. */
  get unreadBytes(): number {
    return this.reader.unread;
  }

  /** Out of disk space (a failed append, or free space below the reserve). */
  get diskFull(): boolean {
    return this.noSpace || this.freeBytes < this.reserveBytes;
  }

  /** Stopped after an I/O error it cannot recover from. */
  get failed(): Error | undefined {
    return this.failedWith;
  }

  get hasRoom(): boolean {
    return !this.failedWith && !this.diskFull && this.pendingBytes < this.maxBytes;
  }

  /** Resolves once the spool has room (or is closed or failed). */
  waitForRoom(): Promise<void> {
    if (this.hasRoom || this.closed || this.failedWith) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  bounds(): { segments: SegmentBounds[]; durableEnd: number } {
    return { segments: this.segments.map((s) => ({ base: s.base, size: s.size })), durableEnd: this.end };
  }

  stats(): { bytes: number; committed: number; durableEnd: number; segments: number; diskFull: boolean; failed: boolean } {
    return { bytes: this.pendingBytes, committed: this.committed, durableEnd: this.end, segments: this.segments.length, diskFull: this.diskFull, failed: !!this.failedWith };
  }

  /** Append time of the oldest record not yet written to InfluxDB, or null when all is written. */
  oldestPendingAt(): number | null {
    if (this.committed >= this.end) return this.queue[0]?.appendedAt ?? null;
    return this.reader.appendedAtOf(this.committed);
  }

  // ---- append --------------------------------------------------------------------------------------------

  /**
   * Append one record; resolves when it is on disk (fsync'd), with the log offset just past it (for `stored`).
   * `draft` is what consumers are handed.
   */
  append(payload: Buffer | string, draft?: EntryDraft): Promise<number> {
    if (this.failedWith) return Promise.reject(this.failedWith);
    if (this.closed) return Promise.reject(new Error('spool is closed'));
    const appendedAt = Date.now();
    const frame = encodeFrame(payload, appendedAt);
    this.queuedBytes += frame.length;
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ frame, draft, appendedAt, resolve, reject });
      if (!this.flushing && !this.noSpace) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0 && !this.failedWith && !this.noSpace) {
        // after running out of space, one record at a time: what still fits is written and acknowledged
        const batch = this.spaceShort ? this.queue.splice(0, 1) : this.queue;
        if (!this.spaceShort) this.queue = [];
        const frames = batch.map((p) => p.frame);
        const size = frames.reduce((n, f) => n + f.length, 0);
        const seg = this.segments[this.segments.length - 1]!;
        let problem: NodeJS.ErrnoException | undefined;
        try {
          const written = await this.io.writev(this.active, frames, seg.size);
          if (written !== size) problem = Object.assign(new Error(`short write: ${written} of ${size} bytes`), { code: 'ENOSPC' });
        } catch (err) {
          problem = err as NodeJS.ErrnoException;
        }
        if (problem) {
          // Nothing of this batch is acknowledged. Cut the file back to its verified end before anything else.
          try {
            await this.io.truncate(this.active, seg.size);
            await this.io.datasync(this.active);
          } catch (err) {
            this.failStop(batch, 'spool: a failed write could not be cut back', err);
            return;
          }
          if (NO_SPACE.has(problem.code ?? '')) {
            this.queue = batch.concat(this.queue);
            this.spaceShort = true;
            this.enterNoSpace(problem);
            return;
          }
          this.log.error({ err: problem }, 'spool: write failed; the publishes concerned are not acknowledged');
          this.queuedBytes -= size;
          for (const p of batch) p.reject(problem);
          continue;
        }
        try {
          await this.io.datasync(this.active);
        } catch (err) {
          this.failStop(batch, 'spool: fsync failed; the state of the written data is unknown', err);
          return;
        }
        const start = this.end;
        seg.size += size;
        this.end += size;
        this.queuedBytes -= size;
        let offset = start;
        const entries: Array<{ start: number; entry: LogEntry }> = [];
        for (const p of batch) {
          const at = offset;
          offset += p.frame.length;
          entries.push({ start: at, entry: { end: offset, appendedAt: p.appendedAt, readings: p.draft?.readings ?? [], rejections: p.draft?.rejections ?? [], derivedLines: p.draft?.derivedLines ?? 0 } });
        }
        this.reader.setBounds(this.segments, this.end);
        // acknowledge first; consumers run after the acknowledgements have been sent (ConsumerRunner defers)
        // back to whole batches once the queue is written or the disk has room for all of it again
        if (this.spaceShort && (this.queue.length === 0 || this.freeBytes - this.queuedBytes > Math.max(this.reserveBytes, 1 << 20))) this.spaceShort = false;
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(entries[i]!.entry.end);
        this.consumers.appended(entries);
        this.emit('data');
        if (seg.size >= this.segmentBytes) await this.roll();
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Roll over outside a flush: holds the append path (`flushing`) meanwhile, then lets it go on. */
  private async rollIdle(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      await this.roll();
    } finally {
      this.flushing = false;
    }
    if (this.queue.length > 0 && !this.noSpace && !this.failedWith && !this.closed) void this.flush();
  }

  private enterNoSpace(err: NodeJS.ErrnoException): void {
    if (!this.noSpace) {
      this.log.error({ code: err.code, message: err.message, queued: this.queue.length }, 'spool: disk full; publishes wait unacknowledged until space comes back');
      this.noSpace = true;
      this.emit('disk-full', true);
    }
    this.checkLag();
    this.retryTimer ??= setTimeout(() => void this.retryAfterNoSpace(), this.retryMs);
  }

  private async retryAfterNoSpace(): Promise<void> {
    this.retryTimer = undefined;
    if (this.closed || this.failedWith) return;
    await this.gc();
    this.noSpace = false;
    if (this.queue.length > 0 && !this.flushing) await this.flush();
    if (!this.noSpace && !this.failedWith) this.leftNoSpace();
  }

  private leftNoSpace(): void {
    this.log.info('spool: space available again; appending resumed');
    this.emit('disk-full', false);
    this.wakeWaiters();
  }

  private failStop(batch: Pending[], message: string, err: unknown): void {
    const error = new SpoolFailedError(`${message}: ${(err as Error).message}`, err);
    this.failedWith = error;
    this.log.fatal({ err }, `${message}; the spool stops (fail-stop): nothing more is acknowledged`);
    const all = batch.concat(this.queue);
    this.queue = [];
    this.queuedBytes = 0;
    for (const p of all) p.reject(error);
    this.failStored(error);
    this.wakeWaiters();
    this.emit('fatal', error);
  }

  private async roll(): Promise<void> {
    const base = this.end;
    try {
      const next = await open(segmentPath(this.dir, base), 'w+');
      await this.active.close();
      this.active = next;
      this.segments.push({ base, path: segmentPath(this.dir, base), size: 0 });
      fsyncDir(this.dir);
      this.reader.setBounds(this.segments, this.end);
    } catch (err) {
      // keep appending to the current segment; a later flush tries again
      this.log.error({ err }, 'spool: could not start a new segment file');
    }
  }

  // ---- the in-process writer's view (tests; the writer thread reads the files itself) ------------------

  /** Next records after the in-process reader's position, up to about `maxBytes`, or null when caught up. */
  read(maxBytes: number): LogBatch | null {
    return this.reader.read(maxBytes);
  }

  /** Everything before `end` is in InfluxDB. */
  commit(end: number): void {
    this.advance(WRITER, end);
  }

  // ---- consumers -----------------------------------------------------------------------------------------

  /** Register a consumer; durable consumers start from their checkpoint (or the oldest record still on disk). */
  addConsumer(consumer: LogConsumer): void {
    const saved = consumer.durable ? this.checkpoints.persisted[consumer.name] : undefined;
    const from = consumer.durable ? Math.max(this.startOffset, Math.min(saved ?? this.startOffset, this.end)) : this.end;
    if (saved !== undefined && saved < this.startOffset) {
      // its segments were deleted while it was detached (or not registered): say what it will never see
      this.log.error({ consumer: consumer.name, checkpoint: saved, resumesAt: from, missedBytes: from - saved }, 'log consumer: its checkpoint is older than the oldest record on disk; it resumes from there and never sees what lies between');
    }
    if (consumer.durable) this.cursors.set(consumer.name, from);
    this.consumers.add(consumer, from);
  }

  /** Every durable consumer is registered: run the consumers and let consumed segments go (see `deferConsumers`). */
  startConsumers(): void {
    if (this.consumersStarted) return;
    this.consumersStarted = true;
    this.consumers.start();
    void this.gc();
  }

  /** Names of the durable consumers detached for lagging. */
  get detached(): string[] {
    return [...this.detachedSince.keys()];
  }

  /**
   * Detach durable consumers (never the writer) that lag more than the limit, or — while the disk is full — the
   * one holding back the oldest segment the writer no longer needs: its segments are then freed.
   */
  private checkLag(): void {
    if (!this.consumersStarted || this.closed) return;
    const writerAt = this.cursors.get(WRITER) ?? this.startOffset;
    // only a consumer in an older segment than the writer's holds space the writer does not need
    let writerSegment = this.startOffset;
    for (const seg of this.segments) if (seg.base <= writerAt) writerSegment = seg.base;
    let slowest: { name: string; at: number } | undefined;
    let changed = false;
    for (const [name, at] of this.cursors) {
      if (name === WRITER || this.detachedSince.has(name)) continue;
      if (this.end - at > this.maxLag) {
        this.detach(name, at, `more than ${this.maxLag} bytes behind the end of the log (PANTAU_CONSUMER_MAX_LAG)`);
        changed = true;
      } else if (at < writerSegment && (!slowest || at < slowest.at)) slowest = { name, at };
    }
    if (this.diskFull && slowest) {
      this.detach(slowest.name, slowest.at, 'holding back log segments while the disk is full');
      changed = true;
    }
    if (changed) void this.gc();
  }

  private detach(name: string, at: number, reason: string): void {
    this.detachedSince.set(name, Date.now());
    this.log.error(
      { consumer: name, position: at, lagBytes: this.end - at, reason },
      `log consumer "${name}" DETACHED: ${reason}; ingest goes on without it and its segments are no longer kept. It resumes from the oldest record on disk once it finishes a batch again; what lies between is never handed to it`,
    );
    this.emit('consumer-detached', name, true);
  }

  /**
   * The runner asks, after a detached consumer finished a batch: where it resumes (attached again), or undefined
   * when it is not detached. The oldest record on disk, unless that is beyond the lag limit: then the writer's
   * position, or the end of the log.
   */
  reattach(name: string, at: number): number | undefined {
    const since = this.detachedSince.get(name);
    if (since === undefined) return undefined;
    this.detachedSince.delete(name);
    const writerAt = this.cursors.get(WRITER) ?? this.startOffset;
    const candidates = [Math.max(at, this.startOffset), writerAt, this.end];
    const from = candidates.find((c) => this.end - c <= this.maxLag && c >= at) ?? this.end;
    this.cursors.set(name, from);
    this.log.error(
      { consumer: name, detachedForSeconds: Math.round((Date.now() - since) / 1000), position: at, resumesAt: from, missedBytes: from - at },
      from > at
        ? `log consumer "${name}" attached again; the ${from - at} bytes of log between its position and the oldest record kept for it were never handed to it`
        : `log consumer "${name}" attached again; nothing was missed`,
    );
    this.emit('consumer-detached', name, false);
    this.checkpointTimer ??= setTimeout(() => {
      this.checkpointTimer = undefined;
      void this.saveCheckpoints();
    }, 200);
    return from;
  }

  /** A durable cursor moved (the writer's commit, or a consumer's handled entries). */
  advance(name: string, end: number): void {
    const prev = this.cursors.get(name);
    if (prev !== undefined && end <= prev) return;
    this.cursors.set(name, end);
    this.checkpointTimer ??= setTimeout(() => {
      this.checkpointTimer = undefined;
      void this.saveCheckpoints();
    }, 200);
    if (name === WRITER) {
      this.wakeWaiters();
      this.wakeStored();
    }
  }

  /**
   * Resolves once the InfluxDB writer has committed everything before `end` (an offset `append` resolved with):
   * PANTAU_ACK_AFTER=store acknowledges only then. Rejects if the spool stops or closes first.
   */
  stored(end: number): Promise<void> {
    if (this.committed >= end) return Promise.resolve();
    if (this.failedWith) return Promise.reject(this.failedWith);
    if (this.closed) return Promise.reject(new Error('spool is closed'));
    return new Promise((resolve, reject) => this.storeWaiters.push({ end, resolve, reject }));
  }

  private wakeStored(): void {
    if (this.storeWaiters.length === 0) return;
    const committed = this.committed;
    const still: typeof this.storeWaiters = [];
    for (const w of this.storeWaiters) {
      if (committed >= w.end) w.resolve();
      else still.push(w);
    }
    this.storeWaiters = still;
  }

  private failStored(err: Error): void {
    const waiters = this.storeWaiters;
    this.storeWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  private async saveCheckpoints(): Promise<void> {
    // checkpoints of consumers not registered in this run are kept (they do not hold segments back, though)
    const ok = await this.checkpoints.save({ ...this.checkpoints.persisted, ...Object.fromEntries(this.cursors) });
    if (!ok) this.log.warn('spool: consumer checkpoints not saved (retried with the next commit)');
    else {
      if (this.legacyCheckpoint) {
        rmSync(this.legacyCheckpoint, { force: true });
        this.legacyCheckpoint = undefined;
      }
      await this.gc();
    }
  }

  /** The lowest persisted position of every durable cursor: nothing before it is needed any more. */
  private floor(): number {
    let floor = this.end;
    for (const name of this.cursors.keys()) {
      if (this.detachedSince.has(name)) continue;
      floor = Math.min(floor, this.checkpoints.persisted[name] ?? this.startOffset);
    }
    return floor;
  }

  /** Delete segments every durable cursor has passed; roll the active segment over once it is wholly consumed. */
  private async gc(): Promise<void> {
    if (this.closed || !this.consumersStarted) return;
    const removeConsumed = () => {
      const floor = this.floor();
      let removed = false;
      while (this.segments.length > 1 && this.segments[1]!.base <= floor) {
        const old = this.segments.shift()!;
        rmSync(old.path, { force: true });
        removed = true;
      }
      return { floor, removed };
    };
    const { floor } = removeConsumed();
    const last = this.segments[this.segments.length - 1]!;
    if (this.segments.length === 1 && floor >= this.end && last.size > 0 && !this.flushing && (this.diskFull || last.size >= 1 << 20)) {
      // everything on disk is consumed: continue in a new, empty segment so the old one's space can be freed
      await this.rollIdle();
      removeConsumed();
    }
    this.reader.setBounds(this.segments, this.end);
    this.consumers.boundsChanged();
    this.emit('bounds');
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    if (this.roomWaiters.length === 0 || (!this.hasRoom && !this.failedWith && !this.closed)) return;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Keeps the free-space figure current (the reserve check). */
  private async checkSpace(): Promise<void> {
    try {
      const s = await statfs(this.dir);
      const before = this.diskFull;
      this.freeBytes = s.bavail * s.bsize;
      if (before && !this.diskFull) this.wakeWaiters();
    } catch {
      // keep the last figure
    }
  }

  // ---- lifecycle -----------------------------------------------------------------------------------------

  /** Resolves once every queued append has been written or refused (at once while the disk is full). */
  async settled(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.flushing || (this.queue.length > 0 && !this.noSpace)) && !this.failedWith && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  /** Let consumers finish (up to `timeoutMs`), save checkpoints, close files. Call after the writer stopped. */
  async close(timeoutMs = 5000): Promise<void> {
    await this.settled(timeoutMs);
    this.closed = true;
    for (const p of this.queue) p.reject(new Error('spool is closed'));
    this.queue = [];
    this.failStored(new Error('spool is closed'));
    await this.consumers.drain(timeoutMs);
    for (const t of [this.retryTimer, this.statTimer, this.checkpointTimer]) if (t) clearTimeout(t);
    if (this.statTimer) clearInterval(this.statTimer);
    this.checkpointTimer = undefined;
    await this.saveCheckpoints();
    await this.checkpoints.close();
    await this.active.close().catch(() => undefined);
    this.reader.close();
    this.consumers.close();
    this.wakeWaiters();
  }

  private async recover(): Promise<void> {
    const names = readdirSync(this.dir).filter((n) => SEGMENT_NAME.test(n)).sort();
    this.segments = names.map((name) => {
      const path = join(this.dir, name);
      return { base: Number(name.slice(0, NAME_DIGITS)), path, size: statSync(path).size };
    });
    const legacyPath = join(this.dir, 'checkpoint.json');
    const legacy = readLegacyCheckpoint(legacyPath);
    if (legacy !== undefined) this.legacyCheckpoint = legacyPath;
    this.checkpoints = await CheckpointFile.open(join(this.dir, 'checkpoints'), legacy !== undefined ? { [WRITER]: legacy } : {});
    const persisted: CheckpointValues = this.checkpoints.persisted;
    if (this.segments.length === 0) {
      const base = Math.max(0, ...Object.values(persisted));
      this.segments.push({ base, path: segmentPath(this.dir, base), size: 0 });
      writeFileSync(this.segments[0]!.path, '');
      fsyncDir(this.dir);
    }
    // A torn or corrupt tail in the last segment (power loss mid-append, or a fail-stop before the cut-back) is
    // cut off; nothing there was acknowledged. Earlier records stay.
    const last = this.segments[this.segments.length - 1]!;
    const validEnd = scanValidLength(last.path, last.size);
    if (validEnd < last.size) {
      this.log.error(
        { segment: last.path, validBytes: validEnd, droppedBytes: last.size - validEnd },
        'spool: torn or unfinished record at the end of the log (unacknowledged); cut off, earlier records kept',
      );
      const fd = openSync(last.path, 'r+');
      ftruncateSync(fd, validEnd);
      fsyncSync(fd);
      closeSync(fd);
      last.size = validEnd;
      this.corruptSkips++;
    }
    this.end = last.base + last.size;
    // the writer's cursor: never before the first segment, never past the end
    const writerAt = Math.max(this.segments[0]!.base, Math.min(persisted[WRITER] ?? this.segments[0]!.base, this.end));
    this.cursors.set(WRITER, writerAt);
    this.reader = new SegmentReader(this.dir, writerAt, (info) => {
      this.corruptSkips++;
      this.log.error(info, 'spool: corrupt record in the middle of the log; the rest of this segment is skipped');
    });
    this.reader.setBounds(this.segments, this.end);
    this.active = await open(last.path, 'r+');
    this.statTimer = setInterval(() => void this.checkSpace().then(() => this.checkLag()), 250);
    this.statTimer.unref();
    await this.checkSpace();
    const pending = this.end - writerAt;
    if (pending > 0) this.log.info({ pendingBytes: pending, segments: this.segments.length }, 'spool: replaying readings not yet in InfluxDB');
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    fsyncSync(fd);
    closeSync(fd);
  } catch {
    // not supported everywhere; the segment's own fsync still holds its data
  }
}
