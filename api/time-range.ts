// Query parameters that become parts of InfluxQL — times, windows, aggregate functions — are parsed here into
// numbers and whitelisted words. Nothing a client sends reaches a query string as text.
import { badRequest } from './problem.js';

const RELATIVE = /^-(\d{1,6})(s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

// InfluxDB stores time as int64 nanoseconds: 1677-09-21 … 2262-04-11.
const INFLUX_MIN_MS = -9_223_372_036_854;
const INFLUX_MAX_MS = 9_223_372_036_854;

/** `now`, `-15m`, `-24h`, `-7d`, or RFC 3339 with offset → epoch ms, inside InfluxDB's time range. */
export function parseInstant(param: string, value: string, now: number): number {
  let ms = Number.NaN;
  if (value === 'now') ms = now;
  const rel = RELATIVE.exec(value);
  if (rel) ms = now - Number(rel[1]) * UNIT_MS[rel[2]!]!;
  else if (RFC3339.test(value)) ms = Date.parse(value);
  if (Number.isFinite(ms)) {
    if (ms <= INFLUX_MIN_MS || ms >= INFLUX_MAX_MS) {
      throw badRequest(`${param}: ${value.slice(0, 40)} is outside the time range InfluxDB can hold (1677-09-22 … 2262-04-11)`);
    }
    return ms;
  }
  throw badRequest(`${param}: "${value.slice(0, 40)}" is not a time; use RFC 3339 (2026-01-31T08:00:00+08:00), now, or -15m / -24h / -7d`);
}

export const AGGREGATES = ['mean', 'min', 'max', 'sum', 'count', 'median', 'last'] as const;
export type Aggregate = (typeof AGGREGATES)[number];

const EVERY = /^(\d{1,4})(m|h|d)$/;

/** An aggregation window between 1m and 1d, returned as InfluxQL duration text (rebuilt, not echoed) and ms. */
export function parseEvery(value: string): { text: string; ms: number } {
  const m = EVERY.exec(value);
  if (!m) throw badRequest(`every: "${value.slice(0, 20)}" is not a window; use 1m … 1d, e.g. 5m, 1h, 1d`);
  const n = Number(m[1]);
  const ms = n * UNIT_MS[m[2]!]!;
  if (n === 0 || ms < 60_000 || ms > 86_400_000) throw badRequest(`every: must be between 1m and 1d, got ${value}`);
  return { text: `${n}${m[2]}`, ms };
}

export function isoMs(ms: number): string {
  return new Date(ms).toISOString();
}
