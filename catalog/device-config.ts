// A device's configuration (issue 16, docs/contract.md §10): what an operator may push to a device of each kind, and the MQTT
// topics it travels on. `reportIntervalSeconds` — how often the device reports; `offsets` — a calibration offset
// per field, in the field's unit, added by the device to what it measures; `thresholds` — on-device alarm limits
// per field (a device may report at once, sound a siren, or switch to a faster interval when one is crossed).
import { z } from 'zod';
import { CATALOG, type FieldSpec, type Kind, KINDS } from './kinds.js';

export const MAX_CONFIG_BYTES = 4096;

/**
 * The largest calibration offset a device may be told to add to a field, either way, in the field's unit: a tenth of
 * the field's plausible range (docs/devices.md). A calibration corrects a sensor's drift or a gauge's zero by a little;
 * an offset as large as the range would let whoever pushes it hold a gauge below every alert threshold, silencing it.
 */
export function calibrationBound(field: FieldSpec): number {
  return (field.max - field.min) / 10;
}

function buildConfigSchema(kind: Kind) {
  const fields = CATALOG[kind].fields;
  const offsets: Record<string, z.ZodType> = {};
  const thresholds: Record<string, z.ZodType> = {};
  for (const f of fields) {
    const bound = calibrationBound(f);
    const outside = `a calibration offset of ${f.name} must be within ±${bound} ${f.unit} (a tenth of its range ${f.min} – ${f.max})`;
    offsets[f.name] = z.number().min(-bound, outside).max(bound, outside).optional();
    const limit = z.number().min(f.min).max(f.max);
    thresholds[f.name] = z
      .strictObject({ min: limit.optional(), max: limit.optional() })
      .refine((t) => t.min === undefined || t.max === undefined || t.min <= t.max, 'min must not be above max')
      .refine((t) => t.min !== undefined || t.max !== undefined, 'give min, max or both')
      .optional();
  }
  return z.strictObject({
    reportIntervalSeconds: z.number().int().min(10).max(86_400).optional(),
    offsets: z.strictObject(offsets).optional(),
    thresholds: z.strictObject(thresholds).optional(),
  });
}

const SCHEMAS = Object.fromEntries(KINDS.map((k) => [k, buildConfigSchema(k)])) as Record<Kind, ReturnType<typeof buildConfigSchema>>;

export function deviceConfigSchema(kind: Kind) {
  return SCHEMAS[kind];
}

export type DeviceConfig = z.infer<ReturnType<typeof buildConfigSchema>>;

/** What Pantau publishes (retained) and what the device answers: `{"version","config"}`. */
export const ConfigMessageSchema = z.strictObject({
  version: z.number().int().min(1),
  config: z.record(z.string(), z.unknown()),
});

export function configTopic(kind: Kind, deviceId: string): string {
  return `sensors/${kind}/${deviceId}/config`;
}

export function configReportedTopic(kind: Kind, deviceId: string): string {
  return `sensors/${kind}/${deviceId}/config/reported`;
}

export function senmlTopic(kind: Kind, deviceId: string): string {
  return `sensors/${kind}/${deviceId}/senml`;
}

export type ExtraChannel = 'config' | 'config/reported' | 'senml';

/** `sensors/{kind}/{id}/config`, `…/config/reported` and `…/senml` → their parts; null for any other topic. */
export function parseExtraTopic(topic: string): { kind: Kind; deviceId: string; channel: ExtraChannel } | null {
  const m = /^sensors\/([a-z]+)\/([a-z0-9][a-z0-9-]{1,62})\/(config|config\/reported|senml)$/.exec(topic);
  if (!m || !(KINDS as readonly string[]).includes(m[1]!)) return null;
  return { kind: m[1] as Kind, deviceId: m[2]!, channel: m[3] as ExtraChannel };
}
