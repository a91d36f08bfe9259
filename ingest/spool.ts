// The spool: an append-only log on disk between "accepted from a device" and "written to InfluxDB".
//
// Why it exists: an MQTT acknowledgement promises the device that its readings are safe (SPEC §3). A reading is
// acknowledged only once it is in this log and fsync'd; the InfluxDB writer drains the log in order and
// commits what InfluxDB accepted. InfluxDB can be down for hours and Pantau can be killed at any instant
// without losing an acknowledged reading.
//
// Layout: segment files named by the logical offset of their first byte (Kafka-style), so a position in the
// spool is one number. Each record: u32 length, u32 CRC-32 (of the rest), f64 append time (ms), payload.
// A torn or corrupt record (power loss mid-write) is detected by length + checksum: at the tail of the last
// segment it is cut off at start-up; elsewhere the rest of that segment is skipped and logged.
// `checkpoint.json` holds the committed offset; it is written lazily because replaying an already-written
// batch is harmless (InfluxDB point identity is series + timestamp, and every point carries its timestamp).
//
// Group commit: appends made while a write+fsync is in flight share the next one, so throughput grows with
// concurrency instead of being bounded by fsync latency.

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, ftruncateSync, writeFileSync, readFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

const HEADER = 16; // u32 length, u32 crc, f64 appendedAt
const NAME_DIGITS = 20;
const MAX_RECORD = 64 * 1024 * 1024;

export interface SpoolOptions {
  dir: string;
  /** Bytes the un-drained spool may hold before QoS 1/2 acknowledgements wait and QoS 0 is dropped. */
  maxBytes: number;
  segmentBytes?: number;
  log: Logger;
}

export interface SpoolBatch {
  records: Buffer[];
  start: number;
  end: number;
  /** Append time of the batch's first record (ms). */
  firstAppendedAt: number;
}

interface Segment {
  base: number;
  path: string;
  size: number;
}

interface Pending {
  frame: Buffer;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class Spool extends EventEmitter {
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly segmentBytes: number;
  private readonly log: Logger;
  private segments: Segment[] = [];
  private active!: FileHandle;
  /** Logical offset up to which data is fsync'd and readable. */
  private durableEnd = 0;
  /** Logical offset of bytes handed to append (durable or not). */
  private appendedEnd = 0;
  private committed = 0;
  private readPos = 0;
  private queue: Pending[] = [];
  private flushing = false;
  private closed = false;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private roomWaiters: Array<() => void> = [];
  private readFds = new Map<number, number>();
  /** Corrupt regions skipped while reading, for the operator. */
  corruptSkips = 0;

  private constructor(options: SpoolOptions) {
    super();
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    this.log = options.log;
  }

  static async open(options: SpoolOptions): Promise<Spool> {
    const spool = new Spool(options);
    await spool.recover();
    return spool;
  }

  /** Bytes appended but not yet committed as written to InfluxDB. */
  get pendingBytes(): number {
    return this.appendedEnd - this.committed;
  }

  /** Durable bytes the reader has not taken yet. */
  get unreadBytes(): number {
    return this.durableEnd - this.readPos;
  }

  get hasRoom(): boolean {
    return this.pendingBytes < this.maxBytes;
  }

  /** Resolves once the spool is below its budget. */
  waitForRoom(): Promise<void> {
    if (this.hasRoom || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Append one record; resolves when it is on disk (fsync'd). */
  append(payload: Buffer | string): Promise<void> {
    if (this.closed) return Promise.reject(new Error('spool is closed'));
    const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const frame = Buffer.allocUnsafe(HEADER + body.length);
    frame.writeUInt32LE(body.length, 0);
    frame.writeDoubleLE(Date.now(), 8);
    body.copy(frame, HEADER);
    frame.writeUInt32LE(crc32(frame.subarray(8)), 4);
    this.appendedEnd += frame.length;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ frame, resolve, reject });
      if (!this.flushing) this.flush().catch((err) => this.log.error({ err }, 'spool flush failed'));
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        const frames = batch.map((p) => p.frame);
        const size = frames.reduce((n, f) => n + f.length, 0);
        try {
          await this.active.writev(frames);
          await this.active.datasync();
        } catch (err) {
          // The bytes may be partly on disk; a later start-up cuts a torn tail. Nothing here was acknowledged.
          this.log.error({ err }, 'spool write failed; the publishes concerned are not acknowledged');
          this.appendedEnd -= size;
          for (const p of batch) p.reject(err as Error);
          continue;
        }
        const seg = this.segments[this.segments.length - 1]!;
        seg.size += size;
        this.durableEnd += size;
        if (seg.size >= this.segmentBytes) {
          try {
            await this.roll();
          } catch (err) {
            // keep appending to the current segment; a later flush tries again
            this.log.error({ err }, 'spool: could not start a new segment file');
          }
        }
        for (const p of batch) p.resolve();
        this.emit('data');
      }
    } finally {
      this.flushing = false;
    }
  }

  private async roll(): Promise<void> {
    const base = this.durableEnd;
    const path = this.segmentPath(base);
    const next = await open(path, 'a');
    await this.active.close();
    this.active = next;
    this.segments.push({ base, path, size: 0 });
    fsyncDir(this.dir);
  }

  /**
   * Read the next records after the last read position, up to about `maxBytes`. Returns null when the reader
   * has caught up with durable data. Batches must be committed in the order they were read.
   */
  read(maxBytes: number): SpoolBatch | null {
    while (this.readPos < this.durableEnd) {
      const segIndex = this.segmentIndexFor(this.readPos);
      const seg = this.segments[segIndex]!;
      const segEnd = seg.base + seg.size;
      if (this.readPos >= segEnd) {
        // end of a closed segment: continue with the next one
        const next = this.segments[segIndex + 1];
        if (!next) return null;
        this.readPos = next.base;
        continue;
      }
      const fd = this.readFd(seg);
      const available = segEnd - this.readPos;
      let length = Math.min(available, Math.max(maxBytes, HEADER));
      let buf = Buffer.allocUnsafe(length);
      readSync(fd, buf, 0, length, this.readPos - seg.base);
      // a single record larger than maxBytes: read exactly that record
      if (length >= HEADER) {
        const first = buf.readUInt32LE(0) + HEADER;
        if (first > length && first <= available && first <= MAX_RECORD + HEADER) {
          length = first;
          buf = Buffer.allocUnsafe(length);
          readSync(fd, buf, 0, length, this.readPos - seg.base);
        }
      }
      const records: Buffer[] = [];
      let offset = 0;
      let firstAppendedAt = 0;
      let corrupt = false;
      while (offset + HEADER <= length) {
        const size = buf.readUInt32LE(offset);
        if (size > MAX_RECORD) {
          corrupt = true;
          break;
        }
        if (offset + HEADER + size > length) break;
        const crc = buf.readUInt32LE(offset + 4);
        if (crc32(buf.subarray(offset + 8, offset + HEADER + size)) !== crc) {
          corrupt = true;
          break;
        }
        if (records.length === 0) firstAppendedAt = buf.readDoubleLE(offset + 8);
        records.push(buf.subarray(offset + HEADER, offset + HEADER + size));
        offset += HEADER + size;
      }
      const start = this.readPos;
      if (corrupt && records.length === 0) {
        this.skipCorrupt(segIndex, this.readPos);
        continue;
      }
      if (records.length === 0) {
        // the remaining bytes of this segment do not hold a whole record
        this.skipCorrupt(segIndex, this.readPos);
        continue;
      }
      this.readPos += offset;
      return { records, start, end: this.readPos, firstAppendedAt };
    }
    return null;
  }

  /** Everything before `end` is in InfluxDB. */
  commit(end: number): void {
    if (end <= this.committed) return;
    this.committed = end;
    // drop segments wholly before the committed offset (never the active one)
    while (this.segments.length > 1 && this.segments[1]!.base <= this.committed) {
      const old = this.segments.shift()!;
      const fd = this.readFds.get(old.base);
      if (fd !== undefined) {
        closeSync(fd);
        this.readFds.delete(old.base);
      }
      rmSync(old.path, { force: true });
    }
    if (!this.checkpointTimer) {
      this.checkpointTimer = setTimeout(() => {
        this.checkpointTimer = undefined;
        this.saveCheckpoint();
      }, 200);
    }
    if (this.hasRoom && this.roomWaiters.length > 0) {
      const waiters = this.roomWaiters;
      this.roomWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Records appended but not committed, and the first one's age. */
  stats(): { bytes: number; committed: number; durableEnd: number; segments: number } {
    return { bytes: this.pendingBytes, committed: this.committed, durableEnd: this.durableEnd, segments: this.segments.length };
  }

  /** Append time of the oldest record not yet committed, or null when all is committed. */
  oldestPendingAt(): number | null {
    if (this.committed >= this.durableEnd) return null;
    const seg = this.segments[this.segmentIndexFor(this.committed)];
    if (!seg || this.committed >= seg.base + seg.size) return null;
    const head = Buffer.allocUnsafe(HEADER);
    try {
      readSync(this.readFd(seg), head, 0, HEADER, this.committed - seg.base);
      return head.readDoubleLE(8);
    } catch {
      return null;
    }
  }

  /** Wait for queued appends to reach disk, then close files. */
  async close(): Promise<void> {
    while (this.flushing || this.queue.length > 0) await new Promise((r) => setTimeout(r, 5));
    this.closed = true;
    if (this.checkpointTimer) clearTimeout(this.checkpointTimer);
    this.checkpointTimer = undefined;
    this.saveCheckpoint();
    await this.active.close();
    for (const fd of this.readFds.values()) closeSync(fd);
    this.readFds.clear();
    for (const wake of this.roomWaiters) wake();
    this.roomWaiters = [];
  }

  private skipCorrupt(segIndex: number, at: number): void {
    const seg = this.segments[segIndex]!;
    const next = this.segments[segIndex + 1];
    const to = next ? next.base : seg.base + seg.size;
    this.corruptSkips++;
    this.log.error(
      { segment: seg.path, offset: at - seg.base, skippedBytes: to - at },
      'spool: corrupt record; the rest of this segment is skipped',
    );
    this.readPos = to;
    if (!next) {
      // cannot happen for data written by this process; keep offsets consistent anyway
      this.durableEnd = Math.max(this.durableEnd, to);
    }
  }

  private segmentIndexFor(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid]!.base <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private readFd(seg: Segment): number {
    let fd = this.readFds.get(seg.base);
    if (fd === undefined) {
      fd = openSync(seg.path, 'r');
      this.readFds.set(seg.base, fd);
    }
    return fd;
  }

  private segmentPath(base: number): string {
    return join(this.dir, `${String(base).padStart(NAME_DIGITS, '0')}.log`);
  }

  private checkpointPath(): string {
    return join(this.dir, 'checkpoint.json');
  }

  private saveCheckpoint(): void {
    const tmp = `${this.checkpointPath()}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify({ committed: this.committed }));
      renameSync(tmp, this.checkpointPath());
    } catch (err) {
      this.log.warn({ err }, 'spool: checkpoint not saved (replay after restart will repeat some writes)');
    }
  }

  private async recover(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const names = readdirSync(this.dir).filter((n) => /^\d{20}\.log$/.test(n)).sort();
    this.segments = names.map((name) => {
      const path = join(this.dir, name);
      return { base: Number(name.slice(0, NAME_DIGITS)), path, size: statSync(path).size };
    });
    let committed = 0;
    if (existsSync(this.checkpointPath())) {
      try {
        committed = Number((JSON.parse(readFileSync(this.checkpointPath(), 'utf8')) as { committed: number }).committed) || 0;
      } catch (err) {
        this.log.warn({ err }, 'spool: unreadable checkpoint; replaying the whole spool');
      }
    }
    if (this.segments.length === 0) {
      this.segments.push({ base: committed, path: this.segmentPath(committed), size: 0 });
      writeFileSync(this.segments[0]!.path, '');
    }
    // remove segments wholly before the checkpoint
    while (this.segments.length > 1 && this.segments[1]!.base <= committed) rmSync(this.segments.shift()!.path, { force: true });
    const first = this.segments[0]!;
    if (committed < first.base) committed = first.base;
    // A torn or corrupt tail in the last segment (power loss mid-append) is cut off; earlier records stay.
    const last = this.segments[this.segments.length - 1]!;
    const validEnd = scanValidLength(last.path, last.size);
    if (validEnd < last.size) {
      this.log.error(
        { segment: last.path, validBytes: validEnd, droppedBytes: last.size - validEnd },
        'spool: torn or corrupt record at the end of the spool (unclean shutdown); cut off, earlier records kept',
      );
      const fd = openSync(last.path, 'r+');
      ftruncateSync(fd, validEnd);
      fsyncSync(fd);
      closeSync(fd);
      last.size = validEnd;
      this.corruptSkips++;
    }
    if (committed > last.base + last.size) committed = last.base + last.size;
    this.committed = committed;
    this.readPos = committed;
    this.durableEnd = last.base + last.size;
    this.appendedEnd = this.durableEnd;
    this.active = await open(last.path, 'a');
    const pending = this.durableEnd - committed;
    if (pending > 0) this.log.info({ pendingBytes: pending, segments: this.segments.length }, 'spool: replaying readings not yet in InfluxDB');
  }
}

/** Length of the prefix of a segment file made of whole, checksum-valid records. */
function scanValidLength(path: string, size: number): number {
  if (size === 0) return 0;
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.allocUnsafe(HEADER);
    let offset = 0;
    while (offset + HEADER <= size) {
      readSync(fd, head, 0, HEADER, offset);
      const length = head.readUInt32LE(0);
      if (length > MAX_RECORD || offset + HEADER + length > size) break;
      const record = Buffer.allocUnsafe(HEADER - 8 + length);
      readSync(fd, record, 0, record.length, offset + 8);
      if (crc32(record) !== head.readUInt32LE(4)) break;
      offset += HEADER + length;
    }
    return offset;
  } finally {
    closeSync(fd);
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
