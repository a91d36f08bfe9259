// The spool's append path: group commit, and what happens when writing fails. An append resolves only once its
// record is fsync'd (acknowledgement means durable). Appends made while a write+fsync is in flight share the next
// one, so throughput grows with concurrency instead of being bounded by fsync latency.
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
//   to restart it. Recovery on the next start cuts off anything after the last whole record (spool-segments.ts).
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import { encodeFrame } from './log-format.js';
import type { LogEntry } from './log-types.js';
import type { SegmentFiles } from './spool-segments.js';
import type { DiskSpace } from './spool-space.js';

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

/** What a record holds, known at append time; the spool adds `end` and `appendedAt`. */
export type EntryDraft = Omit<LogEntry, 'end' | 'appendedAt'>;

export class SpoolFailedError extends Error {
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = 'SpoolFailedError';
  }
}

/** What the append path tells the spool, and asks of it. */
export interface AppendHooks {
  /** Records are durable and their appends resolved: hand them on. */
  written(entries: Array<{ start: number; entry: LogEntry }>): void;
  /** The active segment has reached its size: continue in a new one. */
  roll(): Promise<void>;
  /** A write ran out of space; `entered`: the first since appends last succeeded. */
  outOfSpace(entered: boolean): void;
  /** Appends succeed again after running out of space. */
  spaceAgain(): void;
  /** Free what consumed segments hold, before a retry after running out of space. */
  freeSpace(): Promise<void>;
  /** Stopped for good: nothing more is acknowledged. */
  failed(error: SpoolFailedError): void;
}

interface Pending {
  frame: Buffer;
  draft: EntryDraft | undefined;
  appendedAt: number;
  resolve: (end: number) => void;
  reject: (err: Error) => void;
}

const NO_SPACE = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

export class Appender {
  private queue: Pending[] = [];
  private queued = 0;
  private writing = false;
  private closed = false;
  private failedWith: Error | undefined;
  private noSpace = false;
  /** Since the last out-of-space write, until one succeeds with the queue written down to nothing. */
  private spaceShort = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly files: SegmentFiles,
    private readonly space: DiskSpace,
    private readonly io: SpoolIo,
    private readonly log: Logger,
    private readonly retryMs: number,
    private readonly hooks: AppendHooks,
  ) {}

  /** Bytes of appends waiting to be written. */
  get queuedBytes(): number {
    return this.queued;
  }

  /** Append time of the oldest append waiting to be written, or null. */
  get oldestQueuedAt(): number | null {
    return this.queue[0]?.appendedAt ?? null;
  }

  /** A write (or a roll-over) is in progress. */
  get busy(): boolean {
    return this.writing;
  }

  /** The last write ran out of space; appends wait for a retry. */
  get outOfSpace(): boolean {
    return this.noSpace;
  }

  /** Stopped after an I/O error it cannot recover from. */
  get failed(): Error | undefined {
    return this.failedWith;
  }

  /** Resolves with the log offset just past the record once it is fsync'd. */
  append(payload: Buffer | string, draft?: EntryDraft): Promise<number> {
    if (this.failedWith) return Promise.reject(this.failedWith);
    if (this.closed) return Promise.reject(new Error('spool is closed'));
    const appendedAt = Date.now();
    const frame = encodeFrame(payload, appendedAt);
    this.queued += frame.length;
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ frame, draft, appendedAt, resolve, reject });
      if (!this.writing && !this.noSpace) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0 && !this.failedWith && !this.noSpace) {
        // after running out of space, one record at a time: what still fits is written and acknowledged
        const batch = this.spaceShort ? this.queue.splice(0, 1) : this.queue;
        if (!this.spaceShort) this.queue = [];
        const frames = batch.map((p) => p.frame);
        const size = frames.reduce((n, f) => n + f.length, 0);
        const seg = this.files.last;
        let problem: NodeJS.ErrnoException | undefined;
        try {
          const written = await this.io.writev(this.files.active, frames, seg.size);
          if (written !== size) problem = Object.assign(new Error(`short write: ${written} of ${size} bytes`), { code: 'ENOSPC' });
        } catch (err) {
          problem = err as NodeJS.ErrnoException;
        }
        if (problem) {
          // Nothing of this batch is acknowledged. Cut the file back to its verified end before anything else.
          try {
            await this.io.truncate(this.files.active, seg.size);
            await this.io.datasync(this.files.active);
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
          this.queued -= size;
          for (const p of batch) p.reject(problem);
          continue;
        }
        try {
          await this.io.datasync(this.files.active);
        } catch (err) {
          this.failStop(batch, 'spool: fsync failed; the state of the written data is unknown', err);
          return;
        }
        const start = this.files.end;
        this.files.grew(seg, size);
        this.queued -= size;
        let offset = start;
        const entries: Array<{ start: number; entry: LogEntry }> = [];
        for (const p of batch) {
          const at = offset;
          offset += p.frame.length;
          entries.push({ start: at, entry: { end: offset, appendedAt: p.appendedAt, readings: p.draft?.readings ?? [], rejections: p.draft?.rejections ?? [], derivedLines: p.draft?.derivedLines ?? 0 } });
        }
        // back to whole batches once the queue is written or the disk has room for all of it again
        if (this.spaceShort && (this.queue.length === 0 || this.space.roomFor(this.queued))) this.spaceShort = false;
        // acknowledge first; consumers run after the acknowledgements have been sent (ConsumerRunner defers)
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(entries[i]!.entry.end);
        this.hooks.written(entries);
        if (seg.size >= this.space.segmentBytes) await this.hooks.roll();
      }
    } finally {
      this.writing = false;
    }
  }

  /** Roll over outside a flush: holds the append path meanwhile, then lets it go on. */
  async rollIdle(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      await this.hooks.roll();
    } finally {
      this.writing = false;
    }
    if (this.queue.length > 0 && !this.noSpace && !this.failedWith && !this.closed) void this.flush();
  }

  private enterNoSpace(err: NodeJS.ErrnoException): void {
    const entered = !this.noSpace;
    if (entered) {
      this.log.error({ code: err.code, message: err.message, queued: this.queue.length }, 'spool: disk full; publishes wait unacknowledged until space comes back');
      this.noSpace = true;
    }
    this.hooks.outOfSpace(entered);
    this.retryTimer ??= setTimeout(() => void this.retryAfterNoSpace(), this.retryMs);
  }

  private async retryAfterNoSpace(): Promise<void> {
    this.retryTimer = undefined;
    if (this.closed || this.failedWith) return;
    await this.hooks.freeSpace();
    this.noSpace = false;
    if (this.queue.length > 0 && !this.writing) await this.flush();
    if (!this.noSpace && !this.failedWith) {
      this.log.info('spool: space available again; appending resumed');
      this.hooks.spaceAgain();
    }
  }

  private failStop(batch: Pending[], message: string, err: unknown): void {
    const error = new SpoolFailedError(`${message}: ${(err as Error).message}`, err);
    this.failedWith = error;
    this.log.fatal({ err }, `${message}; the spool stops (fail-stop): nothing more is acknowledged`);
    const all = batch.concat(this.queue);
    this.queue = [];
    this.queued = 0;
    for (const p of all) p.reject(error);
    this.hooks.failed(error);
  }

  /** Resolves once every queued append has been written or refused (at once while the disk is full). */
  async settled(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.writing || (this.queue.length > 0 && !this.noSpace)) && !this.failedWith && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  /** Refuse what still waits and every later append. */
  close(): void {
    this.closed = true;
    for (const p of this.queue) p.reject(new Error('spool is closed'));
    this.queue = [];
    if (this.retryTimer) clearTimeout(this.retryTimer);
  }
}
