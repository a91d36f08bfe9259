// Fault injection (`--bad-share`): the payloads real firmware gets wrong, each of which Pantau must reject with
// a reason (docs/contract.md §3) instead of storing or silently dropping. Field names and ranges come from the catalog.
import { CATALOG, type FieldSpec, type Kind, KINDS, MAX_FUTURE_SKEW_MS, type RejectionReason } from '../catalog/index.js';
import type { Rng } from './models/random.js';
import type { Reading } from './sensor.js';

export const FAULTS = [
  'unknown_field',
  'out_of_range',
  'string_value',
  'invalid_json',
  'future_timestamp',
  'missing_required',
] as const;
export type Fault = (typeof FAULTS)[number];

export interface BadPayload {
  fault: Fault;
  /** What Pantau should answer on the rejections topic. */
  expected: RejectionReason;
  payload: string;
}

/** A plausible firmware typo of a field name: `pm25` → `pm2.5`, `waterLevel` → `water_level`, `co` → `CO`. */
export function misspell(name: string): string {
  const pm = /^pm(\d)(\d)$/.exec(name);
  if (pm) return `pm${pm[1]}.${pm[2]}`;
  if (/[A-Z]/.test(name)) return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return name.toUpperCase();
}

function presentFields(kind: Kind, reading: Reading): FieldSpec[] {
  return CATALOG[kind].fields.filter((field) => field.name in reading);
}

/** A value outside the field's plausibility range, on either side. */
function outOfRange(field: FieldSpec, rng: Rng): number {
  const span = field.max - field.min;
  const above = field.min === 0 ? true : rng.chance(0.5);
  const value = above ? field.max + span * rng.between(0.05, 1) : field.min - span * rng.between(0.05, 1);
  return Math.round(value * 10) / 10;
}

export function badPayload(kind: Kind, reading: Reading, ts: number, rng: Rng, fault: Fault = rng.pick(FAULTS)): BadPayload {
  const fields = presentFields(kind, reading);
  const field = rng.pick(fields);
  switch (fault) {
    case 'unknown_field': {
      // The classic: firmware sends `pm2.5` instead of `pm25`. The reading keeps its other fields.
      const required = fields.filter((f) => CATALOG[kind].requiredOneOf.includes(f.name));
      const victim = rng.pick(required.length > 0 ? required : fields);
      const body: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(reading)) body[name === victim.name ? misspell(name) : name] = value;
      body.ts = ts;
      return { fault, expected: 'unknown_field', payload: JSON.stringify(body) };
    }
    case 'out_of_range':
      return {
        fault,
        expected: 'out_of_range',
        payload: JSON.stringify({ ...reading, [field.name]: outOfRange(field, rng), ts }),
      };
    case 'string_value':
      // A value formatted with the unit, or as a string: not a JSON number.
      return {
        fault,
        expected: 'invalid_reading',
        payload: JSON.stringify({ ...reading, [field.name]: rng.chance(0.5) ? String(reading[field.name]) : `${reading[field.name]} ${field.unit}`, ts }),
      };
    case 'invalid_json': {
      const good = JSON.stringify({ ...reading, ts });
      const variants = [
        good.slice(0, Math.max(1, Math.floor(good.length * rng.between(0.3, 0.9)))), // cut off mid-message
        good.replace(/:(-?[\d.]+)/, ':NaN'), // a C printf of a failed sensor
        good.replace(/"/g, "'"), // single quotes
      ];
      return { fault, expected: 'invalid_json', payload: rng.pick(variants) };
    }
    case 'future_timestamp':
      // An RTC that lost its time zone (+8 h) or got set a day ahead.
      return {
        fault,
        expected: 'future_timestamp',
        payload: JSON.stringify({ ...reading, ts: ts + MAX_FUTURE_SKEW_MS + rng.pick([8, 24]) * 3_600_000 }),
      };
    case 'missing_required': {
      // Only housekeeping values (battery, signal): the measuring part of the sensor is dead.
      const body: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(reading)) if (HOUSEKEEPING.has(name)) body[name] = value;
      if (Object.keys(body).length === 0) {
        const spec = CATALOG[kind].fields.find((f) => HOUSEKEEPING.has(f.name)) as FieldSpec;
        body[spec.name] = (spec.min + spec.max) / 2;
      }
      body.ts = ts;
      return { fault, expected: 'invalid_reading', payload: JSON.stringify(body) };
    }
  }
}

/** Fields every kind has: they describe the device (battery, signal), not the world. */
const HOUSEKEEPING = new Set(
  CATALOG[KINDS[0]].fields
    .map((field) => field.name)
    .filter((name) => KINDS.every((kind) => CATALOG[kind].fields.some((f) => f.name === name))),
);
