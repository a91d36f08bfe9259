// Where an aggregated answer comes from (docs/contract.md §9). `every` a whole multiple of 1h (or 1d) with a decomposable
// aggregate (mean, min, max, sum, count) is served from the hourly (daily) rollups when that reads fewer rows —
// at least three whole buckets — or when the range reaches past raw retention. Windows that are only partly inside
// [from, to) and buckets still waiting for recomputation are read from raw readings, so the answer equals the raw
// answer wherever raw data exists: every window is Σsum, Σcount, min of mins and max of maxes of its parts.
import { fieldNames, type Kind } from '../catalog/index.js';
import { quoteIdentifier, type InfluxClient, type Series } from '../influx/client.js';
import { tzClause } from './rollup.js';
import { FieldKeys } from './field-keys.js';
import { toRowChunk, type RollupRowCache } from './row-cache.js';
import { rawStats as rawStatsOf, toRawHour, TOO_LARGE, type RawHourCache, type RawHourFill } from './raw-hours.js';
import { rawStatsSelect, rollupColumn, rollupFrom, rollupStatsSelect, STATS, type Resolution, type Stat } from './schema.js';
import { dayStart, DAY_MS, daysAreWholeHours, HOUR_MS, nextDayStart, zoneOffsetMs } from '../catalog/time.js';

export type Source = 'raw' | Resolution;
export const ROLLUP_AGGREGATES = ['mean', 'min', 'max', 'sum', 'count'] as const;
export type RollupAggregate = (typeof ROLLUP_AGGREGATES)[number];

export interface HistorySettings {
  rollupRp: string;
  rawRetentionMs: number | null;
  timezone: string;
  /** Which fields a rollup measurement holds (only those are asked for). */
  fieldKeys?: FieldKeys;
  /** Earliest hour of [from, to) of the device whose rollup is still being recomputed, or null. */
  firstPending?: (kind: Kind, deviceId: string, from: number, to: number) => number | null;
  /** Stored rollup rows kept in memory (absent where another process may recompute them unseen, as in a cluster). */
  rowCache?: RollupRowCache;
  /** Raw points of past hours kept in memory, for the partial windows at an answer's ends (absent where rowCache is). */
  rawHours?: RawHourCache;
}

export interface Every {
  text: string;
  ms: number;
}

export interface AggregateRequest {
  kind: Kind;
  deviceId: string;
  fields: string[];
  every: Every;
  agg: string;
  from: number;
  to: number;
  now: number;
}

export interface Plan {
  source: Source;
  /** Range actually answered: `from` rounds down to a bucket start beyond raw retention. */
  from: number;
  to: number;
  /** Rollups cover [rollupFrom, rollupTo); raw readings the rest. */
  rollupFrom: number;
  rollupTo: number;
}

export class AggregateRefused extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

/** True when `every` makes windows of whole local days. */
export function isDayWindow(every: Every): boolean {
  return every.ms % DAY_MS === 0;
}

/** The start of the window of `every` that holds `t`, as InfluxDB's GROUP BY time() (with tz() for days) makes it. */
export function windowStart(every: Every, timezone: string, t: number): number {
  if (!isDayWindow(every)) return Math.floor(t / every.ms) * every.ms;
  const offset = zoneOffsetMs(timezone, t);
  return Math.floor((t + offset) / every.ms) * every.ms - offset;
}

export function planAggregate(req: AggregateRequest, history: HistorySettings | undefined): Plan {
  const raw: Plan = { source: 'raw', from: req.from, to: req.to, rollupFrom: req.to, rollupTo: req.to };
  const pastRetention = history !== undefined && history.rawRetentionMs !== null && req.from < req.now - history.rawRetentionMs;
  const decomposable = (ROLLUP_AGGREGATES as readonly string[]).includes(req.agg);
  if (pastRetention && !decomposable) {
    throw new AggregateRefused('agg', `agg: ${req.agg} needs raw readings, which are kept ${Math.round(history!.rawRetentionMs! / DAY_MS)} days (PANTAU_RAW_RETENTION); from reaches past that — use mean, min, max, sum or count (answered from the rollups) or a later from`);
  }
  if (!history || !decomposable || req.every.ms % HOUR_MS !== 0) return raw;
  const { timezone } = history;
  // daily buckets for whole-day windows; hourly ones otherwise (and for days only when days are whole hours)
  let resolution: Resolution = isDayWindow(req.every) ? '1d' : '1h';
  const floorBucket = (t: number, r: Resolution) => (r === '1d' ? dayStart(timezone, t) : Math.floor(t / HOUR_MS) * HOUR_MS);
  const ceilBucket = (t: number, r: Resolution) => {
    const f = floorBucket(t, r);
    return f === t ? t : r === '1d' ? nextDayStart(timezone, f) : f + HOUR_MS;
  };
  const bucketMs = (r: Resolution) => (r === '1d' ? DAY_MS : HOUR_MS);
  let from = req.from;
  let a = pastRetention ? floorBucket(from, resolution) : ceilBucket(from, resolution);
  let b = floorBucket(req.to, resolution);
  if (resolution === '1d' && b - a < 3 * DAY_MS && daysAreWholeHours(timezone, req.from, req.to)) {
    // too few whole days: whole hours may still be worth it
    resolution = '1h';
    a = pastRetention ? floorBucket(from, '1h') : ceilBucket(from, '1h');
    b = floorBucket(req.to, '1h');
  }
  if (pastRetention) from = a;
  // buckets still being recomputed come from raw readings
  const pending = history.firstPending?.(req.kind, req.deviceId, a, b);
  if (pending !== null && pending !== undefined) b = Math.max(a, floorBucket(pending, resolution));
  if (!pastRetention && b - a < 3 * bucketMs(resolution)) return raw;
  if (b <= a) return { ...raw, from };
  return { source: resolution, from, to: req.to, rollupFrom: a, rollupTo: b };
}

/** The stats an aggregate needs: a mean Σsum/Σcount, the others one each. */
const NEEDS: Record<RollupAggregate, readonly Stat[]> = { mean: ['sum', 'count'], sum: ['sum'], count: ['count'], min: ['min'], max: ['max'] };

/**
 * The windows of an answer as they are combined from their parts: one row per window start, one column per field
 * and needed stat, NaN where no part has given a value yet. A year of hourly windows is 8,760 rows: numbers in
 * typed arrays, not an object per window and field.
 */
export class WindowTable {
  private readonly rowOf = new Map<number, number>();
  private starts = new Float64Array(64);
  private cells: Float64Array;
  private rows = 0;
  private readonly width: number;
  /** Stat codes of `needs`: 0 sum, 1 count, 2 min, 3 max. */
  private readonly codes: number[];

  constructor(
    private readonly fields: readonly string[],
    private readonly needs: readonly Stat[],
  ) {
    this.width = fields.length * needs.length;
    this.codes = needs.map((s) => ['sum', 'count', 'min', 'max'].indexOf(s));
    this.cells = new Float64Array(64 * this.width).fill(NaN);
  }

  /**
   * One row of a part: `value(field, stat)` gives its value (indices into fields and needs) or anything else for
   * none. A field whose every stat is missing, NaN or a count ≤ 0 adds nothing; a window that gets nothing is not made.
   */
  merge(ts: number, value: (field: number, stat: number) => unknown): void {
    const n = this.needs.length;
    let row = -1;
    for (let fi = 0; fi < this.fields.length; fi++) {
      for (let si = 0; si < n; si++) {
        const v = value(fi, si);
        if (typeof v !== 'number' || Number.isNaN(v)) continue;
        const code = this.codes[si]!;
        if (code === 1 && v <= 0) continue;
        if (row < 0) row = this.row(ts);
        const at = row * this.width + fi * n + si;
        const prev = this.cells[at]!;
        this.cells[at] = Number.isNaN(prev) ? v : code <= 1 ? prev + v : code === 2 ? Math.min(prev, v) : Math.max(prev, v);
      }
    }
  }

  /** Windows in time order, each with the fields whose `agg` has a finite value; windows without one left out. */
  answer(agg: RollupAggregate): Array<{ ts: number; values: Record<string, number> }> {
    const order = Array.from({ length: this.rows }, (_, r) => r);
    const starts = this.starts;
    let sorted = true;
    for (let r = 1; r < this.rows && sorted; r++) sorted = starts[r - 1]! < starts[r]!;
    if (!sorted) order.sort((x, y) => starts[x]! - starts[y]!);
    const n = this.needs.length;
    const out: Array<{ ts: number; values: Record<string, number> }> = [];
    for (const r of order) {
      let values: Record<string, number> | undefined;
      for (let fi = 0; fi < this.fields.length; fi++) {
        const at = r * this.width + fi * n;
        // a mean is Σsum / Σcount (needs: sum, count); the others are their one stat
        const v = agg === 'mean' ? this.cells[at]! / this.cells[at + 1]! : this.cells[at]!;
        if (!Number.isFinite(v)) continue;
        (values ??= {})[this.fields[fi]!] = v;
      }
      if (values) out.push({ ts: starts[r]!, values });
    }
    return out;
  }

  private row(ts: number): number {
    const known = this.rowOf.get(ts);
    if (known !== undefined) return known;
    const r = this.rows++;
    if (r === this.starts.length) {
      const starts = new Float64Array(r * 2);
      starts.set(this.starts);
      this.starts = starts;
      const cells = new Float64Array(r * 2 * this.width).fill(NaN);
      cells.set(this.cells);
      this.cells = cells;
    }
    this.starts[r] = ts;
    this.rowOf.set(ts, r);
    return r;
  }
}

/** Where an answer's time went: wall-clock ms during which at least one InfluxDB query was waited for. */
export interface AggregateTiming {
  influxMs: number;
}

/**
 * Run the plan: per window and field, combine the parts and apply `agg`. Windows without values are left out.
 * `timing`, when given, gets the time spent waiting for InfluxDB (the API's Server-Timing header).
 */
export async function aggregateWindows(influx: InfluxClient, req: AggregateRequest, plan: Plan, history: HistorySettings | undefined, timing?: AggregateTiming): Promise<Array<{ ts: number; values: Record<string, number> }>> {
  let waiting = 0;
  let since = 0;
  const queryEach = (statements: string[], p: Record<string, string>): Promise<Series[][]> => {
    if (statements.length === 0) return Promise.resolve([]);
    if (waiting++ === 0) since = performance.now();
    return influx.queryEach(statements, p).finally(() => {
      if (--waiting === 0 && timing) timing.influxMs += performance.now() - since;
    });
  };
  const query = (text: string, p: Record<string, string>): Promise<Series[]> => queryEach([text], p).then((r) => r[0]!);
  const tz = isDayWindow(req.every) && history ? ` ${tzClause(history.timezone)}` : '';
  const group = `GROUP BY time(${req.every.text}) fill(none)${tz}`;
  const where = '"device_id" = $device AND time >= $from AND time < $to';
  const measurement = quoteIdentifier(req.kind);
  if (plan.source === 'raw') {
    const select = req.fields.map(quoteIdentifier).map((f) => `${req.agg}(${f}) AS ${f}`).join(', ');
    const series = await query(`SELECT ${select} FROM ${measurement} WHERE ${where} ${group}`, params(req.deviceId, plan.from, plan.to));
    return rows(series[0], (columns, row) => {
      const values: Record<string, number> = {};
      for (let i = 1; i < columns.length; i++) if (typeof row[i] === 'number') values[columns[i]!] = row[i] as number;
      return values;
    });
  }
  const agg = req.agg as RollupAggregate;
  const needs = NEEDS[agg];
  const windows = new WindowTable(req.fields, needs);
  const merge = (series: Series | undefined) => {
    if (!series) return;
    const index = new Map(series.columns.map((c, i) => [c, i]));
    const at = req.fields.map((f) => needs.map((stat) => index.get(rollupColumn(f, stat)) ?? -1));
    for (const row of series.values) windows.merge(Number(row[0]), (fi, si) => row[at[fi]![si]!]);
  };
  const rollupSource = rollupFrom(history!.rollupRp, req.kind, plan.source);
  const rawStats = rawStatsSelect(req.kind, req.fields, needs);
  // every part but the cached rows goes to InfluxDB in one request, each statement with its own range ($from1, …):
  // a city's 20 answers at once would otherwise be 40–60 requests in the client's line of 4
  const batch = new Statements(req.deviceId);
  const part = batch.add;
  const timezone = history!.timezone;
  const cache = history!.rowCache;
  const cached: Array<Promise<void>> = [];
  /** Stored rows of `resolution` in [from, to) from the row cache, each into the window that holds it. */
  const cachedRows = (resolution: Resolution, from: number, to: number) => {
    // every field's stats that the measurement holds (a regular expression selects only existing fields)
    const columns = `/_(${needs.join('|')})$/`;
    const source = rollupFrom(history!.rollupRp, req.kind, resolution);
    const fetch = (a: number, b: number) => query(`SELECT ${columns} FROM ${source} WHERE ${where}`, params(req.deviceId, a, b)).then((series) => toRowChunk(series[0]));
    const window = req.every.ms === (resolution === '1d' ? DAY_MS : HOUR_MS) ? (ts: number) => ts : (ts: number) => windowStart(req.every, timezone, ts);
    cached.push(
      cache!.chunks({ kind: req.kind, resolution, deviceId: req.deviceId, stats: needs }, from, to, fetch).then((chunks) => {
        for (const c of chunks) {
          const width = c.columns.length;
          const at = req.fields.map((f) => needs.map((stat) => c.columns.indexOf(rollupColumn(f, stat))));
          for (let r = 0; r < c.ts.length; r++) {
            const ts = c.ts[r]!;
            if (ts < from || ts >= to) continue;
            windows.merge(window(ts), (fi, si) => (at[fi]![si]! < 0 ? undefined : c.data[r * width + at[fi]![si]!]));
          }
        }
      }),
    );
  };
  // raw points of a part inside one past hour that no reading is waiting on come from the raw-hour cache (read
  // whole, once, as a statement of this request where missing); other parts ask InfluxDB for their statistics
  const rawHours = history!.rawHours;
  const fromMemory: Array<{ from: number; to: number; points: Promise<RawHourFill> }> = [];
  const fills = new Map<number, { resolve: (p: RawHourFill) => void; reject: (err: unknown) => void }>();
  const rawPart = (from: number, to: number) => {
    if (from >= to) return;
    const hour = Math.floor(from / HOUR_MS) * HOUR_MS;
    const oneWindow = to <= hour + HOUR_MS && (!isDayWindow(req.every) || daysAreWholeHours(timezone, from, to));
    if (rawHours && oneWindow && (history!.firstPending?.(req.kind, req.deviceId, hour, hour + HOUR_MS) ?? null) === null) {
      let points = rawHours.lookup(req.kind, req.deviceId, hour);
      if (!points) {
        const n = part(`SELECT ${fieldNames(req.kind).map(quoteIdentifier).join(', ')} FROM ${measurement}`, hour, hour + HOUR_MS, ` LIMIT ${rawHours.maxPoints + 1}`);
        points = new Promise<RawHourFill>((resolve, reject) => fills.set(n, { resolve, reject }));
        rawHours.fill(req.kind, req.deviceId, hour, points);
      }
      fromMemory.push({ from, to, points });
      return;
    }
    part(`SELECT ${rawStats} FROM ${measurement}`, from, to, ` ${group}`);
  };
  // windows as long as the rollup's buckets: each stored bucket is a window already (its time is the window's start,
  // as GROUP BY time() would make it), so the rows are read as they are, without InfluxDB grouping a year of them;
  // rows of one window (a device that moved city has one series per city) are combined by `merge`
  const asStored = req.every.ms === (plan.source === '1d' ? DAY_MS : HOUR_MS);
  const hourlySource = rollupFrom(history!.rollupRp, req.kind, '1h');
  const hourlyKeys = plan.source === '1d' && !cache && history!.fieldKeys ? await history!.fieldKeys.keys(hourlySource) : undefined;
  // raw parts hour by hour, so that each past hour can come from the raw-hour cache (a partial day of one whole hour
  // and a part of the hour before it would otherwise be one statement to InfluxDB on every request)
  const rawHoursOf = (from: number, to: number) => {
    for (let t = from; t < to; ) {
      const next = Math.min(to, Math.floor(t / HOUR_MS) * HOUR_MS + HOUR_MS);
      rawPart(t, next);
      t = next;
    }
  };
  // the partial days at either end of a daily answer: their whole hours from the hourly rollups (a `from=-365d`
  // would otherwise read up to two days of raw points), the rest and any hour still pending from raw points
  const edge = (from: number, to: number) => {
    const h0 = Math.ceil(from / HOUR_MS) * HOUR_MS;
    let h1 = Math.floor(to / HOUR_MS) * HOUR_MS;
    const hours = () => plan.source === '1d' && h1 - h0 >= 2 * HOUR_MS;
    if (!daysAreWholeHours(timezone, from, to)) return rawPart(from, to);
    if (!hours()) return rawHoursOf(from, to);
    const pending = history!.firstPending?.(req.kind, req.deviceId, h0, h1);
    if (pending !== null && pending !== undefined) h1 = Math.max(h0, pending);
    if (!hours()) return rawHoursOf(from, to);
    rawPart(from, h0);
    if (cache) cachedRows('1h', h0, h1);
    else {
      const fields = hourlyKeys ? req.fields.filter((f) => hourlyKeys.has(rollupColumn(f, needs[0]!))) : req.fields;
      if (fields.length > 0) part(`SELECT ${rollupStatsSelect(req.kind, fields, needs)} FROM ${hourlySource}`, h0, h1, ` ${group}`);
    }
    rawHoursOf(h1, to);
  };
  if (asStored && cache) cachedRows(plan.source, plan.rollupFrom, plan.rollupTo);
  else {
    const keys = history!.fieldKeys ? await history!.fieldKeys.keys(rollupSource) : undefined;
    const rollupFields = keys ? req.fields.filter((f) => keys.has(rollupColumn(f, needs[0]!))) : req.fields;
    const rollupSelect = asStored
      ? `SELECT ${rollupFields.flatMap((f) => needs.map((stat) => quoteIdentifier(rollupColumn(f, stat)))).join(', ')} FROM ${rollupSource}`
      : `SELECT ${rollupStatsSelect(req.kind, rollupFields, needs)} FROM ${rollupSource}`;
    if (rollupFields.length > 0) part(rollupSelect, plan.rollupFrom, plan.rollupTo, asStored ? '' : ` ${group}`);
  }
  edge(plan.from, plan.rollupFrom);
  edge(plan.rollupTo, plan.to);
  let answers: Series[][];
  try {
    [, answers] = await Promise.all([Promise.all(cached), queryEach(batch.list, batch.params)]);
  } catch (err) {
    for (const f of fills.values()) f.reject(err);
    throw err;
  }
  for (let n = 0; n < answers.length; n++) {
    const fill = fills.get(n);
    if (fill) fill.resolve(toRawHour(answers[n]![0], rawHours!.maxPoints));
    else merge(answers[n]![0]);
  }
  // the parts from raw hours in memory: an hour too large to keep (or whose read by another answer failed) is asked
  // for its statistics after all
  const stats = new Float64Array(req.fields.length * STATS.length);
  const codes = needs.map((stat) => STATS.indexOf(stat));
  const again = new Statements(req.deviceId);
  for (const m of fromMemory) {
    const points = await m.points.catch((): RawHourFill => TOO_LARGE);
    if (points === TOO_LARGE) {
      again.add(`SELECT ${rawStats} FROM ${measurement}`, m.from, m.to, ` ${group}`);
      continue;
    }
    if (rawStatsOf(points, req.fields, m.from, m.to, stats) === 0) continue;
    windows.merge(windowStart(req.every, timezone, m.from), (fi, si) => stats[fi * STATS.length + codes[si]!]);
  }
  for (const series of await queryEach(again.list, again.params)) merge(series[0]);
  return windows.answer(agg);
}

/** Statements of one InfluxDB request about one device, each with its own range (`$from0`/`$to0`, `$from1`, …). */
class Statements {
  readonly list: string[] = [];
  readonly params: Record<string, string>;

  constructor(device: string) {
    this.params = { device };
  }

  /** `select` over [from, to) of the device, then `tail`; returns the statement's index in the answer. */
  readonly add = (select: string, from: number, to: number, tail: string): number => {
    const n = this.list.length;
    this.params[`from${n}`] = new Date(from).toISOString();
    this.params[`to${n}`] = new Date(to).toISOString();
    this.list.push(`${select} WHERE "device_id" = $device AND time >= $from${n} AND time < $to${n}${tail}`);
    return n;
  };
}

function params(device: string, from: number, to: number): Record<string, string> {
  return { device, from: new Date(from).toISOString(), to: new Date(to).toISOString() };
}

function rows(series: Series | undefined, values: (columns: string[], row: unknown[]) => Record<string, number>): Array<{ ts: number; values: Record<string, number> }> {
  if (!series) return [];
  const out: Array<{ ts: number; values: Record<string, number> }> = [];
  for (const row of series.values) {
    const v = values(series.columns, row);
    if (Object.keys(v).length > 0) out.push({ ts: Number(row[0]), values: v });
  }
  return out;
}

