// The `thresholds` object of a device (docs/contract.md §5 `Device.thresholds`), one schema per kind. It carries what belongs to
// the place a sensor stands — a gauge's flood levels, a road's free-flow speed and capacity — and, for any kind,
// overrides of the alert engine's defaults for that one device. The API validates POST/PATCH bodies with
// `thresholdsSchema(kind)`; the alert engine parses the stored object with the same schema.
//
// Objects are strict: an unknown key is refused rather than ignored, so a typo ("Siaga", "capacty") cannot
// silently leave a gauge without its threshold.
import { z } from 'zod';
import { checkFloodThresholdsIncrease, floodThresholdsShape, thresholdGaps, type FloodAlertLevel } from './flood-levels.js';
import { ISPU_MAX } from './ispu.js';
import { fieldNames, type Kind } from './kinds.js';
import { trafficThresholdsShape } from './traffic-los.js';

const seconds = z.number().positive();

/** Alert-rule overrides every kind accepts; absent means the engine's default (alerts/README.md). */
function alertOverridesShape(kind: Kind) {
  const fields = fieldNames(kind) as [string, ...string[]];
  return {
    /** Silent alert after this long without a reading, instead of the interval learned from the device. */
    silentAfterSeconds: seconds.optional(),
    /** Stuck alert after a field has kept exactly the same value this long (default 6 h). */
    stuckAfterSeconds: seconds.optional(),
    /** An alert resolves once its condition has been clear this long (default 300 s). */
    clearAfterSeconds: z.number().nonnegative().optional(),
    /** Largest plausible change per minute of a field, in the field's unit; a faster change is a spike. */
    maxRatePerMinute: z.partialRecord(z.enum(fields), z.number().positive()).optional(),
  };
}

/** A hysteresis as large as a gap between two thresholds would hold the upper level below the lower threshold. */
function checkHysteresisBelowGaps(
  t: Partial<Record<FloodAlertLevel, number>> & { hysteresisCm?: number },
  ctx: z.RefinementCtx,
): void {
  if (t.hysteresisCm === undefined) return;
  for (const { level, below, gap } of thresholdGaps(t)) {
    // gaps of decimal thresholds carry floating-point residue (80.5 − 80.3 = 0.20000000000000284)
    if (t.hysteresisCm < Math.round(gap * 1e9) / 1e9) continue;
    ctx.addIssue({
      code: 'custom',
      path: ['hysteresisCm'],
      message:
        `hysteresisCm (${t.hysteresisCm} cm) must be smaller than the gap between ${below} (${t[below]} cm) and ` +
        `${level} (${t[level]} cm), ${gap} cm: otherwise ${level} would be held below ${below}`,
    });
    return;
  }
}

const ispuValue = z.number().int().min(0).max(ISPU_MAX);

/** Radius (km) of the circle a CAP message of the device's alerts covers (docs/cap.md; default 2 flood, 5 air). */
const capRadiusKm = z.number().positive().max(200).optional();

export const airThresholdsSchema = z.strictObject({
  ...alertOverridesShape('air'),
  /** ISPU (rounded) from which the air alert opens as a warning (default 101, Tidak Sehat). */
  ispuAlertFrom: ispuValue.optional(),
  /** ISPU (rounded) from which it is critical (default 201, Sangat Tidak Sehat). */
  ispuCriticalFrom: ispuValue.optional(),
  capRadiusKm,
});

export const floodDeviceThresholdsSchema = z
  .strictObject({
    ...floodThresholdsShape,
    ...alertOverridesShape('flood'),
    /**
     * How far (cm) the water must fall below a threshold before the alert steps down. Must be smaller than every
     * gap between consecutive thresholds, or a level would be held below the threshold under it. Default 10 cm, or
     * half the smallest gap when thresholds are closer than 20 cm (alerts/rules.ts).
     */
    hysteresisCm: z.number().nonnegative().optional(),
    capRadiusKm,
  })
  .superRefine(checkFloodThresholdsIncrease)
  .superRefine(checkHysteresisBelowGaps);

export const trafficDeviceThresholdsSchema = z.strictObject({
  ...trafficThresholdsShape,
  ...alertOverridesShape('traffic'),
  /** How long LOS E or F must last before it alerts (default 600 s). */
  losAlertAfterSeconds: seconds.optional(),
});

export const THRESHOLDS_SCHEMAS = {
  air: airThresholdsSchema,
  flood: floodDeviceThresholdsSchema,
  traffic: trafficDeviceThresholdsSchema,
} as const satisfies Record<Kind, z.ZodType>;

export type AirThresholds = z.infer<typeof airThresholdsSchema>;
export type FloodDeviceThresholds = z.infer<typeof floodDeviceThresholdsSchema>;
export type TrafficDeviceThresholds = z.infer<typeof trafficDeviceThresholdsSchema>;
export type ThresholdsOf<K extends Kind> = z.infer<(typeof THRESHOLDS_SCHEMAS)[K]>;
export type DeviceThresholds = AirThresholds | FloodDeviceThresholds | TrafficDeviceThresholds;

/** The schema of a device's `thresholds` object for its kind. */
export function thresholdsSchema<K extends Kind>(kind: K): (typeof THRESHOLDS_SCHEMAS)[K] {
  return THRESHOLDS_SCHEMAS[kind];
}
