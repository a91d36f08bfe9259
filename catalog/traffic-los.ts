// Level of service (LOS, "tingkat pelayanan jalan") A–F of an urban traffic counter.
//
// Method. Indonesia's road regulation (KM 14/2006) grades arterials by absolute speed (A ≥ 100 km/h … F < 50 km/h),
// which would grade every city street F. Pantau therefore grades urban counters by speed relative to the road's
// free-flow speed, in the spirit of the US HCM urban-street method:
//
//   speed / free-flow speed   > 85 % A · > 67 % B · > 50 % C · > 40 % D · > 30 % E · ≤ 30 % F
//
// and F whenever the flow rate exceeds the road's capacity (forced flow), whatever the speed.
//
// Window. Like the HCM (15-minute flow rates) Pantau grades the last 15 minutes, not one counting interval: the
// flow rate is the vehicles counted in the window × 3600 / the seconds the window's intervals cover, and the speed is
// the space-mean speed of those vehicles (harmonic mean of the intervals' speeds, weighted by their counts). One
// 60-second count swings ±30 % by chance alone; graded on its own it made ordinary minutes F. And one interval never
// decides F: forced flow needs the window to cover at least `LOS_MIN_SECONDS_FOR_F` (5 min); until then the grade
// stops at E.
//
// Boundaries are compared exactly in decimal: 30.6 km/h on a 36 km/h road is 85 %, which is B (A needs more than
// 85 %), although 30.6 / 36 is 0.8500000000000001 in floating point.
//
// Two cases the speed rule cannot judge:
// - a counter that reports no speed is graded by volume/capacity with KM 14/2006's V/C column
//   (≤ 0.20 A · ≤ 0.45 B · ≤ 0.70 C · ≤ 0.85 D · ≤ 1.00 E · > 1 F);
// - a window in which no vehicle passed has no speed worth grading (many detectors then report 0 km/h):
//   an empty road is free flow, so it is graded by V/C too, which gives A.
import { z } from 'zod';
import { DEFAULT_TRAFFIC_INTERVAL_SECONDS, fieldSpec } from './kinds.js';
import { ColumnSeries } from './column-series.js';

export const LOS_GRADES = ['A', 'B', 'C', 'D', 'E', 'F'] as const;
export type Los = (typeof LOS_GRADES)[number];

/** Numeric grade, A = 1 … F = 6 (InfluxDB `los_num`). */
export const LOS_ORDER: Readonly<Record<Los, number>> = { A: 1, B: 2, C: 3, D: 4, E: 5, F: 6 };

/** A grade needs a speed ratio strictly above its bound; at or below the E bound is F. */
export const LOS_SPEED_RATIO_ABOVE: Readonly<Record<Exclude<Los, 'F'>, number>> = {
  A: 0.85,
  B: 0.67,
  C: 0.5,
  D: 0.4,
  E: 0.3,
};

/** KM 14/2006 volume/capacity column: a grade holds up to and including its bound; above the E bound is F. */
export const LOS_VOLUME_CAPACITY_MAX: Readonly<Record<Exclude<Los, 'F'>, number>> = {
  A: 0.2,
  B: 0.45,
  C: 0.7,
  D: 0.85,
  E: 1,
};

/** A two-lane urban street in Samarinda or Balikpapan, when the device does not say. */
export const DEFAULT_FREE_FLOW_SPEED = 50;
export const DEFAULT_CAPACITY = 1800;

const MAX_SPEED = fieldSpec('traffic', 'avgSpeed')?.max ?? 250;

export const trafficThresholdsShape = {
  /** Speed (km/h) of the road when it is empty. */
  freeFlowSpeed: z.number().positive().max(MAX_SPEED).optional(),
  /** Vehicles per hour the road carries at most. */
  capacity: z.number().positive().optional(),
};

export const trafficThresholdsSchema = z.strictObject(trafficThresholdsShape);
export type TrafficThresholds = z.infer<typeof trafficThresholdsSchema>;

/** The thresholds with the defaults filled in where the device leaves them out. */
export function withTrafficDefaults(thresholds: TrafficThresholds | null | undefined): Required<TrafficThresholds> {
  return {
    freeFlowSpeed: thresholds?.freeFlowSpeed ?? DEFAULT_FREE_FLOW_SPEED,
    capacity: thresholds?.capacity ?? DEFAULT_CAPACITY,
  };
}

/** The traffic fields LOS is judged from (a reading's values fit as they are). */
export interface TrafficMeasurement {
  avgSpeed?: number;
  vehicleCount?: number;
  intervalSeconds?: number;
}

export interface TrafficLosResult {
  los: Los;
  /** avgSpeed / freeFlowSpeed, or null when the speed was not used (none given, or no vehicles). */
  speedRatio: number | null;
  /** flowPerHour / capacity, or null without a vehicle count. */
  volumeCapacityRatio: number | null;
  /** Vehicles per hour, or null without a vehicle count. */
  flowPerHour: number | null;
}

const GRADED = LOS_GRADES.filter((g): g is Exclude<Los, 'F'> => g !== 'F');

/** A finite number as the exact fraction of its shortest decimal form: 30.6 → 306/10, 1e-7 → 1/10000000. */
function decimalFraction(x: number): [bigint, bigint] {
  const [mantissa, exponent] = x.toString().split('e') as [string, string | undefined];
  const [whole, fraction = ''] = mantissa.split('.') as [string, string | undefined];
  const e = Number(exponent ?? 0) - fraction.length;
  const n = BigInt(whole + fraction);
  return e >= 0 ? [n * 10n ** BigInt(e), 1n] : [n, 10n ** BigInt(-e)];
}

/** Sign of a/b − bound, computed exactly on the decimal values as written (b > 0). */
export function compareRatio(a: number, b: number, bound: number): -1 | 0 | 1 {
  // Far from the bound the floating-point quotient (relative error ≤ 2⁻⁵³, as is each decimal's distance from its
  // double) already has the right sign; only near a tie is the exact, much slower, decimal comparison needed.
  const gap = a / b - bound;
  if (Number.isFinite(gap) && Math.abs(gap) > 1e-9 * Math.max(1, Math.abs(bound))) return gap > 0 ? 1 : -1;
  const [an, ad] = decimalFraction(a);
  const [bn, bd] = decimalFraction(b);
  const [cn, cd] = decimalFraction(bound);
  // a/b vs c  ⇔  an·bd·cd vs cn·ad·bn  (all denominators and bn positive)
  const left = an * bd * cd;
  const right = cn * ad * bn;
  return left > right ? 1 : left < right ? -1 : 0;
}

/** Grade of a speed against the free-flow speed, compared exactly (exactly 85 % is B). */
export function losFromSpeed(speed: number, freeFlowSpeed: number): Los {
  return GRADED.find((grade) => compareRatio(speed, freeFlowSpeed, LOS_SPEED_RATIO_ABOVE[grade]) > 0) ?? 'F';
}

/** Grade of a flow rate against capacity by KM 14/2006's V/C column, compared exactly. */
export function losFromVolume(flowPerHour: number, capacity: number): Los {
  return GRADED.find((grade) => compareRatio(flowPerHour, capacity, LOS_VOLUME_CAPACITY_MAX[grade]) <= 0) ?? 'F';
}

export function losFromSpeedRatio(ratio: number): Los {
  return losFromSpeed(ratio, 1);
}

export function losFromVolumeCapacity(ratio: number): Los {
  return losFromVolume(ratio, 1);
}

/** Grades a flow rate and speed (either may be missing). `forcedFlowAllowed` false stops the grade at E. */
function grade(
  flowPerHour: number | null,
  speed: number | null,
  road: Required<TrafficThresholds>,
  forcedFlowAllowed: boolean,
): TrafficLosResult | null {
  const { freeFlowSpeed, capacity } = road;
  let los: Los;
  if (flowPerHour !== null && compareRatio(flowPerHour, capacity, 1) > 0) los = 'F';
  else if (speed !== null) los = losFromSpeed(speed, freeFlowSpeed);
  else if (flowPerHour !== null) los = losFromVolume(flowPerHour, capacity);
  else return null;
  if (los === 'F' && !forcedFlowAllowed) los = 'E';
  return {
    los,
    speedRatio: speed === null ? null : speed / freeFlowSpeed,
    volumeCapacityRatio: flowPerHour === null ? null : flowPerHour / capacity,
    flowPerHour,
  };
}

/** LOS of one counting interval on its own, or null when it has neither a speed nor a vehicle count. */
export function trafficLos(
  measurement: TrafficMeasurement,
  thresholds?: TrafficThresholds | null,
): TrafficLosResult | null {
  const { avgSpeed, vehicleCount } = measurement;
  const interval = measurement.intervalSeconds ?? DEFAULT_TRAFFIC_INTERVAL_SECONDS;
  const flowPerHour = vehicleCount === undefined ? null : (vehicleCount * 3600) / interval;
  const speed = avgSpeed === undefined || vehicleCount === 0 ? null : avgSpeed;
  return grade(flowPerHour, speed, withTrafficDefaults(thresholds), true);
}

// --- the 15-minute window ----------------------------------------------------------------------------------

export const LOS_WINDOW_MS = 15 * 60_000;
/** Forced flow (F) needs the window to cover at least this many seconds of counting. */
export const LOS_MIN_SECONDS_FOR_F = 300;

/** One counting interval ending at `ts`. */
export interface TrafficInterval extends TrafficMeasurement {
  ts: number;
}

export interface TrafficWindowResult extends TrafficLosResult {
  /** Seconds of counting the window's intervals cover (at most 900). */
  coveredSeconds: number;
  /** Intervals in the window. */
  intervals: number;
}

/** Rounds to `digits` decimals, so that a computed mean of readings of 30.6 km/h is 30.6 again. */
function roundTo(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** What grading a window needs, summed over its intervals (`standing`: vehicles counted at 0 km/h). */
interface WindowSums {
  intervals: number;
  vehicles: number;
  countedSeconds: number;
  coveredSeconds: number;
  weightedVehicles: number;
  weightedTime: number;
  standing: number;
  plainSpeedSum: number;
  plainSpeeds: number;
}

const emptySums = (): WindowSums => ({
  intervals: 0,
  vehicles: 0,
  countedSeconds: 0,
  coveredSeconds: 0,
  weightedVehicles: 0,
  weightedTime: 0,
  standing: 0,
  plainSpeedSum: 0,
  plainSpeeds: 0,
});

/** Adds (`sign` 1) or removes (−1) one interval's share of the sums. */
function addInterval(s: WindowSums, i: TrafficMeasurement, sign: 1 | -1): void {
  const seconds = i.intervalSeconds ?? DEFAULT_TRAFFIC_INTERVAL_SECONDS;
  s.intervals += sign;
  s.coveredSeconds += sign * seconds;
  if (i.vehicleCount !== undefined) {
    s.vehicles += sign * i.vehicleCount;
    s.countedSeconds += sign * seconds;
  }
  if (i.avgSpeed === undefined) return;
  // space-mean speed: Σn / Σ(n / v) over intervals with both; arithmetic mean of speeds where counts are missing
  if (i.vehicleCount === undefined) {
    s.plainSpeedSum += sign * i.avgSpeed;
    s.plainSpeeds += sign;
  } else if (i.vehicleCount > 0 && i.avgSpeed > 0) {
    s.weightedVehicles += sign * i.vehicleCount;
    s.weightedTime += sign * (i.vehicleCount / i.avgSpeed);
  } else if (i.vehicleCount > 0) {
    // standing traffic reported as 0 km/h: as slow as it gets
    s.weightedVehicles += sign * i.vehicleCount;
    s.standing += sign * i.vehicleCount;
  }
}

function gradeSums(s: WindowSums, thresholds?: TrafficThresholds | null): TrafficWindowResult | null {
  const flowPerHour = s.countedSeconds > 0 ? roundTo((s.vehicles * 3600) / s.countedSeconds, 2) : null;
  let speed: number | null = null;
  if (s.weightedVehicles > 0) speed = roundTo(s.weightedVehicles / (s.standing > 0 ? Infinity : s.weightedTime), 2);
  else if (s.plainSpeeds > 0 && s.vehicles === 0 && s.countedSeconds === 0) speed = roundTo(s.plainSpeedSum / s.plainSpeeds, 2);
  const covered = Math.min(s.coveredSeconds, 900);
  const result = grade(flowPerHour, speed, roadOf(thresholds), covered >= LOS_MIN_SECONDS_FOR_F);
  // grade's answer is a fresh object: completed in place (a counter's every reading is graded)
  if (!result) return null;
  const windowResult = result as TrafficWindowResult;
  windowResult.coveredSeconds = covered;
  windowResult.intervals = s.intervals;
  return windowResult;
}

/** A road's thresholds with the defaults filled in, made once per thresholds object (the registry replaces it on change). */
const roads = new WeakMap<TrafficThresholds, Required<TrafficThresholds>>();
const DEFAULT_ROAD = withTrafficDefaults(null);
function roadOf(thresholds: TrafficThresholds | null | undefined): Required<TrafficThresholds> {
  if (!thresholds) return DEFAULT_ROAD;
  let road = roads.get(thresholds);
  if (!road) roads.set(thresholds, (road = withTrafficDefaults(thresholds)));
  return road;
}

/**
 * LOS of the last 15 minutes at `now`: the flow rate (vehicles/h) and space-mean speed of the intervals that end
 * in (now − 15 min, now]. Null when the window has no interval with a count or a speed.
 */
export function trafficWindowLos(
  intervals: readonly TrafficInterval[],
  now: number,
  thresholds?: TrafficThresholds | null,
): TrafficWindowResult | null {
  const sums = emptySums();
  for (const i of intervals) if (i.ts > now - LOS_WINDOW_MS && i.ts <= now) addInterval(sums, i, 1);
  return gradeSums(sums, thresholds);
}

/** What a window keeps of an interval, besides its time. */
const TRAFFIC_COLUMNS = ['vehicleCount', 'intervalSeconds', 'avgSpeed'];

/** A second's folded intervals (`TrafficWindow`), as the sums grading needs; `ts` is the end of the second. */
export interface TrafficSecond extends WindowSums {
  ts: number;
}

const SUM_COLUMNS = Object.keys(emptySums()) as Array<keyof WindowSums>;

/** Below this many rows a window is summed afresh each time, exactly as `trafficWindowLos` does. */
const SCAN_BELOW = 64;

/**
 * Single intervals a window keeps, at most: a counter sending one interval a second has 900 in its 15 minutes and
 * is never folded. A faster one has its oldest half folded into per-second sums when it gets here.
 */
export const TRAFFIC_WINDOW_INTERVALS = 1024;

const SECOND_MS = 1000;
/** The end of the second an interval ending at `ts` is folded into: intervals in (end − 1 s, end]. */
const secondOf = (ts: number) => Math.ceil(ts / SECOND_MS) * SECOND_MS;

/** Adds (`sign` 1) or removes (−1) a folded second's sums. */
function addSums(s: WindowSums, t: Readonly<Record<string, number | undefined>>, sign: 1 | -1): void {
  for (const c of SUM_COLUMNS) s[c] += sign * t[c]!;
}

/**
 * One counter's intervals of the last 15 minutes before its newest, graded as `trafficWindowLos` grades them, at a
 * cost that does not grow with the window: a counter sending every second (or a benchmark sending 20 a second)
 * keeps up to 18,000 intervals, and re-summing them for every reading was the ingest's largest CPU cost. The sums
 * over all kept intervals follow each interval in and out, and are summed afresh after as many changes as the
 * window holds, so rounding cannot build up. A window smaller than 64 rows, or a grading time that leaves some
 * kept rows out (a late reading, a query long after the newest), is summed afresh.
 *
 * Memory is bounded by time, not by rate: past `TRAFFIC_WINDOW_INTERVALS` single intervals, the oldest half are
 * folded into per-second sums (at most 900 of them), as the ISPU tracker folds by the minute. Under the overload
 * benchmark (40 intervals a second per counter), unfolded windows were 167 MiB of columns at the peak. A folded
 * second is in the window or out of it as a whole, so a fast counter's window begins within a second of 15
 * minutes; for a counter whose intervals end on whole seconds (one a second or slower) that is exact. A late
 * reading in a second already folded is not counted: it might repeat a folded interval (a redelivered QoS 1
 * message), and a folded second cannot tell.
 */
export class TrafficWindow {
  // as columns (column-series.ts): as objects, intervals were a large part of the live heap
  readonly #series = new ColumnSeries(TRAFFIC_COLUMNS);
  readonly #seconds = new ColumnSeries(SUM_COLUMNS);
  #sums = emptySums();
  #changes = 0;
  readonly #unchange = (old: TrafficMeasurement) => this.#change(old, -1);
  readonly #dropped = (_ts: number, old: TrafficMeasurement) => this.#change(old, -1);
  readonly #droppedSecond = (_ts: number, old: Readonly<Record<string, number | undefined>>) => {
    addSums(this.#sums, old, -1);
    this.#changes++;
  };

  /**
   * `seconds`: folded seconds, as `seconds()` gave them (a restored snapshot); `maxIntervals`: single intervals kept
   * before the oldest half are folded (even).
   */
  constructor(
    intervals: readonly TrafficInterval[] = [],
    seconds: readonly TrafficSecond[] = [],
    private readonly maxIntervals = TRAFFIC_WINDOW_INTERVALS,
  ) {
    for (const t of seconds) {
      this.#seconds.put(t.ts, t);
      addSums(this.#sums, t as unknown as Record<string, number>, 1);
    }
    for (const i of intervals) this.put(i);
  }

  /** Rows kept: single intervals and folded seconds. */
  get size(): number {
    return this.#series.size + this.#seconds.size;
  }

  /** Rows the window's columns have room for: single intervals and folded seconds. */
  get capacity(): { intervals: number; seconds: number } {
    return { intervals: this.#series.capacity, seconds: this.#seconds.capacity };
  }

  /** Adds an interval (replacing one that ends at the same time) and drops those 15 minutes older than the newest. */
  put(interval: TrafficInterval): void {
    if (this.#seconds.size > 0 && secondOf(interval.ts) <= this.#seconds.newest!) return;
    this.#series.put(interval.ts, interval, this.#unchange);
    this.#change(interval, 1);
    const bound = this.#series.newest! - LOS_WINDOW_MS;
    this.#series.dropBefore(bound, true, this.#dropped);
    this.#seconds.dropBefore(bound, true, this.#droppedSecond);
    if (this.#series.size >= this.maxIntervals) this.#fold();
  }

  /** The single intervals kept, oldest first (the folded seconds are older: `seconds()`). */
  intervals(): TrafficInterval[] {
    return this.#series.toRecords().map(({ ts, vehicleCount, intervalSeconds, avgSpeed }) => {
      const i: TrafficInterval = { ts };
      if (vehicleCount !== undefined) i.vehicleCount = vehicleCount;
      if (intervalSeconds !== undefined) i.intervalSeconds = intervalSeconds;
      if (avgSpeed !== undefined) i.avgSpeed = avgSpeed;
      return i;
    });
  }

  /** The folded seconds, oldest first. */
  seconds(): TrafficSecond[] {
    return this.#seconds.toRecords() as unknown as TrafficSecond[];
  }

  /** LOS of (now − 15 min, now], as `trafficWindowLos` of the kept intervals (a folded second: its end decides). */
  los(now: number, thresholds?: TrafficThresholds | null): TrafficWindowResult | null {
    const [from, to] = this.#series.range(now - LOS_WINDOW_MS, now);
    const [first, end] = this.#series.bounds();
    const [secondsFrom, secondsTo] = this.#seconds.range(now - LOS_WINDOW_MS, now);
    const [firstSecond, endSecond] = this.#seconds.bounds();
    if (this.size < SCAN_BELOW || from !== first || to !== end || secondsFrom !== firstSecond || secondsTo !== endSecond) {
      const sums = emptySums();
      for (let i = secondsFrom; i < secondsTo; i++) addSums(sums, this.#seconds.row(i), 1);
      for (let i = from; i < to; i++) addInterval(sums, this.#series.row(i), 1);
      return gradeSums(sums, thresholds);
    }
    if (this.#changes > this.size) {
      this.#sums = emptySums();
      for (let i = firstSecond; i < endSecond; i++) addSums(this.#sums, this.#seconds.row(i), 1);
      for (let i = first; i < end; i++) addInterval(this.#sums, this.#series.row(i), 1);
      this.#changes = 0;
    }
    return gradeSums(this.#sums, thresholds);
  }

  /** The oldest half of the single intervals become per-second sums (the window's sums do not change). */
  #fold(): void {
    const [head] = this.#series.bounds();
    const last = this.#series.timeAt(head + this.maxIntervals / 2 - 1);
    // whole seconds only: the newest second reached may hold intervals not folded yet, so it stays single
    const bound = secondOf(last) - SECOND_MS;
    if (bound < this.#series.oldest!) return;
    let second = NaN;
    const sums = emptySums();
    const flush = () => {
      if (Number.isNaN(second)) return;
      this.#seconds.put(second, sums);
      Object.assign(sums, emptySums());
    };
    this.#series.dropBefore(bound, true, (ts, values) => {
      const s = secondOf(ts);
      if (s !== second) {
        flush();
        second = s;
      }
      addInterval(sums, values, 1);
    });
    flush();
  }

  #change(interval: TrafficMeasurement, sign: 1 | -1): void {
    addInterval(this.#sums, interval, sign);
    this.#changes++;
  }
}
