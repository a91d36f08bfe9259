// Level of service (LOS, "tingkat pelayanan jalan") A–F of an urban traffic counter.
//
// Method. Indonesia's road regulation (KM 14/2006) grades arterials by absolute speed (A ≥ 100 km/h … F < 50 km/h),
// which would grade every city street F. Pantau therefore grades urban counters by speed relative to the road's
// free-flow speed, in the spirit of the US HCM urban-street method (DOMAIN.md marks the cut-offs as uncertain):
//
//   speed / free-flow speed   > 85 % A · > 67 % B · > 50 % C · > 40 % D · > 30 % E · ≤ 30 % F
//
// and F whenever the hourly flow exceeds the road's capacity (forced flow), whatever the speed.
// Flow per hour = vehicleCount × 3600 / intervalSeconds (interval default 60 s, SPEC §2).
//
// Two cases the speed rule cannot judge:
// - a counter that reports no speed is graded by volume/capacity with KM 14/2006's V/C column
//   (≤ 0.20 A · ≤ 0.45 B · ≤ 0.70 C · ≤ 0.85 D · ≤ 1.00 E · > 1 F);
// - an interval in which no vehicle passed has no speed worth grading (many detectors then report 0 km/h):
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

export function losFromSpeedRatio(ratio: number): Los {
  return GRADED.find((grade) => ratio > LOS_SPEED_RATIO_ABOVE[grade]) ?? 'F';
}

export function losFromVolumeCapacity(ratio: number): Los {
  return GRADED.find((grade) => ratio <= LOS_VOLUME_CAPACITY_MAX[grade]) ?? 'F';
}

/** LOS of one counting interval, or null when it has neither a speed nor a vehicle count. */
export function trafficLos(
  measurement: TrafficMeasurement,
  thresholds?: TrafficThresholds | null,
): TrafficLosResult | null {
  const { freeFlowSpeed, capacity } = withTrafficDefaults(thresholds);
  const { avgSpeed, vehicleCount } = measurement;
  const interval = measurement.intervalSeconds ?? DEFAULT_TRAFFIC_INTERVAL_SECONDS;

  const flowPerHour = vehicleCount === undefined ? null : (vehicleCount * 3600) / interval;
  const volumeCapacityRatio = flowPerHour === null ? null : flowPerHour / capacity;
  const speedRatio = avgSpeed === undefined || vehicleCount === 0 ? null : avgSpeed / freeFlowSpeed;

  let los: Los;
  if (volumeCapacityRatio !== null && volumeCapacityRatio > 1) los = 'F';
  else if (speedRatio !== null) los = losFromSpeedRatio(speedRatio);
  else if (volumeCapacityRatio !== null) los = losFromVolumeCapacity(volumeCapacityRatio);
  else return null;

  return { los, speedRatio, volumeCapacityRatio, flowPerHour };
}
