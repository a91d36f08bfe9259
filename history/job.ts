// The rollup job: a durable consumer of the ingest log (`rollups`). `handle()` records the hourly buckets that the
// entries' readings fall in (durably, before it resolves); a timer recomputes dirty buckets from raw readings once
// the log records that made them dirty are in InfluxDB, then the daily buckets that hold those hours. A bucket is
// recomputed a quarter of PANTAU_ROLLUP_DELAY after it became dirty, so the rest of the delay is left for the work
// itself; many readings of the same hour in that time cost one recomputation.
import type { Logger } from 'pino';
import type { Kind } from '../catalog/index.js';
import type { LogConsumer, LogEntry } from '../ingest/log-types.js';
import type { DirtyBucket, RollupState } from './dirty.js';
import type { RollupComputer } from './rollup.js';
import { dayStart, HOUR_MS, hourStart, nextDayStart } from '../catalog/time.js';

/** Where the log stands: everything up to `durableEnd()` is durable, up to `writtenEnd()` is in InfluxDB. */
export interface LogPosition {
  durableEnd(): number;
  writtenEnd(): number;
}

export interface RollupJobOptions {
  state: RollupState;
  computer: RollupComputer;
  position: LogPosition;
  delayMs: number;
  timezone: string;
  log: Logger;
  /** Buckets per run (the rest waits for the next run). */
  batch?: number;
}

/**
 * Dirty marks are written at most this often: one fsync for all the batches of that time. The log hands this
 * consumer its next batch only once the marks of the last are written, so the gather bounds its rate: at 250 ms it
 * could take 32,000 readings a second and fell behind 50,000 (reading the log back from disk); at 50 ms, 20
 * transactions a second, it keeps up.
 */
const MARK_EVERY_MS = 50;

/** With this many devices dirty in the same hour (or day) of a kind, one query covers the whole kind. */
const KIND_WIDE = 8;

export class RollupJob implements LogConsumer {
  readonly name = 'rollups';
  readonly durable = true;
  /** Its marks are in the data dir: PANTAU_ACK_AFTER=store does not wait for them (up to two 50 ms gathers). */
  readonly nodeLocal = true;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;
  /** Dirty marks gathered since the last write, by device (one per kind and hour), and the write they wait for. */
  private pendingMarks = new Map<string, DirtyBucket[]>();
  private marksWritten: Promise<void> | undefined;
  /** Rollup rows written and raw readings rolled up since start. */
  readonly totals = { rows: 0, readings: 0, runs: 0, errors: 0 };
  lastError: string | undefined;

  constructor(private readonly options: RollupJobOptions) {
    options.state.clampLogEnd(options.position.durableEnd());
  }

  /**
   * Marks the entries' buckets dirty. The marks are gathered for up to MARK_EVERY_MS and written in one durable
   * transaction (one fsync, off the hot path of every batch); `handle` resolves only once its marks are written,
   * so the log checkpoints this consumer past them only then.
   */
  handle(entries: LogEntry[]): Promise<void> | void {
    let any = false;
    for (const entry of entries) {
      for (const r of entry.readings) {
        const hour = hourStart(r.ts);
        any = true;
        // by device, then a look along its few marks: a key string built per reading was garbage at 20,000 a second
        let marks = this.pendingMarks.get(r.deviceId);
        if (!marks) this.pendingMarks.set(r.deviceId, (marks = []));
        let b: DirtyBucket | undefined;
        for (let i = 0; i < marks.length && !b; i++) if (marks[i]!.hour === hour && marks[i]!.kind === r.kind) b = marks[i];
        if (b) {
          b.since = Math.min(b.since, entry.appendedAt);
          b.logEnd = Math.max(b.logEnd, entry.end);
        } else {
          marks.push({ kind: r.kind, deviceId: r.deviceId, hour, since: entry.appendedAt, logEnd: entry.end });
        }
      }
    }
    if (!any && this.pendingMarks.size === 0) return;
    this.marksWritten ??= new Promise<void>((resolve, reject) => {
      setTimeout(() => {
        const marks = this.pendingMarks;
        this.pendingMarks = new Map();
        this.marksWritten = undefined;
        try {
          if (marks.size > 0) this.options.state.markDirty([...marks.values()].flat());
          resolve();
        } catch (err) {
          reject(err);
        }
      }, this.stopped ? 0 : MARK_EVERY_MS);
    });
    return this.marksWritten;
  }

  /** Seconds the oldest pending reading has waited for its rollup (0 when none waits). */
  lagSeconds(now = Date.now()): number {
    const oldest = this.options.state.oldestSince();
    return oldest === null ? 0 : Math.max(0, (now - oldest) / 1000);
  }

  start(): void {
    const every = Math.max(200, Math.min(15_000, Math.floor(this.options.delayMs / 8)));
    this.timer = setInterval(() => {
      if (!this.running) void this.runOnce().catch(() => undefined);
    }, every);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.marksWritten?.catch(() => undefined);
    await this.running?.catch(() => undefined);
  }

  /** Recompute the buckets that are due; resolves to how many were done. `force` ignores the waiting time. */
  runOnce(force = false): Promise<number> {
    if (this.running) return this.running;
    this.running = this.run(force).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(force: boolean): Promise<number> {
    const { state, position, delayMs, log } = this.options;
    const startedAt = Date.now();
    const due = state.due(force ? Number.MAX_SAFE_INTEGER : startedAt - Math.floor(delayMs / 4), this.options.batch ?? 20_000);
    if (due.length === 0 || this.stopped) return 0;
    // every record durable now must be in InfluxDB before its buckets are read back
    const durable = position.durableEnd();
    const waitUntil = Date.now() + Math.max(1000, delayMs / 4);
    while (position.writtenEnd() < durable && Date.now() < waitUntil && !this.stopped) await new Promise((r) => setTimeout(r, 25));
    const covered = position.writtenEnd();
    try {
      await this.recompute(due);
    } catch (err) {
      this.totals.errors++;
      this.lastError = (err as Error).message;
      log.warn({ err: this.lastError, buckets: due.length }, 'rollup recomputation failed; it is retried');
      return 0;
    }
    // readings after `durable` were acknowledged after `startedAt`; when the writer had not caught up, keep `since`
    state.done(due, covered, covered >= durable ? startedAt : Number.NEGATIVE_INFINITY);
    this.totals.runs++;
    this.lastError = undefined;
    return due.length;
  }

  private async recompute(due: DirtyBucket[]): Promise<void> {
    const { computer, timezone } = this.options;
    const add = (r: { rows: number; readings: number }) => {
      this.totals.rows += r.rows;
      this.totals.readings += r.readings;
    };
    // hours: kind-wide where many devices share an hour, else per device in runs of nearby hours
    const days = new Map<string, { kind: Kind; deviceId: string; day: number }>();
    for (const b of due) {
      const day = dayStart(timezone, b.hour);
      days.set(`${b.kind}\u0000${b.deviceId}\u0000${day}`, { kind: b.kind, deviceId: b.deviceId, day });
    }
    const hourGroups = groupBy(due, (b) => `${b.kind}\u0000${b.hour}`);
    const perDevice: DirtyBucket[] = [];
    for (const group of hourGroups.values()) {
      if (group.length >= KIND_WIDE) add(await computer.hours(group[0]!.kind, group[0]!.hour, group[0]!.hour + HOUR_MS));
      else perDevice.push(...group);
    }
    for (const group of groupBy(perDevice, (b) => `${b.kind}\u0000${b.deviceId}`).values()) {
      for (const [from, to] of runs(group.map((b) => b.hour), HOUR_MS, 24 * HOUR_MS)) {
        add(await computer.hours(group[0]!.kind, from, to + HOUR_MS, group[0]!.deviceId));
      }
    }
    // days that hold those hours, from the hourly rollups just written
    const dayList = [...days.values()];
    const perDeviceDays: typeof dayList = [];
    for (const group of groupBy(dayList, (d) => `${d.kind}\u0000${d.day}`).values()) {
      if (group.length >= KIND_WIDE) add(await computer.days(group[0]!.kind, group[0]!.day, nextDayStart(timezone, group[0]!.day)));
      else perDeviceDays.push(...group);
    }
    for (const group of groupBy(perDeviceDays, (d) => `${d.kind}\u0000${d.deviceId}`).values()) {
      const sorted = group.map((d) => d.day).sort((a, b) => a - b);
      let from = sorted[0]!;
      let last = from;
      for (const day of [...sorted.slice(1), Number.POSITIVE_INFINITY]) {
        if (day - last > 3 * 86_400_000) {
          add(await computer.days(group[0]!.kind, from, nextDayStart(timezone, last), group[0]!.deviceId));
          from = day;
        }
        last = day;
      }
    }
  }
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}

/** Sorted starts → [first, last] runs where neighbours are at most `maxGap` apart. */
function runs(starts: number[], step: number, maxGap: number): Array<[number, number]> {
  const sorted = [...new Set(starts)].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s - last[1] <= Math.max(step, maxGap)) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}
