// The log's on-disk format, shared by the appender (main thread), the InfluxDB writer (a worker thread) and
// consumers that read back from disk. Segment files are named by the logical offset of their first byte
// (Kafka-style), so a position in the log is one number. Each record: u32 length, u32 CRC-32 (of the rest),
// f64 append time (ms), payload (line protocol, one line per point).
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

export const HEADER = 16;
export const NAME_DIGITS = 20;
export const MAX_RECORD = 64 * 1024 * 1024;

export interface SegmentBounds {
  base: number;
  size: number;
}

export interface LogBatch {
  records: Buffer[];
  /** Log offset just past each record, in order. */
  ends: number[];
  /** Append time of each record (ms). */
  appendedAt: number[];
  start: number;
  end: number;
  firstAppendedAt: number;
}

export function segmentName(base: number): string {
  return `${String(base).padStart(NAME_DIGITS, '0')}.log`;
}

export function segmentPath(dir: string, base: number): string {
  return join(dir, segmentName(base));
}

export const SEGMENT_NAME = /^\d{20}\.log$/;

export function encodeFrame(body: Buffer | string, appendedAt: number): Buffer {
  // a string body is encoded straight into the frame: one allocation, one copy
  const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  const frame = Buffer.allocUnsafe(HEADER + length);
  frame.writeUInt32LE(length, 0);
  frame.writeDoubleLE(appendedAt, 8);
  if (typeof body === 'string') frame.write(body, HEADER, 'utf8');
  else body.copy(frame, HEADER);
  frame.writeUInt32LE(crc32(frame.subarray(8)), 4);
  return frame;
}

/** Reads every byte asked for, or throws: a short read of a durable range means the file is not what we wrote. */
function readFully(fd: number, buf: Buffer, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new Error(`log: short read at ${position + done} (expected ${length - done} more bytes)`);
    done += n;
  }
}

/**
 * Reads records from segment files within bounds the appender publishes (only durable bytes). Used by the writer
 * thread and by consumers catching up from disk. It never writes.
 */
export class SegmentReader {
  private segments: SegmentBounds[] = [];
  private durableEnd = 0;
  private readonly fds = new Map<number, number>();
  position: number;
  corruptSkips = 0;

  constructor(
    private readonly dir: string,
    position: number,
    private readonly onCorrupt: (info: { segment: string; offset: number; skippedBytes: number }) => void = () => undefined,
  ) {
    this.position = position;
  }

  setBounds(segments: SegmentBounds[], durableEnd: number): void {
    this.segments = segments;
    this.durableEnd = durableEnd;
    // close files of segments that are gone
    for (const [base, fd] of this.fds) {
      if (!segments.some((s) => s.base === base)) {
        closeSync(fd);
        this.fds.delete(base);
      }
    }
    if (segments.length > 0 && this.position < segments[0]!.base) this.position = segments[0]!.base;
  }

  get unread(): number {
    return Math.max(0, this.durableEnd - this.position);
  }

  /** Next records after `position`, up to about `maxBytes` (one whole record at least), or null when caught up. */
  read(maxBytes: number): LogBatch | null {
    while (this.position < this.durableEnd) {
      const segIndex = this.segmentIndexFor(this.position);
      const seg = this.segments[segIndex];
      if (!seg) return null;
      const segEnd = Math.min(seg.base + seg.size, this.durableEnd);
      if (this.position >= segEnd) {
        const next = this.segments[segIndex + 1];
        if (!next || next.base > this.durableEnd) return null;
        this.position = next.base;
        continue;
      }
      const fd = this.fd(seg.base);
      const available = segEnd - this.position;
      let length = Math.min(available, Math.max(maxBytes, HEADER));
      let buf = Buffer.allocUnsafe(length);
      readFully(fd, buf, length, this.position - seg.base);
      if (length >= HEADER) {
        const first = buf.readUInt32LE(0) + HEADER;
        if (first > length && first <= available && first <= MAX_RECORD + HEADER) {
          length = first;
          buf = Buffer.allocUnsafe(length);
          readFully(fd, buf, length, this.position - seg.base);
        }
      }
      const records: Buffer[] = [];
      const ends: number[] = [];
      const appendedAt: number[] = [];
      let offset = 0;
      while (offset + HEADER <= length) {
        const size = buf.readUInt32LE(offset);
        if (size > MAX_RECORD) break;
        if (offset + HEADER + size > length) break;
        if (crc32(buf.subarray(offset + 8, offset + HEADER + size)) !== buf.readUInt32LE(offset + 4)) break;
        appendedAt.push(buf.readDoubleLE(offset + 8));
        records.push(buf.subarray(offset + HEADER, offset + HEADER + size));
        offset += HEADER + size;
        ends.push(this.position + offset);
      }
      if (records.length === 0) {
        // Durable bytes that are not a whole valid record: damage after the fact (bit rot, an edited file). The
        // appender never leaves partial frames behind (a failed write is cut back before anything else is
        // written), so this is not a torn append. Skip to the next segment, loudly.
        const to = segIndex + 1 < this.segments.length ? this.segments[segIndex + 1]!.base : segEnd;
        this.corruptSkips++;
        this.onCorrupt({ segment: segmentName(seg.base), offset: this.position - seg.base, skippedBytes: to - this.position });
        this.position = to;
        continue;
      }
      const start = this.position;
      this.position += offset;
      return { records, ends, appendedAt, start, end: this.position, firstAppendedAt: appendedAt[0]! };
    }
    return null;
  }

  /** Append time of the record at `offset`, or null. */
  appendedAtOf(offset: number): number | null {
    const seg = this.segments[this.segmentIndexFor(offset)];
    if (!seg || offset >= seg.base + seg.size || offset + HEADER > this.durableEnd) return null;
    const head = Buffer.allocUnsafe(HEADER);
    try {
      readFully(this.fd(seg.base), head, HEADER, offset - seg.base);
      return head.readDoubleLE(8);
    } catch {
      return null;
    }
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }

  private fd(base: number): number {
    let fd = this.fds.get(base);
    if (fd === undefined) {
      fd = openSync(segmentPath(this.dir, base), 'r');
      this.fds.set(base, fd);
    }
    return fd;
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
}

/** Length of the prefix of a segment file made of whole, checksum-valid records. */
export function scanValidLength(path: string, size: number): number {
  if (size === 0) return 0;
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.allocUnsafe(HEADER);
    let offset = 0;
    while (offset + HEADER <= size) {
      readFully(fd, head, HEADER, offset);
      const length = head.readUInt32LE(0);
      if (length > MAX_RECORD || offset + HEADER + length > size) break;
      const record = Buffer.allocUnsafe(HEADER - 8 + length);
      readFully(fd, record, record.length, offset + 8);
      if (crc32(record) !== head.readUInt32LE(4)) break;
      offset += HEADER + length;
    }
    return offset;
  } finally {
    closeSync(fd);
  }
}
