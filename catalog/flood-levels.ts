// Flood alert levels of Indonesian river gauges (DOMAIN.md): Normal → Waspada → Siaga → Awas, as the BPBDs name
// them. The thresholds belong to each gauge, not to the city, and a gauge may leave any of them out (Bendung
// Benanga has no waspada), so every level is optional.
import { z } from 'zod';
import { FLOOD_LEVELS, type FloodLevel } from './codes.js';
import { GLOSSARY, type Term } from './glossary.js';

export { FLOOD_LEVELS, type FloodLevel };

/** Numeric order of the levels (normal 0 … awas 3): InfluxDB `alert_level_num`, comparisons, colour scales. */
export const FLOOD_LEVEL_ORDER: Readonly<Record<FloodLevel, number>> = { normal: 0, waspada: 1, siaga: 2, awas: 3 };

/** The levels' words, from the glossary. */
export const FLOOD_LEVEL_LABELS: Readonly<Record<FloodLevel, Term>> = GLOSSARY.floodLevel;

/** The levels that have a threshold, lowest first. */
export const FLOOD_ALERT_LEVELS = ['waspada', 'siaga', 'awas'] as const satisfies readonly FloodLevel[];
export type FloodAlertLevel = (typeof FLOOD_ALERT_LEVELS)[number];

const cm = z.number().positive();

/** The fields, for schemas that add their own beside them (the device thresholds of `thresholds.ts`). */
export const floodThresholdsShape = {
  /** Water level (cm above the gauge's zero) from which the gauge is at Waspada. */
  waspada: cm.optional(),
  siaga: cm.optional(),
  awas: cm.optional(),
};

/** Refinement shared by every schema built on `floodThresholdsShape`: present thresholds rise with the level. */
export function checkFloodThresholdsIncrease(
  thresholds: Partial<Record<FloodAlertLevel, number>>,
  ctx: z.RefinementCtx,
): void {
  let lower: FloodAlertLevel | null = null;
  for (const level of FLOOD_ALERT_LEVELS) {
    const value = thresholds[level];
    if (value === undefined) continue;
    if (lower !== null && value <= thresholds[lower]!) {
      ctx.addIssue({
        code: 'custom',
        path: [level],
        message: `${level} (${value} cm) must be higher than ${lower} (${thresholds[lower]} cm)`,
      });
    }
    lower = level;
  }
}

/** A gauge's thresholds in cm, e.g. Katulampa `{"waspada":80,"siaga":150,"awas":200}`. */
export const floodThresholdsSchema = z.strictObject(floodThresholdsShape).superRefine(checkFloodThresholdsIncrease);
export type FloodThresholds = z.infer<typeof floodThresholdsSchema>;

/** True when the gauge has at least one threshold: without any, no level can be judged. */
export function hasFloodThresholds(thresholds: FloodThresholds | null | undefined): thresholds is FloodThresholds {
  return !!thresholds && FLOOD_ALERT_LEVELS.some((level) => thresholds[level] !== undefined);
}

/**
 * The level of a water level: the highest level whose threshold it has reached ("siaga from 150 cm" means
 * 150 cm is Siaga). Null for a gauge without thresholds: nothing can be judged, and "normal" would be a claim.
 */
export function floodLevel(waterLevelCm: number, thresholds: FloodThresholds | null | undefined): FloodLevel | null {
  if (!hasFloodThresholds(thresholds)) return null;
  for (let i = FLOOD_ALERT_LEVELS.length - 1; i >= 0; i--) {
    const level = FLOOD_ALERT_LEVELS[i]!;
    const from = thresholds[level];
    if (from !== undefined && waterLevelCm >= from) return level;
  }
  return 'normal';
}

/** Gaps (cm) between consecutive thresholds the gauge has, lowest first, with the upper level of each gap. */
export function thresholdGaps(thresholds: Partial<Record<FloodAlertLevel, number>>): Array<{ level: FloodAlertLevel; below: FloodAlertLevel; gap: number }> {
  const gaps: Array<{ level: FloodAlertLevel; below: FloodAlertLevel; gap: number }> = [];
  let lower: FloodAlertLevel | null = null;
  for (const level of FLOOD_ALERT_LEVELS) {
    const value = thresholds[level];
    if (value === undefined) continue;
    if (lower !== null) gaps.push({ level, below: lower, gap: value - thresholds[lower]! });
    lower = level;
  }
  return gaps;
}
