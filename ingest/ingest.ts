// Ingest: from an MQTT telemetry payload to durable points. decode → validate (each reading alone) →
// line protocol → append to the log (the spool) → group fsync. The promise `accept` returns settles once the
// message's points and rejections are fsync'd: only then may the broker acknowledge the publish (docs/contract.md §3
// "acknowledgement means durable"). That is all that runs before the acknowledgement: everything else (the
// InfluxDB writer, latest values, the live stream, alerts, rollups) is a consumer of the log. Nothing here throws
// on input; every refusal becomes a rejection with a reason code.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import {
  DEFAULT_MAX_AGE_MS,
  MAX_FUTURE_SKEW_MS,
  type Kind,
  type RejectionReason,
} from '../catalog/index.js';
import { LineBuffer } from '../influx/line-buffer.js';
import { line, seriesKey, writeNumberLine, type FieldValue } from '../influx/line-protocol.js';
import { decodePayload } from './decode.js';
import { ReadingScanner, type ScanWindow } from './reading-scanner.js';
import { decodeSenml } from './senml.js';
import { DeviceRateLimiter } from './rate-limit.js';
import type { Spool } from './spool.js';
import { validateReading } from './validate.js';

/** What ingest needs to know of a device: its registry tags. Never taken from a payload. */
export interface IngestDevice {
  id: string;
  kind: Kind;
  city: string;
  district: string;
}

export interface Reading {
  deviceId: string;
  kind: Kind;
  ts: number;
  values: Record<string, number>;
}

export interface Rejection {
  deviceId: string;
  kind: Kind;
  ts: number;
  reason: RejectionReason;
  detail: string;
}

export interface IngestOptions {
  spool: Spool;
  log: Logger;
  deviceRateLimit: number;
  maxAgeMs?: number;
  /** Messages taken but not yet durable, at most (PANTAU_INGEST_MAX_IN_FLIGHT); more wait before they are decoded. */
  maxInFlight?: number;
  /** The spool's budget (PANTAU_SPOOL_MAX_BYTES), so the open batch counts against it. */
  spoolMaxBytes?: number;
  /**
   * PANTAU_ACK_AFTER=store: `accept` and `reject` resolve only once the InfluxDB writer has committed the message's
   * points and every attached durable consumer (the cluster's alert feed) has handled them (`Spool.stored`), so what
   * the broker is told is acknowledged is in InfluxDB and with the alert owner, not only in this node's spool.
   */
  ackAfterStore?: boolean;
}

/** What became of one message: counted by the platform's metrics around this stage. */
export interface AcceptOutcome {
  readings: number;
  rejections: Rejection[];
  /** Units dropped (QoS 0 while the spool has no room). */
  dropped: number;
}

/** Default of `maxInFlight`: a few group commits' worth at 20,000 messages/s. */
export const DEFAULT_MAX_IN_FLIGHT = 10_000;
/** An open batch this large is appended without waiting for the end of the turn. */
const BATCH_BYTES = 1 << 20;
const NONE: Rejection[] = [];
/** The outcome of most messages, shared (nobody changes an outcome). */
const ONE_READING: AcceptOutcome = Object.freeze({ readings: 1, rejections: NONE, dropped: 0 }) as AcceptOutcome;

interface Series {
  city: string;
  district: string;
  key: string;
  bytes: Buffer;
}

/**
 * First in, first out, O(1) at both ends: under overload hundreds of thousands of messages may wait, and
 * `Array.prototype.shift` on an array that large moves every element each time.
 */
class Fifo<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    // compact once the consumed prefix is half the array
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

/** The messages of one turn of the event loop: their lines, their drafts and the one promise they share. */
class Batch {
  readonly lines = new LineBuffer();
  readings: Reading[] = [];
  rejections: Rejection[] = [];
  /** Resolves with the record's end in the log (what `Spool.stored` waits for). */
  done!: Promise<number>;
  /** `done`, as the outcome of a message of one valid reading: what most messages get, one promise per batch. */
  one!: Promise<AcceptOutcome>;
  /** In-flight slots of the messages that took the fast path into this batch: handed back when it settles. */
  slots = 0;
  resolve!: (end: number) => void;
  reject!: (err: Error) => void;

  constructor() {
    this.open();
  }

  /** After the append: the same buffer, fresh drafts (the log's consumers keep the old ones) and a new promise. */
  recycle(): Batch {
    this.lines.reset();
    this.slots = 0;
    this.readings = [];
    this.rejections = [];
    this.open();
    return this;
  }

  private open(): void {
    this.done = new Promise<number>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.one = this.done.then(() => ONE_READING);
    // a batch nobody awaits any more (all its messages dropped meanwhile) must not be an unhandled rejection
    this.done.catch(() => undefined);
    this.one.catch(() => undefined);
  }
}

/** Derived points wait this long to share one append (one fsync) with others. */
const DERIVED_LINGER_MS = 100;

/**
 * Events (emitted by the platform's `events` log consumer, after the acknowledgement): `readings` (Reading[] of
 * one log record: the messages taken in one turn of the event loop, of one device or several), `rejection`
 * (Rejection).
 */
export class Ingest extends EventEmitter {
  private readonly spool: Spool;
  private readonly log: Logger;
  private readonly maxAgeMs: number;
  private readonly limiter: DeviceRateLimiter;
  private readonly seriesCache = new Map<string, Series>();
  private readonly maxInFlight: number;
  private readonly budgetBytes: number | undefined;
  private inFlight = 0;
  private readonly inFlightWaiters = new Fifo<() => void>();
  private readonly scanner = new ReadingScanner();
  private readonly window: ScanWindow;
  private batch = new Batch();
  private spareBatch: Batch | undefined;
  private batchTimer: NodeJS.Immediate | undefined;
  private readonly flushBatchBound = () => this.flushBatch();
  /** Last timestamp handed out per device and stream, so server-assigned timestamps never collide. */
  private readonly lastAssigned = new Map<string, number>();
  private readonly ackAfterStore: boolean;
  private timeSlot = 0;
  private timeSlots = 1;
  private lastDropLog = 0;
  private derived: string[] = [];
  private derivedWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private derivedTimer: NodeJS.Timeout | undefined;
  blockedPublishes = 0;

  constructor(options: IngestOptions) {
    super();
    this.setMaxListeners(100);
    this.spool = options.spool;
    this.log = options.log;
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.limiter = new DeviceRateLimiter(options.deviceRateLimit);
    this.maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.budgetBytes = options.spoolMaxBytes;
    this.window = { now: 0, maxAgeMs: this.maxAgeMs, maxFutureMs: MAX_FUTURE_SKEW_MS };
    this.ackAfterStore = options.ackAfterStore ?? false;
  }

  /**
   * Take one telemetry message. Resolves when its outcome is durable; the broker acknowledges then.
   * QoS 0 while the spool is at its budget: dropped and counted, resolves at once.
   * `format` 'senml': the payload is a SenML pack (RFC 8428 JSON; ingest/senml.ts), judged record by record.
   * Past `maxInFlight` messages not yet durable, a message waits before it is decoded, its PUBACK withheld
   * (back-pressure: acknowledgements slow down).
   */
  accept(device: IngestDevice, payload: Buffer, qos: 0 | 1 | 2, receivedAt = Date.now(), format: 'json' | 'senml' = 'json'): Promise<AcceptOutcome> {
    // a finished message hands its slot straight to the longest waiter, so the count never overshoots
    if (this.inFlight >= this.maxInFlight || this.inFlightWaiters.length > 0) return this.acceptLater(device, payload, qos, receivedAt, format);
    this.inFlight++;
    return this.take(device, payload, qos, receivedAt, format);
  }

  /** Past the in-flight bound: wait for a slot, handed over by a message that became durable, then as any. */
  private async acceptLater(device: IngestDevice, payload: Buffer, qos: 0 | 1 | 2, receivedAt: number, format: 'json' | 'senml'): Promise<AcceptOutcome> {
    await new Promise<void>((resolve) => this.inFlightWaiters.push(resolve));
    return this.take(device, payload, qos, receivedAt, format);
  }

  /**
   * With an in-flight slot taken. The common case (room in the spool, every reading valid, read in one pass by
   * reading-scanner.ts) allocates no promise of its own: the message joins the open batch, whose one promise
   * (`Batch.one` for a single reading) settles it, and the batch hands back the slots of all such messages at once
   * (`flushBatch`). Nothing awaits between the scan and the batch, so the scanner's shared state cannot be
   * overwritten meanwhile. Anything else takes the full path and hands its slot back itself.
   */
  private take(device: IngestDevice, payload: Buffer, qos: 0 | 1 | 2, receivedAt: number, format: 'json' | 'senml'): Promise<AcceptOutcome> {
    let count: number;
    try {
      if (!this.limiter.take(device.id, receivedAt)) {
        return this.released(this.refuse(device, [this.rejection(device, 'rate_limited', 'over the per-device message rate; slow down or batch readings', receivedAt)], qos, receivedAt));
      }
      const scanner = this.scanner;
      if (format !== 'json' || !this.roomNow()) return this.released(this.judge(device, payload, qos, receivedAt, format));
      this.window.now = receivedAt;
      if (!scanner.scan(payload, device.kind, this.window)) return this.released(this.judge(device, payload, qos, receivedAt, format));
      const series = this.series(device);
      const out = this.batch.lines;
      const readings = this.batch.readings;
      count = scanner.count;
      for (let i = 0; i < count; i++) {
        const given = scanner.ts[i]!;
        const ts = Number.isNaN(given) ? this.uniqueTs(device.id, receivedAt) : given;
        const values = scanner.values[i]!;
        writeNumberLine(out, series.bytes, values, ts);
        readings.push({ deviceId: device.id, kind: device.kind, ts, values });
      }
      scanner.values.length = 0;
    } catch (err) {
      this.release(1);
      return Promise.reject(err as Error);
    }
    if (this.ackAfterStore && qos !== 0) return this.released(this.durable(qos).then(() => (count === 1 ? ONE_READING : { readings: count, rejections: NONE, dropped: 0 })));
    const batch = this.batch;
    batch.slots++;
    const done = this.added();
    return count === 1 ? batch.one : done.then(() => ({ readings: count, rejections: NONE, dropped: 0 }));
  }

  /** The outcome of a message that took the full path, its in-flight slot handed back once it settled. */
  private async released(outcome: Promise<AcceptOutcome>): Promise<AcceptOutcome> {
    try {
      return await outcome;
    } finally {
      this.release(1);
    }
  }

  /** Hand `n` in-flight slots back: each to the longest waiter, or to the pool. */
  private release(n: number): void {
    for (let i = 0; i < n; i++) {
      const next = this.inFlightWaiters.shift();
      if (next) next();
      else this.inFlight--;
    }
  }

  /** The full path: decode, then each reading judged alone, every refusal explained. */
  private async judge(device: IngestDevice, payload: Buffer, qos: 0 | 1 | 2, receivedAt: number, format: 'json' | 'senml'): Promise<AcceptOutcome> {
    const lines: string[] = [];
    const readings: Reading[] = [];
    const rejections: Rejection[] = [];
    const options = { now: receivedAt, maxAgeMs: this.maxAgeMs, maxFutureMs: MAX_FUTURE_SKEW_MS };
    const decoded = format === 'senml' ? decodeSenml(payload, device.kind, options) : decodePayload(payload);
    if (!decoded.ok) {
      rejections.push(this.rejection(device, decoded.reason, decoded.detail, receivedAt));
    } else {
      for (const r of 'rejected' in decoded ? decoded.rejected : []) rejections.push(this.rejection(device, r.reason, r.detail, receivedAt));
      const key = this.series(device).key;
      const many = decoded.readings.length > 1;
      for (let i = 0; i < decoded.readings.length; i++) {
        const judged = validateReading(device.kind, decoded.readings[i], options);
        if (!judged.ok) {
          const detail = many ? `reading ${i}: ${judged.detail}` : judged.detail;
          rejections.push(this.rejection(device, judged.reason, detail, receivedAt));
          continue;
        }
        const ts = judged.ts ?? this.uniqueTs(device.id, receivedAt);
        lines.push(line(key, judged.values as Record<string, FieldValue>, ts));
        readings.push({ deviceId: device.id, kind: device.kind, ts, values: judged.values });
      }
    }
    for (const r of rejections) lines.push(this.rejectionLine(device, r));
    const outcome: AcceptOutcome = { readings: readings.length, rejections, dropped: 0 };
    if (lines.length === 0) return outcome;
    if (!(await this.room(qos, receivedAt))) {
      outcome.dropped = readings.length + rejections.length;
      return outcome;
    }
    const batch = this.batch;
    for (const l of lines) {
      batch.lines.newLine();
      batch.lines.text(l);
    }
    for (const r of readings) batch.readings.push(r);
    for (const r of rejections) batch.rejections.push(r);
    await this.durable(qos);
    return outcome;
  }

  /** Rejections only (a message over the rate): their lines, durable like any. */
  private async refuse(device: IngestDevice, rejections: Rejection[], qos: 0 | 1 | 2, receivedAt: number): Promise<AcceptOutcome> {
    const outcome: AcceptOutcome = { readings: 0, rejections, dropped: 0 };
    if (!(await this.room(qos, receivedAt))) {
      outcome.dropped = rejections.length;
      return outcome;
    }
    for (const r of rejections) {
      this.batch.lines.newLine();
      this.batch.lines.text(this.rejectionLine(device, r));
      this.batch.rejections.push(r);
    }
    await this.durable(qos);
    return outcome;
  }

  /**
   * Whether the message may be appended: at once while the spool has room; QoS 0 without room is dropped (false);
   * QoS 1/2 waits for room (its acknowledgement with it).
   */
  private async room(qos: 0 | 1 | 2, receivedAt: number): Promise<boolean> {
    if (this.roomNow()) return true;
    if (qos === 0) {
      if (receivedAt - this.lastDropLog > 10_000) {
        this.lastDropLog = receivedAt;
        this.log.warn({ spoolBytes: this.spool.pendingBytes, diskFull: this.spool.diskFull }, 'spool full (its budget or the disk): QoS 0 readings are dropped (counted in pantau_ingest_dropped_total)');
      }
      return false;
    }
    this.blockedPublishes++;
    try {
      await this.spool.waitForRoom();
    } finally {
      this.blockedPublishes--;
    }
    return true;
  }

  /**
   * Whether the spool has room for one more message, counting the open batch: near the budget the batch is handed
   * to the spool at once, so the spool's own count decides message by message, as it did before batching.
   */
  private roomNow(): boolean {
    if (!this.spool.hasRoom) return false;
    const open = this.batch.lines.length;
    if (this.budgetBytes !== undefined && open > 0 && this.spool.pendingBytes + open >= this.budgetBytes) {
      this.flushBatch();
      return this.spool.hasRoom;
    }
    return true;
  }

  /**
   * The message's lines and drafts are in the open batch: it is appended as one log record (one frame, one entry,
   * one promise for all its messages) at the end of this turn of the event loop, or at once when it is large.
   */
  private added(): Promise<number> {
    const batch = this.batch;
    if (batch.lines.length >= BATCH_BYTES) this.flushBatch();
    else this.batchTimer ??= setImmediate(this.flushBatchBound);
    return batch.done;
  }

  /**
   * The open batch is durable in this node's log; with PANTAU_ACK_AFTER=store a QoS 1/2 message also waits until the
   * InfluxDB writer has committed the batch's points and the durable consumers have handled them.
   */
  private durable(qos: 0 | 1 | 2): Promise<unknown> {
    const appended = this.added();
    if (!this.ackAfterStore || qos === 0) return appended;
    return appended.then((end) => this.spool.stored(end));
  }

  private flushBatch(): void {
    if (this.batchTimer) clearImmediate(this.batchTimer);
    this.batchTimer = undefined;
    const batch = this.batch;
    if (batch.lines.length === 0) return;
    this.batch = this.spareBatch ?? new Batch();
    this.spareBatch = undefined;
    // the spool copies the bytes into its frame before append returns, so the buffer is free again at once
    const appended = this.spool.append(batch.lines.view(), { readings: batch.readings, rejections: batch.rejections, derivedLines: 0 });
    const { slots, resolve, reject } = batch;
    appended.then(
      (end) => {
        this.release(slots);
        resolve(end);
      },
      (err: Error) => {
        this.release(slots);
        reject(err);
      },
    );
    this.spareBatch = batch.recycle();
  }

  /** A refusal that did not come from a payload (InfluxDB refused a point). Logged like any rejection. */
  async reject(device: IngestDevice, reason: RejectionReason, detail: string, at = Date.now()): Promise<Rejection> {
    const r = this.rejection(device, reason, detail, at);
    const end = await this.spool.append(this.rejectionLine(device, r), { readings: [], rejections: [r], derivedLines: 0 });
    if (this.ackAfterStore) await this.spool.stored(end);
    return r;
  }

  /**
   * Derived points (alerts, indices, device state, platform health) take the same durable path, gathered for
   * up to 100 ms into one append: a burst of status flips costs one fsync, not one each.
   */
  writeLines(lines: string[]): Promise<void> {
    if (lines.length === 0) return Promise.resolve();
    for (const l of lines) this.derived.push(l);
    const done = new Promise<void>((resolve, reject) => this.derivedWaiters.push({ resolve, reject }));
    if (this.derived.length >= 5000) this.flushDerived();
    else this.derivedTimer ??= setTimeout(() => this.flushDerived(), DERIVED_LINGER_MS);
    return done;
  }

  /** Append the derived points gathered so far now (and the open batch of messages, at shutdown). */
  flushDerived(): Promise<unknown> {
    this.flushBatch();
    if (this.derivedTimer) clearTimeout(this.derivedTimer);
    this.derivedTimer = undefined;
    if (this.derived.length === 0) return Promise.resolve();
    const lines = this.derived;
    const waiters = this.derivedWaiters;
    this.derived = [];
    this.derivedWaiters = [];
    const appended = this.spool.append(lines.join('\n'), { readings: [], rejections: [], derivedLines: lines.length });
    appended.then(
      () => waiters.forEach((w) => w.resolve()),
      (err: Error) => waiters.forEach((w) => w.reject(err)),
    );
    return appended;
  }

  /**
   * Timestamp for a point of `stream` (device id + measurement) at `at`: unique and increasing, and in a cluster
   * congruent to this node's time slot modulo the number of slots (`setTimeSlot`), so two nodes never assign the
   * same millisecond to one device (docs/scale-out.md, *Server-assigned timestamps*).
   */
  uniqueTs(stream: string, at: number): number {
    const last = this.lastAssigned.get(stream) ?? 0;
    let ts = at > last ? at : last + 1;
    if (this.timeSlots > 1) ts += (((this.timeSlot - ts) % this.timeSlots) + this.timeSlots) % this.timeSlots;
    this.lastAssigned.set(stream, ts);
    return ts;
  }

  /** This node's share of the milliseconds: assigned timestamps are `slot` modulo `slots` (cluster-nodes.ts). */
  setTimeSlot(slot: number, slots: number): void {
    if (!Number.isInteger(slots) || slots < 1 || !Number.isInteger(slot) || slot < 0 || slot >= slots) throw new Error(`time slot ${slot} of ${slots}: not a slot`);
    this.timeSlot = slot;
    this.timeSlots = slots;
  }

  forgetDevice(id: string): void {
    this.seriesCache.delete(id);
    this.limiter.forget(id);
  }

  private series(device: IngestDevice): Series {
    const cached = this.seriesCache.get(device.id);
    if (cached && cached.city === device.city && cached.district === device.district) return cached;
    const key = seriesKey(device.kind, { device_id: device.id, city: device.city, district: device.district });
    const series = { city: device.city, district: device.district, key, bytes: Buffer.from(key, 'utf8') };
    this.seriesCache.set(device.id, series);
    return series;
  }

  private rejection(device: IngestDevice, reason: RejectionReason, detail: string, at: number): Rejection {
    return { deviceId: device.id, kind: device.kind, ts: this.uniqueTs(`${device.id}\u0000rejections`, at), reason, detail: detail.slice(0, 500) };
  }

  private rejectionLine(device: IngestDevice, r: Rejection): string {
    return line(seriesKey('rejections', { device_id: device.id, kind: device.kind, reason: r.reason }), { detail: r.detail, count: 1 }, r.ts);
  }
}
