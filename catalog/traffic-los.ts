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

/** The intervals of `intervals` that end inside the window (now − 15 min, now]. */
export function inLosWindow<T extends { ts: number }>(intervals: readonly T[], now: number): T[] {
  return intervals.filter((i) => i.ts > now - LOS_WINDOW_MS && i.ts <= now);
}

/** Rounds to `digits` decimals, so that a computed mean of readings of 30.6 km/h is 30.6 again. */
function roundTo(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
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
  const window = inLosWindow(intervals, now);
  let vehicles = 0;
  let countedSeconds = 0;
  let coveredSeconds = 0;
  // space-mean speed: Σn / Σ(n / v) over intervals with both; arithmetic mean of speeds where counts are missing
  let weightedVehicles = 0;
  let weightedTime = 0;
  let plainSpeedSum = 0;
  let plainSpeeds = 0;
  for (const i of window) {
    const seconds = i.intervalSeconds ?? DEFAULT_TRAFFIC_INTERVAL_SECONDS;
    coveredSeconds += seconds;
    if (i.vehicleCount !== undefined) {
      vehicles += i.vehicleCount;
      countedSeconds += seconds;
    }
    if (i.avgSpeed === undefined) continue;
    if (i.vehicleCount === undefined) {
      plainSpeedSum += i.avgSpeed;
      plainSpeeds++;
    } else if (i.vehicleCount > 0 && i.avgSpeed > 0) {
      weightedVehicles += i.vehicleCount;
      weightedTime += i.vehicleCount / i.avgSpeed;
    } else if (i.vehicleCount > 0) {
      // standing traffic reported as 0 km/h: as slow as it gets
      weightedVehicles += i.vehicleCount;
      weightedTime += Infinity;
    }
  }
  const flowPerHour = countedSeconds > 0 ? roundTo((vehicles * 3600) / countedSeconds, 2) : null;
  let speed: number | null = null;
  if (weightedVehicles > 0) speed = roundTo(weightedVehicles / weightedTime, 2);
  else if (plainSpeeds > 0 && vehicles === 0 && countedSeconds === 0) speed = roundTo(plainSpeedSum / plainSpeeds, 2);
  const result = grade(flowPerHour, speed, withTrafficDefaults(thresholds), Math.min(coveredSeconds, 900) >= LOS_MIN_SECONDS_FOR_F);
  return result ? { ...result, coveredSeconds: Math.min(coveredSeconds, 900), intervals: window.length } : null;
}
