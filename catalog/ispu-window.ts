// The time windows ISPU is averaged over, stated once for the API, the alert engine and the `indices` measurement.
//
// - 24-hour ISPU: the trailing 24 hours, cut into 24 equal one-hour buckets that end at the evaluation time. Each
//   pollutant's mean is the mean of its hourly means (an hour with many readings does not outweigh a quiet one),
//   over the hours that have data; `hoursCovered` counts them (0–24). Clock-hour buckets would not do: at 10:01
//   they give 25 buckets, one of them a single minute weighing as much as a full hour.
// - Hourly PM2.5 (`pm25Hourly`): the mean of the last 60 minutes, i.e. the newest of those buckets.
//
// The evaluation time is the end of the current minute, so a window is a whole number of minutes and readings can be
// kept as per-minute sums (from InfluxDB `GROUP BY time(1m)`, and in memory for readings InfluxDB does not have
// yet). Both paths go through `trailingIspu`, so they cannot disagree.
import { ISPU_POLLUTANTS, ispu, ispuCategory, subIndex, type IspuCategory, type IspuPollutant } from './ispu.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const ISPU_WINDOW_HOURS = 24;
export const ISPU_WINDOW_MS = ISPU_WINDOW_HOURS * HOUR_MS;

/** Sums and counts of each pollutant's readings in one minute. */
export type MinuteSums = Partial<Record<IspuPollutant, { sum: number; n: number }>>;

/** The window of an evaluation at `now`: [to − 24 h, to), `to` the end of `now`'s minute. */
export function ispuWindow(now: number): { from: number; to: number } {
  const to = Math.floor(now / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  return { from: to - ISPU_WINDOW_MS, to };
}

/** Adds one reading's pollutants to the sums of its minute. */
export function addToMinutes(minutes: Map<number, MinuteSums>, ts: number, values: Readonly<Record<string, number | undefined>>): void {
  const minute = Math.floor(ts / MINUTE_MS);
  let sums = minutes.get(minute);
  for (const p of ISPU_POLLUTANTS) {
    const v = values[p];
    if (v === undefined || !Number.isFinite(v) || v < 0) continue;
    sums ??= {};
    const acc = (sums[p] ??= { sum: 0, n: 0 });
    acc.sum += v;
    acc.n++;
  }
  if (sums) minutes.set(minute, sums);
}

export interface TrailingIspu {
  value: number;
  category: IspuCategory;
  dominant: IspuPollutant;
  subIndices: Partial<Record<IspuPollutant, number>>;
  /** Hourly buckets of the 24 that hold data of any pollutant (0–24). */
  hoursCovered: number;
  /** The 24-hour window, epoch ms: [from, to). */
  from: number;
  to: number;
  /** Sub-index of the mean PM2.5 of the last 60 minutes [to − 1 h, to), or null without PM2.5 in them. */
  pm25Hourly: { value: number; category: IspuCategory; from: number; to: number } | null;
}

/** ISPU of the trailing 24 hours at `now`, from per-minute sums (epoch minute → sums); null without data. */
export function trailingIspu(minutes: ReadonlyMap<number, MinuteSums>, now: number): TrailingIspu | null {
  const { from, to } = ispuWindow(now);
  const firstMinute = from / MINUTE_MS;
  const hours: MinuteSums[] = Array.from({ length: ISPU_WINDOW_HOURS }, () => ({}));
  for (const [minute, sums] of minutes) {
    const offset = minute - firstMinute;
    if (offset < 0 || offset >= ISPU_WINDOW_HOURS * 60) continue;
    const hour = hours[Math.floor(offset / 60)]!;
    for (const p of ISPU_POLLUTANTS) {
      const s = sums[p];
      if (!s || s.n === 0) continue;
      const acc = (hour[p] ??= { sum: 0, n: 0 });
      acc.sum += s.sum;
      acc.n += s.n;
    }
  }
  const hourlyMeans: Partial<Record<IspuPollutant, { sum: number; n: number }>> = {};
  let hoursCovered = 0;
  for (const hour of hours) {
    let any = false;
    for (const p of ISPU_POLLUTANTS) {
      const s = hour[p];
      if (!s || s.n === 0) continue;
      any = true;
      const acc = (hourlyMeans[p] ??= { sum: 0, n: 0 });
      acc.sum += s.sum / s.n;
      acc.n++;
    }
    if (any) hoursCovered++;
  }
  const means: Partial<Record<IspuPollutant, number>> = {};
  for (const p of ISPU_POLLUTANTS) {
    const acc = hourlyMeans[p];
    if (acc) means[p] = acc.sum / acc.n;
  }
  const result = ispu(means);
  if (!result) return null;
  const last = hours[ISPU_WINDOW_HOURS - 1]!.pm25;
  let pm25Hourly: TrailingIspu['pm25Hourly'] = null;
  if (last && last.n > 0) {
    const value = Math.round(subIndex('pm25', last.sum / last.n));
    pm25Hourly = { value, category: ispuCategory(value), from: to - HOUR_MS, to };
  }
  return { ...result, hoursCovered, from, to, pm25Hourly };
}
