// Runs the log's in-process consumers (see log-types.ts). Each has its own cursor and runs on its own: one that
// is slow only falls behind, one that throws only loses the entries it threw on (logged and counted). Records
// appended by this process are handed over from an in-memory tail, already decoded; a consumer behind the tail
// (after a restart, or after falling far behind) reads back from disk. Consumers run in a later turn of the
// event loop than the acknowledgements of the records they are handed, never before.
//
// Memory: a decoded entry stays in the tail only until the consumers that need it have it. A durable consumer
// that falls more than a few batches behind the newest entry (under a second of ingest at full rate) is let go:
// it reads back from disk (as after a restart) and the tail no longer waits for it, so a lagging consumer never
// keeps a backlog of decoded readings alive (they would reach the old generation, and every major GC would pay
// for them). Ephemeral consumers cannot read back; for them the tail is capped, and one behind the cap skips.
import type { Logger } from 'pino';
import { decodeRecord } from './log-decode.js';
import { SegmentReader, type SegmentBounds } from './log-format.js';
import type { LogConsumer, LogEntry } from './log-types.js';

/** What the runner needs of the log. */
export interface ConsumerLog {
  readonly dir: string;
  readonly durableEnd: number;
  bounds(): { segments: SegmentBounds[]; durableEnd: number };
  advance(name: string, end: number): void;
  /** After a durable consumer's batch: where it resumes if the log had detached it (else undefined). */
  reattach(name: string, at: number): number | undefined;
}

interface State {
  consumer: LogConsumer;
  cursor: number;
  running: Promise<void> | undefined;
  reader: SegmentReader | undefined;
  errors: number;
  lastErrorLog: number;
  /** Log bytes read back from disk (behind the in-memory tail, or after a restart). */
  readBackBytes: number;
}

const BATCH_ENTRIES = 1000;
const BATCH_READINGS = 2000;
const DISK_BATCH_BYTES = 256 << 10;
/** How many times bigger a batch from memory is for a consumer more than two batches behind the newest entry. */
const CATCH_UP = 4;
/** How far (entries, readings) a durable consumer may be behind the newest entry and still be handed from memory. */
const DURABLE_TAIL = 8 * BATCH_ENTRIES;
const DURABLE_TAIL_READINGS = 8 * BATCH_READINGS;
/** Entries (and readings in them) kept in memory at most, for ephemeral consumers; past it they skip. */
const MAX_TAIL = 20_000;
const MAX_TAIL_READINGS = 40_000;

interface TailItem {
  start: number;
  entry: LogEntry;
  /** Readings and rejections of every entry appended before this one (running total): windows by readings. */
  before: number;
}

const weight = (e: LogEntry) => e.readings.length + e.rejections.length;

export class ConsumerRunner {
  private readonly states: State[] = [];
  private tail: TailItem[] = [];
  private tailHead = 0;
  private tailReadings = 0;
  /** Readings and rejections of every entry ever appended to the tail. */
  private appendedReadings = 0;
  private scheduled = false;
  private closed = false;
  /** Called for every consumer failure (metrics). */
  onError: ((consumer: string, err: unknown) => void) | undefined;

  /** `paused`: nothing runs until `start()` (the log registers every durable consumer first). */
  constructor(private readonly log: ConsumerLog, private readonly logger: Logger, private paused = false) {}

  start(): void {
    this.paused = false;
    this.schedule();
  }

  add(consumer: LogConsumer, from: number): void {
    if (this.states.some((s) => s.consumer.name === consumer.name)) throw new Error(`log consumer "${consumer.name}" is already registered`);
    this.states.push({ consumer, cursor: from, running: undefined, reader: undefined, errors: 0, lastErrorLog: 0, readBackBytes: 0 });
    this.schedule();
  }

  /** Decoded entries (and the readings and rejections in them) held in memory for consumers. */
  get held(): { entries: number; readings: number } {
    return { entries: this.tail.length - this.tailHead, readings: this.tailReadings };
  }

  /** Names, positions, error counts and bytes read back from disk, for /readyz and metrics. */
  status(): Array<{ name: string; durable: boolean; lagBytes: number; errors: number; readBackBytes: number }> {
    return this.states.map((s) => ({ name: s.consumer.name, durable: s.consumer.durable, lagBytes: Math.max(0, this.log.durableEnd - s.cursor), errors: s.errors, readBackBytes: s.readBackBytes }));
  }

  /** Records just made durable (and acknowledged). */
  appended(entries: Array<{ start: number; entry: LogEntry }>): void {
    if (this.states.length === 0) return;
    for (const e of entries) {
      const w = weight(e.entry);
      this.tail.push({ start: e.start, entry: e.entry, before: this.appendedReadings });
      this.appendedReadings += w;
      this.tailReadings += w;
    }
    // bounded memory: entries no consumer needs from memory go at once; past the caps the oldest go anyway
    this.trim();
    while (this.tail.length - this.tailHead > MAX_TAIL || (this.tailReadings > MAX_TAIL_READINGS && this.tail.length - this.tailHead > 1)) this.dropHead();
    this.schedule();
  }

  /** Segments were deleted or rolled. */
  boundsChanged(): void {
    const { segments, durableEnd } = this.log.bounds();
    for (const s of this.states) s.reader?.setBounds(segments, durableEnd);
  }

  /** Wait (up to `timeoutMs`) until every consumer has handled everything durable. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.schedule();
    while (Date.now() < deadline && !this.paused) {
      const busy = this.states.filter((s) => s.running || s.cursor < this.log.durableEnd);
      if (busy.length === 0) return;
      await Promise.race([Promise.all(busy.map((s) => s.running)), new Promise((r) => setTimeout(r, 20))]);
      this.schedule();
    }
  }

  close(): void {
    this.closed = true;
    for (const s of this.states) s.reader?.close();
  }

  private schedule(): void {
    if (this.scheduled || this.closed || this.paused) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      for (const s of this.states) if (!s.running && s.cursor < this.log.durableEnd) s.running = this.run(s);
    });
  }

  private async run(s: State): Promise<void> {
    try {
      while (!this.closed && s.cursor < this.log.durableEnd) {
        const { entries, next, fromDisk } = this.next(s);
        if (entries.length > 0) {
          try {
            await s.consumer.handle(entries);
          } catch (err) {
            this.failed(s, err, entries.length);
          }
        }
        s.cursor = next;
        if (s.consumer.durable) {
          const resume = this.log.reattach(s.consumer.name, next);
          if (resume !== undefined && resume !== next) {
            s.cursor = resume;
            s.reader?.close();
            s.reader = undefined;
          }
          this.log.advance(s.consumer.name, s.cursor);
        }
        // let I/O (and acknowledgements) in between batches
        if (fromDisk || s.cursor < this.log.durableEnd) await new Promise((r) => setImmediate(r));
      }
    } finally {
      s.running = undefined;
      this.trim();
    }
  }

  private next(s: State): { entries: LogEntry[]; next: number; fromDisk: boolean } {
    const first = this.tail[this.tailHead];
    if (first && s.cursor >= first.start) {
      s.reader?.close();
      s.reader = undefined;
      const i = this.indexOf(s.cursor);
      if (i >= 0) {
        // a batch is bounded by entries and by readings, so one call never holds the event loop for long; a
        // consumer that has fallen behind takes bigger ones (CATCH_UP times), since one batch a turn of a busy event
        // loop may be no more than the ingest rate, and past the tail's window it would read back from disk, at a
        // higher cost per reading, and fall further behind
        const behind = this.appendedReadings - this.tail[i]!.before;
        const scale = behind > 2 * BATCH_READINGS ? CATCH_UP : 1;
        const slice: LogEntry[] = [];
        let readings = 0;
        for (let k = i; k < this.tail.length && slice.length < BATCH_ENTRIES * scale && (slice.length === 0 || readings < BATCH_READINGS * scale); k++) {
          const entry = this.tail[k]!.entry;
          slice.push(entry);
          readings += weight(entry);
        }
        return { entries: slice, next: slice[slice.length - 1]!.end, fromDisk: false };
      }
    }
    if (!s.consumer.durable) {
      // an ephemeral consumer (latest values, live stream) skips what it missed rather than read it back
      return { entries: [], next: first ? first.start : this.log.durableEnd, fromDisk: false };
    }
    if (!s.reader) {
      s.reader = new SegmentReader(this.log.dir, s.cursor, (info) => this.logger.error({ ...info, consumer: s.consumer.name }, 'log: corrupt record; the rest of this segment is skipped'));
      const { segments, durableEnd } = this.log.bounds();
      s.reader.setBounds(segments, durableEnd);
    } else {
      const { segments, durableEnd } = this.log.bounds();
      s.reader.setBounds(segments, durableEnd);
    }
    const from = s.reader.position;
    const batch = s.reader.read(DISK_BATCH_BYTES);
    if (!batch) return { entries: [], next: Math.max(s.cursor, s.reader.position), fromDisk: true };
    s.readBackBytes += Math.max(0, batch.end - from);
    const entries = batch.records.map((r, i) => decodeRecord(r, batch.ends[i]!, batch.appendedAt[i]!));
    return { entries, next: batch.end, fromDisk: true };
  }

  private indexOf(start: number): number {
    let lo = this.tailHead;
    let hi = this.tail.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.tail[mid]!.start;
      if (v === start) return mid;
      if (v < start) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /**
   * Drop tail entries every consumer that reads from memory has passed. Ephemeral consumers hold entries (up to the
   * caps); a durable consumer only within its window behind the newest entry: further behind, it reads from disk.
   */
  private trim(): void {
    if (this.tailHead >= this.tail.length) return;
    const windowStart = this.tail[this.durableWindowIndex()]!.start;
    let min = Number.POSITIVE_INFINITY;
    for (const s of this.states) min = Math.min(min, s.consumer.durable ? Math.max(s.cursor, windowStart) : s.cursor);
    while (this.tailHead < this.tail.length && this.tail[this.tailHead]!.entry.end <= min) this.dropHead();
    if (this.tailHead > 4096 && this.tailHead * 2 > this.tail.length) {
      this.tail = this.tail.slice(this.tailHead);
      this.tailHead = 0;
    }
  }

  /** Index of the oldest tail entry within a durable consumer's window (entries and readings) behind the newest. */
  private durableWindowIndex(): number {
    const last = this.tail.length - 1;
    let lo = Math.max(this.tailHead, this.tail.length - DURABLE_TAIL);
    // the first index whose entries up to the newest hold no more than the window's readings (the newest always)
    let hi = last;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.appendedReadings - this.tail[mid]!.before <= DURABLE_TAIL_READINGS) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private dropHead(): void {
    const head = this.tail[this.tailHead]!;
    this.tailReadings -= weight(head.entry);
    this.tail[this.tailHead] = undefined as never; // let the entry go now, not at the next compaction
    this.tailHead++;
  }

  private failed(s: State, err: unknown, entries: number): void {
    s.errors++;
    this.onError?.(s.consumer.name, err);
    const now = Date.now();
    if (now - s.lastErrorLog > 10_000) {
      s.lastErrorLog = now;
      this.logger.error({ err, consumer: s.consumer.name, entries, errors: s.errors }, 'log consumer failed; its entries are passed over (acknowledgements are not affected)');
    }
  }
}
