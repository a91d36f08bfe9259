// Scopes (docs/contract.md §5, Scopes): every API key and every person carries a role and a scope
// `{"cities": [...], "kinds": [...]}`; a missing or empty list means all. A resource outside the caller's scope does
// not exist for it: routes answer 404 for it, lists leave it out and totals count only what is visible.
//
// Cities match case-insensitively ("Samarinda" = "samarinda"), after trimming, because devices carry the city as
// people typed it. The checks here are the one place that decides; every route and the stream call them.
import { z } from 'zod';
import { KINDS, type Kind } from '../catalog/index.js';

const cityName = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .regex(/^[^\\\u0000-\u001f\u007f]+$/, 'must be printable text without backslashes');

export const ScopeSchema = z
  .strictObject({
    cities: z.array(cityName).max(100).optional(),
    kinds: z.array(z.enum(KINDS)).max(KINDS.length).optional(),
  })
  .meta({ id: 'Scope', description: 'Cities and kinds this key or person sees; a missing or empty list means all' });

/** A scope as stored and compared: both lists always present, `[]` meaning all. */
export interface Scope {
  cities: string[];
  kinds: Kind[];
}

export const UNSCOPED: Scope = Object.freeze({ cities: [], kinds: [] }) as Scope;

const cityKey = (city: string) => city.trim().toLowerCase();

/** Sorted, deduplicated lists (cities keep their first spelling). */
export function normalizeScope(input: { cities?: string[] | null; kinds?: readonly string[] | null } | null | undefined): Scope {
  const cities = new Map<string, string>();
  for (const c of input?.cities ?? []) {
    const key = cityKey(c);
    if (key && !cities.has(key)) cities.set(key, c.trim());
  }
  const kinds = [...new Set((input?.kinds ?? []).filter((k): k is Kind => (KINDS as readonly string[]).includes(k)))].sort();
  return { cities: [...cities.values()].sort((a, b) => cityKey(a).localeCompare(cityKey(b))), kinds };
}

/** True when the scope restricts nothing. */
export function isUnscoped(scope: Scope): boolean {
  return scope.cities.length === 0 && scope.kinds.length === 0;
}

export function scopeAllowsCity(scope: Scope, city: string): boolean {
  if (scope.cities.length === 0) return true;
  const key = cityKey(city);
  return scope.cities.some((c) => cityKey(c) === key);
}

export function scopeAllowsKind(scope: Scope, kind: string): boolean {
  return scope.kinds.length === 0 || (scope.kinds as string[]).includes(kind);
}

/** True when a device of this city and kind is visible in the scope. */
export function scopeAllows(scope: Scope, device: { city: string; kind: string }): boolean {
  return scopeAllowsKind(scope, device.kind) && scopeAllowsCity(scope, device.city);
}

/** True when every device `inner` allows is allowed by `outer`: a scope one may grant. */
export function scopeWithin(inner: Scope, outer: Scope): boolean {
  if (outer.kinds.length > 0) {
    if (inner.kinds.length === 0) return false;
    if (!inner.kinds.every((k) => outer.kinds.includes(k))) return false;
  }
  if (outer.cities.length > 0) {
    if (inner.cities.length === 0) return false;
    if (!inner.cities.every((c) => scopeAllowsCity(outer, c))) return false;
  }
  return true;
}

export function sameScope(a: Scope, b: Scope): boolean {
  return scopeWithin(a, b) && scopeWithin(b, a);
}

/** For messages and the audit log: `cities=Samarinda kinds=flood`, or `all`. */
export function describeScope(scope: Scope): string {
  if (isUnscoped(scope)) return 'all';
  const parts = [];
  if (scope.cities.length > 0) parts.push(`cities=${scope.cities.join('|')}`);
  if (scope.kinds.length > 0) parts.push(`kinds=${scope.kinds.join('|')}`);
  return parts.join(' ');
}

/** The scope as the API shows it: both lists, `[]` for all. */
export function scopeForApi(scope: Scope): { cities: string[]; kinds: Kind[] } {
  return { cities: [...scope.cities], kinds: [...scope.kinds] };
}

/** Stored as JSON text (SQLite) or jsonb (PostgreSQL); null or unreadable = unscoped. */
export function scopeFromStored(value: unknown): Scope {
  let v = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return UNSCOPED;
    }
  }
  if (!v || typeof v !== 'object') return UNSCOPED;
  const o = v as { cities?: unknown; kinds?: unknown };
  return normalizeScope({
    cities: Array.isArray(o.cities) ? o.cities.filter((c): c is string => typeof c === 'string') : [],
    kinds: Array.isArray(o.kinds) ? o.kinds.filter((k): k is string => typeof k === 'string') : [],
  });
}
