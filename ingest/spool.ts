// The spool: Pantau's ingest log. An accepted message is appended here, fsync'd, and only then acknowledged to
// the device (SPEC: acknowledgement means durable). Everything after durability reads the log with its own cursor:
// the InfluxDB writer (in a worker thread, see writer-thread.ts), the latest cache, the live stream, the alert
// engine, rollups. A slow or failing consumer never slows acknowledgement; a durable consumer resumes from its
// own checkpoint after a restart.
//
// This file is the log's face and ties its parts together: the state others read, the waits of the
// acknowledgement path (room in the spool, `stored`), registering consumers, deleting consumed segments, opening
// and closing. The parts:
//   log-format.ts       layout and record format, reading records back
//   spool-segments.ts   the segment files: recovery on open, rolling over, deleting
//   spool-append.ts     the append path: group commit, the failure model (fail-stop, disk full)
//   spool-space.ts      the disk budget: segment size, the reserve left to others, free space
//   spool-cursors.ts    the durable cursors: checkpoints, the deletion floor, detaching consumers that lag
//   consumers.ts        running the in-process consumers
//
// Segments are kept for the InfluxDB writer — durability itself, whose backlog is bounded by `maxBytes` (then
// acknowledgements wait) — and for the durable consumers that are attached. Durable consumers are registered
// before any is run or any segment deleted (`deferConsumers`, `startConsumers`): a consumer registered later
// would find the segments it had not read already gone.
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { ConsumerRunner } from './consumers.js';
import { SegmentReader, type LogBatch, type SegmentBounds } from './log-format.js';
import type { LogConsumer } from './log-types.js';
import { Appender, realIo, type EntryDraft, type SpoolIo } from './spool-append.js';
import { Cursors, openCheckpoints, WRITER, type SavedCheckpoints } from './spool-cursors.js';
import { SegmentFiles } from './spool-segments.js';
import { DiskSpace } from './spool-space.js';

export type { LogBatch as SpoolBatch } from './log-format.js';

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

export class Spool extends EventEmitter {
  readonly dir: string;
  readonly consumers: ConsumerRunner;
  /** Corrupt regions skipped or cut, for the operator. */
  corruptSkips = 0;
  private readonly maxBytes: number;
  private readonly log: Logger;
  private readonly files: SegmentFiles;
  private readonly space: DiskSpace;
  private readonly cursors: Cursors;
  private readonly appender: Appender;
  /** The in-process writer's reader (tests and the fallback writer); the writer thread has its own. */
  private readonly reader: SegmentReader;
  private closed = false;
  private consumersStarted: boolean;
  private statTimer: NodeJS.Timeout | undefined;
  private roomWaiters: Array<() => void> = [];
  /** `stored()` callers: each waits for every attached durable cursor to pass its record's end. */
  private storeWaiters: Array<{ end: number; resolve: () => void; reject: (err: Error) => void }> = [];

  private constructor(options: SpoolOptions, files: SegmentFiles, checkpoints: SavedCheckpoints) {
    super();
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.log = options.log;
    this.consumersStarted = !options.deferConsumers;
    this.files = files;
    this.space = new DiskSpace(this.dir, options);
    this.cursors = new Cursors(this, checkpoints, options.maxConsumerLagBytes ?? Number.POSITIVE_INFINITY, this.log, {
      detached: (name, detached) => this.emit('consumer-detached', name, detached),
      saved: () => this.gc(),
      writerMoved: () => this.wakeWaiters(),
      moved: () => this.wakeStored(),
    });
    this.appender = new Appender(files, this.space, options.io ?? realIo, this.log, options.diskFullRetryMs ?? 1000, {
      written: (entries) => {
        this.reader.setBounds(this.files.list, this.files.end);
        this.consumers.appended(entries);
        this.emit('data');
      },
      roll: () => this.roll(),
      outOfSpace: (entered) => {
        if (entered) this.emit('disk-full', true);
        this.checkLag();
      },
      spaceAgain: () => {
        this.emit('disk-full', false);
        this.wakeWaiters();
      },
      freeSpace: () => this.gc(),
      failed: (error) => {
        this.failStored(error);
        this.wakeWaiters();
        this.emit('fatal', error);
      },
    });
    this.consumers = new ConsumerRunner(this, this.log, !this.consumersStarted);
    this.reader = new SegmentReader(this.dir, this.cursors.startWriter(), (info) => {
      this.corruptSkips++;
      this.log.error(info, 'spool: corrupt record in the middle of the log; the rest of this segment is skipped');
    });
    this.reader.setBounds(this.files.list, this.files.end);
  }

  static async open(options: SpoolOptions): Promise<Spool> {
    mkdirSync(options.dir, { recursive: true });
    const checkpoints = await openCheckpoints(options.dir);
    // an empty log starts past every checkpoint
    const { files, cut } = await SegmentFiles.open(options.dir, Math.max(0, ...Object.values(checkpoints.file.persisted)), options.log);
    const spool = new Spool(options, files, checkpoints);
    if (cut) spool.corruptSkips++;
    spool.statTimer = setInterval(() => void spool.checkSpace().then(() => spool.checkLag()), 250);
    spool.statTimer.unref();
    await spool.checkSpace();
    const pending = spool.durableEnd - spool.committed;
    if (pending > 0) options.log.info({ pendingBytes: pending, segments: files.list.length }, 'spool: replaying readings not yet in InfluxDB');
    return spool;
  }

  // ---- state --------------------------------------------------------------------------------------------

  /** Offset up to which the log is durable. */
  get durableEnd(): number {
    return this.files.end;
  }

  /** Offset of the oldest byte still on disk. */
  get startOffset(): number {
    return this.files.start;
  }

  /** Where the InfluxDB writer has got to. */
  get committed(): number {
    return this.cursors.writer;
  }

  /** Bytes appended (or waiting to be) but not yet committed as written to InfluxDB. */
  get pendingBytes(): number {
    return this.files.end + this.appender.queuedBytes - this.committed;
  }

  /** Durable bytes the in-process reader has not taken yet. */
  get unreadBytes(): number {
    return this.reader.unread;
  }

  /** Out of disk space (a failed append, or free space below the reserve). */
  get diskFull(): boolean {
    return this.appender.outOfSpace || this.space.short;
  }

  /** Stopped after an I/O error it cannot recover from. */
  get failed(): Error | undefined {
    return this.appender.failed;
  }

  get hasRoom(): boolean {
    return !this.failed && !this.diskFull && this.pendingBytes < this.maxBytes;
  }

  /** Resolves once the spool has room (or is closed or failed). */
  waitForRoom(): Promise<void> {
    if (this.hasRoom || this.closed || this.failed) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  bounds(): { segments: SegmentBounds[]; durableEnd: number } {
    return { segments: this.files.bounds(), durableEnd: this.files.end };
  }

  stats(): { bytes: number; committed: number; durableEnd: number; segments: number; diskFull: boolean; failed: boolean } {
    return { bytes: this.pendingBytes, committed: this.committed, durableEnd: this.files.end, segments: this.files.list.length, diskFull: this.diskFull, failed: !!this.failed };
  }

  /** Append time of the oldest record not yet written to InfluxDB, or null when all is written. */
  oldestPendingAt(): number | null {
    if (this.committed >= this.files.end) return this.appender.oldestQueuedAt;
    return this.reader.appendedAtOf(this.committed);
  }

  // ---- append --------------------------------------------------------------------------------------------

  /**
   * Append one record; resolves when it is on disk (fsync'd), with the log offset just past it (for `stored`).
   * `draft` is what consumers are handed.
   */
  append(payload: Buffer | string, draft?: EntryDraft): Promise<number> {
    return this.appender.append(payload, draft);
  }

  private async roll(): Promise<void> {
    if (await this.files.roll()) this.reader.setBounds(this.files.list, this.files.end);
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
    this.consumers.add(consumer, this.cursors.register(consumer));
  }

  /** Every durable consumer is registered: run the consumers and let consumed segments go (see `deferConsumers`). */
  startConsumers(): void {
    if (this.consumersStarted) return;
    this.consumersStarted = true;
    this.consumers.start();
    void this.gc();
  }

  /** Names of the durable consumers detached for lagging (spool-cursors.ts). */
  get detached(): string[] {
    return this.cursors.detached;
  }

  private checkLag(): void {
    if (!this.consumersStarted || this.closed) return;
    if (this.cursors.checkLag()) void this.gc();
  }

  /** The runner asks, after a detached consumer finished a batch: where it resumes, or undefined. */
  reattach(name: string, at: number): number | undefined {
    return this.cursors.reattach(name, at);
  }

  /** A durable cursor moved (the writer's commit, or a consumer's handled entries). */
  advance(name: string, end: number): void {
    this.cursors.advance(name, end);
  }

  /**
   * Resolves once every attached durable cursor has passed `end` (an offset `append` resolved with): the InfluxDB
   * writer has committed everything before it and each durable consumer not detached for lagging (the cluster's
   * alert feed, the alert engine; not the node-local rollups) has handled it. PANTAU_ACK_AFTER=store acknowledges only then: a node
   * whose data dir is lost holds nothing acknowledged that the alert owner has not got. A consumer detached while
   * acknowledgements wait on it releases them. Rejects if the spool stops or closes first.
   */
  stored(end: number): Promise<void> {
    if (this.cursors.attachedFloor() >= end) return Promise.resolve();
    if (this.failed) return Promise.reject(this.failed);
    if (this.closed) return Promise.reject(new Error('spool is closed'));
    return new Promise((resolve, reject) => this.storeWaiters.push({ end, resolve, reject }));
  }

  private wakeStored(): void {
    if (this.storeWaiters.length === 0) return;
    const floor = this.cursors.attachedFloor();
    const still: typeof this.storeWaiters = [];
    for (const w of this.storeWaiters) {
      if (floor >= w.end) w.resolve();
      else still.push(w);
    }
    this.storeWaiters = still;
  }

  private failStored(err: Error): void {
    const waiters = this.storeWaiters;
    this.storeWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  // ---- space ---------------------------------------------------------------------------------------------

  /** Delete segments every durable cursor has passed; roll the active segment over once it is wholly consumed. */
  private async gc(): Promise<void> {
    if (this.closed || !this.consumersStarted) return;
    const removeConsumed = () => {
      const floor = this.cursors.floor();
      this.files.removeBefore(floor);
      return floor;
    };
    const floor = removeConsumed();
    const last = this.files.last;
    if (this.files.list.length === 1 && floor >= this.files.end && last.size > 0 && !this.appender.busy && (this.diskFull || last.size >= 1 << 20)) {
      // everything on disk is consumed: continue in a new, empty segment so the old one's space can be freed
      await this.appender.rollIdle();
      removeConsumed();
    }
    this.reader.setBounds(this.files.list, this.files.end);
    this.consumers.boundsChanged();
    this.emit('bounds');
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    if (this.roomWaiters.length === 0 || (!this.hasRoom && !this.failed && !this.closed)) return;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Keeps the free-space figure current (the reserve check). */
  private async checkSpace(): Promise<void> {
    if (await this.space.measure()) this.wakeWaiters();
  }

  // ---- lifecycle -----------------------------------------------------------------------------------------

  /** Resolves once every queued append has been written or refused (at once while the disk is full). */
  async settled(timeoutMs = 30_000): Promise<void> {
    await this.appender.settled(timeoutMs);
  }

  /** Let consumers finish (up to `timeoutMs`), save checkpoints, close files. Call after the writer stopped. */
  async close(timeoutMs = 5000): Promise<void> {
    await this.settled(timeoutMs);
    this.closed = true;
    this.appender.close();
    this.failStored(new Error('spool is closed'));
    await this.consumers.drain(timeoutMs);
    if (this.statTimer) clearInterval(this.statTimer);
    await this.cursors.close();
    await this.files.close();
    this.reader.close();
    this.consumers.close();
    this.wakeWaiters();
  }
}
