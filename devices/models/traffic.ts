// A traffic counter on one road: demand follows the WITA day (morning 07–09 and evening 16–19 peaks, quiet
// nights, lighter weekends), speed falls as volume approaches capacity, rain slows everyone down, and now and
// then an incident (breakdown, accident, flooding) takes away capacity for a while.
import { z } from 'zod';
import { DAY_MS, HOUR_MS, hourlyProfile, wita } from './clock.js';
import { clamp, hash01, type Rng, round, smoothNoise } from './random.js';

export const TrafficModelSchema = z.object({
  /** Lanes in the counted direction(s); spreads the flow for occupancy. */
  lanes: z.number().int().min(1).max(8).default(2),
  /** Demand ÷ capacity at a weekday evening peak: above ~0.95 the road jams daily. */
  peakLoad: z.number().min(0.05).max(1.4).default(0.9),
});
export type TrafficModel = z.infer<typeof TrafficModelSchema>;

export interface TrafficRoad extends TrafficModel {
  /** km/h on an empty road (the device's `thresholds.freeFlowSpeed`). */
  freeFlowSpeed: number;
  /** vehicles/hour the road carries at most (the device's `thresholds.capacity`). */
  capacity: number;
}

// Share of the weekday evening peak, per WITA hour.
const WEEKDAY = [
  0.1, 0.06, 0.045, 0.045, 0.07, 0.2, 0.5, 0.92, 1.0, 0.72, 0.62, 0.64, 0.7, 0.66, 0.64, 0.72, 0.88, 1.0, 0.93, 0.75,
  0.6, 0.46, 0.3, 0.17,
];
// Saturday: late start, busy afternoon and "malam Minggu" evening.
const SATURDAY = [
  0.16, 0.1, 0.07, 0.05, 0.06, 0.14, 0.3, 0.5, 0.62, 0.68, 0.72, 0.75, 0.76, 0.74, 0.72, 0.74, 0.8, 0.86, 0.88, 0.86,
  0.8, 0.68, 0.5, 0.3,
];
const SUNDAY = [
  0.2, 0.12, 0.08, 0.05, 0.05, 0.1, 0.2, 0.34, 0.46, 0.55, 0.6, 0.62, 0.62, 0.6, 0.58, 0.62, 0.7, 0.76, 0.74, 0.68,
  0.58, 0.46, 0.32, 0.2,
];

/** Effective length of a vehicle over the loop (m → km): many motorcycles, some cars and trucks. */
const EFFECTIVE_LENGTH_KM = 0.006;

/** How busy a city's streets are at `t`, as a share of a weekday peak (0–1). Air quality follows it too. */
export function trafficActivity(t: number): number {
  const w = wita(t);
  const profile = w.weekday === 0 ? SUNDAY : w.weekday === 6 ? SATURDAY : WEEKDAY;
  let activity = hourlyProfile(profile, w.hour);
  // Friday midday prayers empty the streets for a while.
  if (w.weekday === 5 && w.hour > 11.5 && w.hour < 13.25) {
    activity *= 1 - 0.3 * Math.sin((Math.PI * (w.hour - 11.5)) / 1.75);
  }
  return activity;
}

/** An incident on this road at `t`: the share of capacity that remains (1 = none). */
export function incidentFactor(t: number, key: number): number {
  const slot = Math.floor(t / HOUR_MS);
  for (let s = slot - 2; s <= slot; s++) {
    if (hash01(key, s, 71) >= 0.01) continue;
    const start = s * HOUR_MS + hash01(key, s, 72) * HOUR_MS;
    const end = start + (20 + 70 * hash01(key, s, 73)) * 60_000;
    if (t >= start && t < end) return 0.45 + 0.2 * hash01(key, s, 74);
  }
  return 1;
}

export interface TrafficState {
  /** vehicles/hour wanting to pass. */
  demand: number;
  /** vehicles/hour actually passing the counter. */
  flow: number;
  /** Capacity left after rain and incidents, vehicles/hour. */
  capacity: number;
  /** Mean speed, km/h. */
  speed: number;
}

/** The road's state at `t` without measurement noise — deterministic for (road, key, t, rain). */
export function trafficState(t: number, road: TrafficRoad, key: number, rainfall = 0): TrafficState {
  const dayToDay = 1 + 0.06 * smoothNoise(key, t, DAY_MS);
  const minuteToMinute = 1 + 0.06 * smoothNoise(key + 1, t, 10 * 60_000);
  // Heavy rain: riders shelter under bridges and shop fronts, the rest drive slower and closer.
  const rainDemand = 1 - Math.min(0.25, rainfall / 80);
  const rainCapacity = 1 - Math.min(0.15, rainfall / 60);
  const rainSpeed = 1 - Math.min(0.2, rainfall / 50);

  const demand = road.capacity * road.peakLoad * trafficActivity(t) * dayToDay * minuteToMinute * rainDemand;
  const capacity = road.capacity * rainCapacity * incidentFactor(t, key);
  const x = demand / capacity;
  let flow: number;
  let speedFactor: number;
  if (x <= 1) {
    flow = demand;
    speedFactor = 1 - 0.5 * x ** 3.2;
    // Near-empty roads at night: people drive a bit above the design speed.
    if (x < 0.15) speedFactor += 0.08 * (1 - x / 0.15);
  } else {
    // Over capacity the queue discharges a little below capacity and speed collapses.
    flow = capacity * (1 - 0.12 * Math.min(1, x - 1));
    speedFactor = Math.max(0.12, 0.5 / x ** 2.5);
  }
  return { demand, flow, capacity, speed: road.freeFlowSpeed * speedFactor * rainSpeed };
}

export interface TrafficValues {
  vehicleCount: number;
  intervalSeconds: number;
  avgSpeed: number;
  occupancy: number;
}

/** One counter reading covering the `intervalSeconds` before `t`. */
export function trafficReading(
  t: number,
  road: TrafficRoad,
  ctx: { rng: Rng; key: number; rainfall?: number; intervalSeconds: number },
): TrafficValues {
  const state = trafficState(t, road, ctx.key, ctx.rainfall ?? 0);
  // Vehicles cross the loop at most one per saturation headway: near capacity, counts vary far less than a Poisson
  // process would (binomial over the interval's headway slots), so a road below capacity does not count above it
  // by chance over 15 minutes. At low flows this is the Poisson count of free arrivals.
  const slots = Math.ceil((state.capacity * ctx.intervalSeconds) / 3600);
  const vehicleCount = ctx.rng.binomial(slots, Math.min(1, (state.flow * ctx.intervalSeconds) / 3600 / slots));
  const avgSpeed = clamp(state.speed * (1 + ctx.rng.normal(0, 0.05)), 3, road.freeFlowSpeed * 1.3);
  const perLane = state.flow / road.lanes;
  const occupancy = clamp(((perLane * EFFECTIVE_LENGTH_KM) / avgSpeed) * 100 * (1 + ctx.rng.normal(0, 0.08)), 0, 98);
  return {
    vehicleCount,
    intervalSeconds: ctx.intervalSeconds,
    avgSpeed: round(avgSpeed, 1),
    occupancy: round(occupancy, 1),
  };
}
