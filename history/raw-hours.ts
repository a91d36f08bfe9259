// Raw points of past hours kept in memory, for the partial windows at the ends of an aggregated answer
// (docs/history.md, Performance). A request's `from` and `to` are to the millisecond, so its first and last windows
// are only partly inside the range and come from raw points; a dashboard that asks for the last 30 days every
// 30 seconds, or a city's 20 devices at once, asked InfluxDB for the same hours again and again.
//
// Only hours that no reading is waiting on are used: an hour whose rollup is still pending (a reading came in for
// it and the rollup job has not recomputed it yet) is read from InfluxDB, as before. An hour is forgotten when the
// rollup job has recomputed it (the job recomputes an hour only after every reading of it is in InfluxDB), so a late
// reading is never missed for longer than a rollup row would miss it; a fill that was under way at that moment is
// answered but not kept. Hours are also read again after `maxAgeMs` (10 minutes): InfluxDB's retention service
// deletes expired raw points by itself. An hour with more than `maxPoints` points (a device publishing every
// second or faster) is not kept: it is remembered as too large for as long, and read from InfluxDB's aggregates.
import type { Kind } from '../catalog/index.js';
import { HOUR_MS } from '../catalog/time.js';
import type { Series } from '../influx/client.js';
import { FillCache, type FillOptions, type Filled } from './fill-cache.js';
import { toRowChunk, type RowChunk } from './row-cache.js';

/** One device's raw points of one hour: times ascending, one column per field (its name), NaN where a point has no value. */
export type RawHour = RowChunk;

/** An hour with more points than the cache keeps. */
export const TOO_LARGE = 'too large';
export type RawHourFill = RawHour | typeof TOO_LARGE;

/** Points per hour kept at most: one a second. */
export const RAW_HOUR_MAX_POINTS = 3600;

interface Entry extends Filled<RawHourFill> {
  kind: Kind;
  deviceId: string;
  hour: number;
}

export class RawHourCache extends FillCache<RawHourFill, Entry> {
  /**
   * `maxCells` 1 million values (about 8 MiB), `maxAgeMs` 10 minutes, `maxPoints` RAW_HOUR_MAX_POINTS by default;
   * `externalVersion`: changes when another process has rebuilt rollups (`npm run rollups`, after raw points were
   * corrected straight in InfluxDB): then every hour is forgotten, as the row cache forgets its rows.
   */
  /** Points an hour may have and be kept. */
  readonly maxPoints: number;

  constructor(options: FillOptions & { maxPoints?: number } = {}) {
    super(options, { maxCells: 1_000_000, maxAgeMs: 600_000 }, (p) => (p === TOO_LARGE ? 1 : p.ts.length + p.data.length));
    this.maxPoints = options.maxPoints ?? RAW_HOUR_MAX_POINTS;
  }

  /** The points of the hour starting at `hour`, held or being read, or undefined (then the caller reads and `fill`s). */
  lookup(kind: Kind, deviceId: string, hour: number, now = Date.now()): Promise<RawHourFill> | undefined {
    return this.hit(key(kind, deviceId, hour), now)?.value;
  }

  /** Keep what `points` gives for the hour, unless an invalidation comes first or it fails. */
  fill(kind: Kind, deviceId: string, hour: number, points: Promise<RawHourFill>, now = Date.now()): void {
    this.keep(key(kind, deviceId, hour), { kind, deviceId, hour, value: points, cells: 0, at: now });
  }

  /** Hours of [from, to) of `kind` were recomputed, of one device or (deviceId undefined) of any: forget them. */
  invalidate(kind: Kind, from: number, to: number, deviceId?: string): void {
    const first = Math.floor(from / HOUR_MS) * HOUR_MS;
    this.forget((e) => e.kind === kind && e.hour >= first && e.hour < to && (deviceId === undefined || e.deviceId === deviceId));
  }

  /** Hours and values held (for tests and the cache's bound). */
  size(): { hours: number; cells: number } {
    const held = this.held();
    return { hours: held.entries, cells: held.cells };
  }
}

function key(kind: Kind, deviceId: string, hour: number): string {
  return `${kind}\u0000${deviceId}\u0000${hour}`;
}

/** InfluxDB's answer to `SELECT <fields> … LIMIT maxPoints + 1` (`epoch=ms`) → the hour's points, or TOO_LARGE. */
export function toRawHour(series: Series | undefined, maxPoints: number): RawHourFill {
  return series && series.values.length > maxPoints ? TOO_LARGE : toRowChunk(series);
}

/** First index of `ts` (ascending) at or after `t`. */
function lowerBound(ts: Float64Array, t: number): number {
  let lo = 0;
  let hi = ts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Σsum, count, min and max of each of `fields` over the points in [from, to), as InfluxDB's sum(), count(), min()
 * and max() over raw points give them: `out[field * 4 + stat]` (0 sum, 1 count, 2 min, 3 max); NaN sum, min and
 * max for a field without a point in the range. Returns the number of points in the range.
 */
export function rawStats(hour: RawHour, fields: readonly string[], from: number, to: number, out: Float64Array): number {
  const a = lowerBound(hour.ts, from);
  const b = lowerBound(hour.ts, to);
  const width = hour.columns.length;
  for (let f = 0; f < fields.length; f++) {
    const c = hour.columns.indexOf(fields[f]!);
    let sum = 0;
    let count = 0;
    let min = Infinity;
    let max = -Infinity;
    if (c >= 0) {
      for (let r = a; r < b; r++) {
        const v = hour.data[r * width + c]!;
        if (Number.isNaN(v)) continue;
        sum += v;
        count++;
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
    out[f * 4] = count > 0 ? sum : NaN;
    out[f * 4 + 1] = count;
    out[f * 4 + 2] = count > 0 ? min : NaN;
    out[f * 4 + 3] = count > 0 ? max : NaN;
  }
  return b - a;
}
