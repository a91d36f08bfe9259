// Single sign-on settings (docs/console.md, Single sign-on): who at the province's OpenID provider becomes what in
// Pantau. `PANTAU_OIDC_MAPPING` maps values of one claim (`PANTAU_OIDC_ROLE_CLAIM`, default `pantau_role`) to a role
// and a scope. Kept apart from api/oidc.ts so the configuration can check the mapping without loading the flow.
import { z } from 'zod';
import { RoleSchema, type Role } from '../registry/device.js';
import { ScopeSchema, normalizeScope, type Scope } from '../registry/scope.js';

export interface OidcGrant {
  role: Role;
  scope: Scope;
}

/** Claim value → role and scope, in the order written. */
export type OidcMapping = Map<string, OidcGrant>;

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  roleClaim: string;
  mapping: OidcMapping;
  /** Pantau's address as browsers reach it; unset = taken from each request's Host. */
  publicUrl?: string;
}

const MappingSchema = z.record(
  z.string().min(1).max(256),
  z.strictObject({ role: RoleSchema, scope: ScopeSchema.optional() }),
);

/** The mapping from its JSON text; throws an Error whose message names the problem (never echoes more than a key). */
export function parseOidcMapping(text: string): OidcMapping {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('must be a JSON object like {"bpbd-samarinda":{"role":"operator","scope":{"cities":["Samarinda"],"kinds":["flood"]}}}');
  }
  const parsed = MappingSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? ` at ${issue.path.map(String).join('.').slice(0, 80)}` : '';
    throw new Error(`not a mapping of claim values to {"role","scope"}${where}: ${issue.message}`);
  }
  const mapping: OidcMapping = new Map();
  for (const [value, grant] of Object.entries(parsed.data)) mapping.set(value, { role: grant.role, scope: normalizeScope(grant.scope) });
  return mapping;
}

/**
 * The claim's values: a string, or the strings of an array (groups). A claim name with dots that is not itself
 * present reaches into objects (`realm_access.roles`), as some providers nest their roles.
 */
export function claimValues(claims: Record<string, unknown>, name: string): string[] {
  let value: unknown = claims[name];
  if (value === undefined && name.includes('.')) {
    value = claims;
    for (const part of name.split('.')) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  }
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/**
 * The grant of a person: the first of the claim's values (in the provider's order) that the mapping names. Several
 * mapped values are never merged: a union of two scopes would show devices neither grants.
 */
export function grantFor(mapping: OidcMapping, values: string[]): { value: string; grant: OidcGrant } | undefined {
  for (const value of values) {
    const grant = mapping.get(value);
    if (grant) return { value, grant };
  }
  return undefined;
}
