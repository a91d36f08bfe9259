// Validation stage: one reading object → its fields and timestamp, or a rejection with a reason code (docs/contract.md §3).
// Every reading is judged alone against the sensor catalog; the zod schemas are built from it, once per kind.
import { z } from 'zod';
import { CATALOG, KINDS, type Kind, type RejectionReason } from '../catalog/index.js';

export interface ValidReading {
  ok: true;
  values: Record<string, number>;
  /** Epoch ms given by the device, or undefined when the broker's receive time applies. */
  ts: number | undefined;
}

export interface InvalidReading {
  ok: false;
  reason: RejectionReason;
  detail: string;
}

export type Judgement = ValidReading | InvalidReading;

const timestamp = z.union([
  z.iso.datetime({ offset: true, local: false }),
  z.number().int().min(0).max(8.64e15),
]);

function buildSchema(kind: Kind) {
  const spec = CATALOG[kind];
  const shape: Record<string, z.ZodType> = { ts: timestamp.optional() };
  for (const field of spec.fields) shape[field.name] = z.number().min(field.min).max(field.max).optional();
  return z.strictObject(shape);
}

const SCHEMAS: Record<Kind, ReturnType<typeof buildSchema>> = Object.fromEntries(
  KINDS.map((kind) => [kind, buildSchema(kind)]),
) as Record<Kind, ReturnType<typeof buildSchema>>;

const UNITS: Record<Kind, Map<string, { unit: string; min: number; max: number }>> = Object.fromEntries(
  KINDS.map((kind) => [kind, new Map(CATALOG[kind].fields.map((f) => [f.name, f]))]),
) as unknown as Record<Kind, Map<string, { unit: string; min: number; max: number }>>;

export interface ValidateOptions {
  now: number;
  maxAgeMs: number;
  maxFutureMs: number;
}

/**
 * The schema's verdict on a reading that is plainly valid — known fields, finite numbers within range, `ts` an
 * integer epoch — without running the schema: the common case, on the acknowledgement path of every reading.
 * Anything else (unknown keys, strings, out of range, an RFC 3339 `ts`) returns undefined and goes to the zod
 * schema, which judges it and explains the refusal. Both accept exactly the same plainly valid readings (tested).
 */
export function fastParse(kind: Kind, reading: Record<string, unknown>): Record<string, unknown> | undefined {
  const fields = UNITS[kind];
  const keys = Object.keys(reading);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const value = reading[key];
    if (key === 'ts') {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 8.64e15) return undefined;
      continue;
    }
    const spec = fields.get(key);
    if (spec === undefined || typeof value !== 'number' || !(value >= spec.min && value <= spec.max)) return undefined;
  }
  return reading;
}

export function validateReading(kind: Kind, reading: unknown, options: ValidateOptions): Judgement {
  if (reading === null || typeof reading !== 'object' || Array.isArray(reading)) {
    return { ok: false, reason: 'invalid_reading', detail: `a reading must be a JSON object, got ${describe(reading)}` };
  }
  let data = fastParse(kind, reading as Record<string, unknown>);
  if (data === undefined) {
    const result = SCHEMAS[kind].safeParse(reading);
    if (!result.success) return explain(kind, result.error.issues, reading as Record<string, unknown>);
    data = result.data as Record<string, unknown>;
  }
  const values: Record<string, number> = {};
  let count = 0;
  for (const key in data) {
    if (key !== 'ts' && data[key] !== undefined) {
      values[key] = data[key] as number;
      count++;
    }
  }
  const spec = CATALOG[kind];
  if (count === 0 || !spec.requiredOneOf.some((name) => name in values)) {
    return {
      ok: false,
      reason: 'invalid_reading',
      detail: `${kind} reading needs at least one of ${spec.requiredOneOf.join(', ')}`,
    };
  }
  let ts: number | undefined;
  if (data.ts !== undefined) {
    ts = typeof data.ts === 'number' ? data.ts : Date.parse(data.ts as string);
    if (ts > options.now + options.maxFutureMs) {
      return {
        ok: false,
        reason: 'future_timestamp',
        detail: `ts ${new Date(ts).toISOString()} is more than ${options.maxFutureMs / 60000} min ahead of the platform clock`,
      };
    }
    if (ts < options.now - options.maxAgeMs) {
      return {
        ok: false,
        reason: 'stale_timestamp',
        detail: `ts ${new Date(ts).toISOString()} is older than ${Math.round(options.maxAgeMs / 3600000)} h`,
      };
    }
  }
  return { ok: true, values, ts };
}

/** Pick the issue an operator should see first: a typo'd field before a wrong type before a range. */
function explain(kind: Kind, issues: z.core.$ZodIssue[], reading: Record<string, unknown>): InvalidReading {
  const unknown = issues.find((i) => i.code === 'unrecognized_keys');
  if (unknown && unknown.code === 'unrecognized_keys') {
    const names = unknown.keys.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 40))).join(', ');
    return {
      ok: false,
      reason: 'unknown_field',
      detail: `unknown field ${names} for kind ${kind}; accepted: ${[...UNITS[kind].keys()].join(', ')}, ts`,
    };
  }
  const typeIssue = issues.find((i) => i.code !== 'too_small' && i.code !== 'too_big');
  if (typeIssue) {
    const field = typeIssue.path.join('.') || 'reading';
    if (field === 'ts') {
      return { ok: false, reason: 'invalid_reading', detail: 'ts must be RFC 3339 with an offset or integer epoch milliseconds' };
    }
    return { ok: false, reason: 'invalid_reading', detail: `${field}: must be a finite number` };
  }
  const range = issues[0]!;
  const field = String(range.path[0] ?? '');
  const spec = UNITS[kind].get(field);
  if (field === 'ts') return { ok: false, reason: 'invalid_reading', detail: 'ts is not a valid epoch milliseconds value' };
  return {
    ok: false,
    reason: 'out_of_range',
    detail: spec ? `${field} = ${String(reading[field]).slice(0, 30)} is outside ${spec.min} – ${spec.max} ${spec.unit}` : `${field} is out of range`,
  };
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/** The schema alone (tests compare the fast path against it). */
export function schemaParse(kind: Kind, reading: unknown): { success: boolean; data?: unknown } {
  return SCHEMAS[kind].safeParse(reading);
}
