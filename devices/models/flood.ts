// A river or drainage-channel gauge: rain over the catchment raises the level after a lag (a gamma-shaped unit
// hydrograph), wet soil makes the same rain count for more, the wet season lifts the base level, and gauges
// connected to the Mahakam (or Balikpapan Bay) swing with the semidiurnal tide. Flow comes from a rating curve.
import { z } from 'zod';
import { HOUR_MS } from './clock.js';
import { clamp, type Rng, round, smoothNoise } from './random.js';
import { seasonalWetness, type Weather } from './weather.js';

export const FloodModelSchema = z.object({
  /** Typical dry-season level, cm above the gauge zero. */
  baseLevel: z.number(),
  /** Extra level at the height of the wet season (a fuller Mahakam backs up its tributaries), cm. */
  wetSeasonRise: z.number().min(0).default(15),
  /** cm of rise per mm/h of lag-smoothed rain on wet ground (before saturation). */
  rainGain: z.number().min(0).default(5),
  /** The rise saturates towards this: water spreads over the floodplain, cm. */
  maxRise: z.number().positive().default(150),
  /** Hours from a burst of rain to the peak of its flood wave. */
  lagHours: z.number().min(0.25).max(24).default(2),
  /** Half the spring-tide range, cm; 0 for gauges above tidal reach. */
  tidalAmplitude: z.number().min(0).default(0),
  /** How late high water arrives here, hours. */
  tidalLagHours: z.number().min(0).max(12).default(0),
  /** Catchment rain relative to the city's (storm cells cover it more or less). */
  catchmentRain: z.number().min(0).max(3).default(1),
  /** Rating curve Q = coefficient · ((h − zeroFlowLevel)/100 m)^exponent, m³/s. */
  rating: z.object({
    zeroFlowLevel: z.number(),
    coefficient: z.number().positive(),
    exponent: z.number().min(1).max(3).default(1.6),
  }),
});
export type FloodModel = z.infer<typeof FloodModelSchema>;

export interface FloodValues {
  waterLevel: number;
  rainfall: number;
  flowRate: number;
}

const M2_HOURS = 12.4206; // principal lunar semidiurnal
const S2_HOURS = 12.0; // principal solar semidiurnal (M2 + S2 = the spring–neap cycle)
const K1_HOURS = 23.9345; // lunisolar diurnal
const TIDE_EPOCH = Date.UTC(2024, 0, 1);

/** Normalised tide, about −1 … 1 (springs), smaller at neaps. */
export function tide(t: number): number {
  const h = (t - TIDE_EPOCH) / HOUR_MS;
  const wave =
    Math.cos((2 * Math.PI * h) / M2_HOURS) +
    0.35 * Math.cos((2 * Math.PI * h) / S2_HOURS + 0.7) +
    0.2 * Math.cos((2 * Math.PI * h) / K1_HOURS + 1.9);
  return wave / 1.55;
}

/** Unit hydrograph: gamma(3, lag/2), peaking `lag` hours after the rain, integrating to 1 (per hour). */
function hydrograph(lagHours: number): (tau: number) => number {
  const theta = lagHours / 2;
  const norm = 2 * theta ** 3;
  return (tau) => (tau <= 0 ? 0 : (tau * tau * Math.exp(-tau / theta)) / norm);
}

/** The gauge's true level at `t` (cm), before sensor noise. */
export function riverLevel(t: number, gauge: FloodModel, weather: Weather, key = 0): number {
  const lookback = Math.max(12, gauge.lagHours * 8);
  const smoothedRain = weather.integrateRain(t, lookback, hydrograph(gauge.lagHours)) * gauge.catchmentRain;
  // Dry soil soaks up the first rain; after days of rain the same storm runs straight off.
  const antecedent = 0.55 + 0.45 * Math.min(1, (weather.rainDepth(t, 72) * gauge.catchmentRain) / 60);
  const rise = gauge.maxRise * (1 - Math.exp((-gauge.rainGain * smoothedRain * antecedent) / gauge.maxRise));
  const tidal = gauge.tidalAmplitude * tide(t - gauge.tidalLagHours * HOUR_MS);
  const slowDrift = 3 * smoothNoise(key, t, 3 * 24 * HOUR_MS);
  return gauge.baseLevel + gauge.wetSeasonRise * seasonalWetness(t) + rise + tidal + slowDrift;
}

export function flowFromLevel(level: number, gauge: FloodModel): number {
  const head = (level - gauge.rating.zeroFlowLevel) / 100;
  return head <= 0 ? 0 : gauge.rating.coefficient * head ** gauge.rating.exponent;
}

export function floodReading(
  t: number,
  gauge: FloodModel,
  ctx: { rng: Rng; key: number; weather: Weather },
): FloodValues {
  const level = riverLevel(t, gauge, ctx.weather, ctx.key) + ctx.rng.normal(0, 0.8);
  const rain = ctx.weather.rainfall(t) * gauge.catchmentRain * (1 + ctx.rng.normal(0, 0.08));
  const flow = flowFromLevel(level, gauge) * (1 + ctx.rng.normal(0, 0.03));
  return {
    waterLevel: round(clamp(level, -999, 9_999), 1),
    // A tipping-bucket gauge: nothing below one tip (0.2 mm/h).
    rainfall: rain < 0.2 ? 0 : round(clamp(rain, 0, 499), 1),
    flowRate: round(clamp(flow, 0, 99_999), 2),
  };
}
