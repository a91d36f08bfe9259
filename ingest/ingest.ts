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
import { line, seriesKey, type FieldValue } from '../influx/line-protocol.js';
import { decodePayload } from './decode.js';
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
  /**
   * PANTAU_ACK_AFTER=store: `accept` and `reject` resolve only once the InfluxDB writer has committed the message's
   * points, so what the broker is told is acknowledged is in InfluxDB, not only in this node's spool.
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

/** Derived points wait this long to share one append (one fsync) with others. */
const DERIVED_LINGER_MS = 100;

/**
 * Events (emitted by the platform's `events` log consumer, after the acknowledgement): `readings` (Reading[] of
 * one message), `rejection` (Rejection).
 */
export class Ingest extends EventEmitter {
  private readonly spool: Spool;
  private readonly log: Logger;
  private readonly maxAgeMs: number;
  private readonly limiter: DeviceRateLimiter;
  private readonly series = new Map<string, { city: string; district: string; key: string }>();
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
    this.ackAfterStore = options.ackAfterStore ?? false;
  }

  /**
   * Take one telemetry message. Resolves when its outcome is durable; the broker acknowledges then.
   * QoS 0 while the spool is at its budget: dropped and counted, resolves at once.
   * `format` 'senml': the payload is a SenML pack (RFC 8428 JSON; ingest/senml.ts), judged record by record.
   */
  async accept(device: IngestDevice, payload: Buffer, qos: 0 | 1 | 2, receivedAt = Date.now(), format: 'json' | 'senml' = 'json'): Promise<AcceptOutcome> {
    const lines: string[] = [];
    const readings: Reading[] = [];
    const rejections: Rejection[] = [];

    if (!this.limiter.take(device.id, receivedAt)) {
      rejections.push(this.rejection(device, 'rate_limited', 'over the per-device message rate; slow down or batch readings', receivedAt));
    } else {
      const options = { now: receivedAt, maxAgeMs: this.maxAgeMs, maxFutureMs: MAX_FUTURE_SKEW_MS };
      const decoded = format === 'senml' ? decodeSenml(payload, device.kind, options) : decodePayload(payload);
      if (!decoded.ok) {
        rejections.push(this.rejection(device, decoded.reason, decoded.detail, receivedAt));
      } else {
        for (const r of 'rejected' in decoded ? decoded.rejected : []) rejections.push(this.rejection(device, r.reason, r.detail, receivedAt));
        const key = this.seriesKey(device);
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
    }

    for (const r of rejections) lines.push(this.rejectionLine(device, r));
    const outcome: AcceptOutcome = { readings: readings.length, rejections, dropped: 0 };
    if (lines.length === 0) return outcome;

    if (!this.spool.hasRoom) {
      if (qos === 0) {
        outcome.dropped = readings.length + rejections.length;
        if (receivedAt - this.lastDropLog > 10_000) {
          this.lastDropLog = receivedAt;
          this.log.warn({ spoolBytes: this.spool.pendingBytes, diskFull: this.spool.diskFull }, 'spool full (its budget or the disk): QoS 0 readings are dropped (counted in pantau_ingest_dropped_total)');
        }
        return outcome;
      }
      this.blockedPublishes++;
      try {
        await this.spool.waitForRoom();
      } finally {
        this.blockedPublishes--;
      }
    }
    const end = await this.spool.append(lines.join('\n'), { readings, rejections, derivedLines: 0 });
    if (this.ackAfterStore && qos > 0) await this.spool.stored(end);
    return outcome;
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

  /** Append the derived points gathered so far now. */
  flushDerived(): Promise<unknown> {
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
    this.series.delete(id);
    this.limiter.forget(id);
  }

  private seriesKey(device: IngestDevice): string {
    const cached = this.series.get(device.id);
    if (cached && cached.city === device.city && cached.district === device.district) return cached.key;
    const key = seriesKey(device.kind, { device_id: device.id, city: device.city, district: device.district });
    this.series.set(device.id, { city: device.city, district: device.district, key });
    return key;
  }

  private rejection(device: IngestDevice, reason: RejectionReason, detail: string, at: number): Rejection {
    return { deviceId: device.id, kind: device.kind, ts: this.uniqueTs(`${device.id}\u0000rejections`, at), reason, detail: detail.slice(0, 500) };
  }

  private rejectionLine(device: IngestDevice, r: Rejection): string {
    return line(seriesKey('rejections', { device_id: device.id, kind: device.kind, reason: r.reason }), { detail: r.detail, count: 1 }, r.ts);
  }
}
