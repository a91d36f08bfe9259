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

/** Below this many intervals a window is summed afresh each time, exactly as `trafficWindowLos` does. */
const SCAN_BELOW = 64;

/**
 * One counter's intervals of the last 15 minutes before its newest, graded as `trafficWindowLos` grades them, at a
 * cost that does not grow with the window: a counter sending every second (or a benchmark sending 20 a second)
 * keeps up to 18,000 intervals, and re-summing them for every reading was the ingest's largest CPU cost. The sums
 * over all kept intervals follow each interval in and out, and are summed afresh after as many changes as the
 * window holds, so rounding cannot build up. A window smaller than 64 intervals, or a grading time that leaves some
 * kept intervals out (a late reading, a query long after the newest), is summed afresh.
 */
export class TrafficWindow {
  // as columns (column-series.ts): at 20 intervals a second per counter a window of 15 minutes is 18,000 of them,
  // kept twice (the alert engine's and `latest`'s), and as objects they were a large part of the live heap
  readonly #series = new ColumnSeries(TRAFFIC_COLUMNS);
  #sums = emptySums();
  #changes = 0;
  readonly #unchange = (old: TrafficMeasurement) => this.#change(old, -1);
  readonly #dropped = (_ts: number, old: TrafficMeasurement) => this.#change(old, -1);

  constructor(intervals: readonly TrafficInterval[] = []) {
    for (const i of intervals) this.put(i);
  }

  get size(): number {
    return this.#series.size;
  }

  /** Adds an interval (replacing one that ends at the same time) and drops those 15 minutes older than the newest. */
  put(interval: TrafficInterval): void {
    this.#series.put(interval.ts, interval, this.#unchange);
    this.#change(interval, 1);
    this.#series.dropBefore(this.#series.newest! - LOS_WINDOW_MS, true, this.#dropped);
  }

  intervals(): TrafficInterval[] {
    return this.#series.toRecords().map(({ ts, vehicleCount, intervalSeconds, avgSpeed }) => {
      const i: TrafficInterval = { ts };
      if (vehicleCount !== undefined) i.vehicleCount = vehicleCount;
      if (intervalSeconds !== undefined) i.intervalSeconds = intervalSeconds;
      if (avgSpeed !== undefined) i.avgSpeed = avgSpeed;
      return i;
    });
  }

  /** LOS of (now − 15 min, now], as `trafficWindowLos` of the kept intervals. */
  los(now: number, thresholds?: TrafficThresholds | null): TrafficWindowResult | null {
    const [from, to] = this.#series.range(now - LOS_WINDOW_MS, now);
    const [first, end] = this.#series.bounds();
    if (this.size < SCAN_BELOW || from !== first || to !== end) {
      const sums = emptySums();
      for (let i = from; i < to; i++) addInterval(sums, this.#series.row(i), 1);
      return gradeSums(sums, thresholds);
    }
    if (this.#changes > this.size) {
      this.#sums = emptySums();
      for (let i = first; i < end; i++) addInterval(this.#sums, this.#series.row(i), 1);
      this.#changes = 0;
    }
    return gradeSums(this.#sums, thresholds);
  }

  #change(interval: TrafficMeasurement, sign: 1 | -1): void {
    addInterval(this.#sums, interval, sign);
    this.#changes++;
  }
}
