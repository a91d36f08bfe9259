// The device and API key shapes of docs/contract.md §5, as zod schemas: the API validates and documents with them, the
// registry stores what they let through. Types are inferred from them, not written twice. Beside them, the registry's
// own record of a device (DeviceRecord) and how it is shown through the API (toApiDevice).
import { z } from 'zod';
import { DEVICE_ID_PATTERN, KINDS, type Kind } from '../catalog/index.js';
import { isPublicDevice } from '../catalog/public.js';
import { ScopeSchema, type Scope } from './scope.js';

// Names end up as InfluxDB tag values and in dashboards: printable text, no backslash, no control characters.
export const label = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .regex(/^[^\\\u0000-\u001f\u007f]+$/, 'must be printable text without backslashes');

export const KindSchema = z.enum(KINDS);
export const DeviceIdSchema = z.string().regex(DEVICE_ID_PATTERN, 'device id must match ^[a-z0-9][a-z0-9-]{1,62}$');
/** Ids a new device may take: `pantau-…` is reserved for Pantau's own MQTT logins (pantau-api-key, pantau-ingest). */
export const NewDeviceIdSchema = DeviceIdSchema.refine((id) => !id.startsWith('pantau-'), 'device ids starting with pantau- are reserved');
export const LocationSchema = z.object({
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
});
export const ThresholdsSchema = z.record(z.string().max(64), z.union([z.number(), z.record(z.string().max(64), z.number())])).nullable();

/** LoRaWAN DevEUI (issue 16): 16 hex digits, matched case-insensitively, shown in lowercase. */
export const DevEuiSchema = z
  .string()
  .regex(/^[0-9a-fA-F]{16}$/, 'devEui must be 16 hex digits')
  .transform((s) => s.toLowerCase());

export const DeviceStatusSchema = z.enum(['online', 'offline', 'never_seen']);

export const DeviceSchema = z.object({
  id: z.string(),
  kind: KindSchema,
  name: z.string(),
  city: z.string(),
  district: z.string(),
  location: LocationSchema,
  thresholds: ThresholdsSchema,
  /** Whether the public page and API show it: its own flag, or its kind's default (catalog/public.ts). */
  public: z.boolean(),
  status: DeviceStatusSchema,
  lastSeen: z.string().nullable(),
  devEui: z.string().optional(),
});
export type Device = z.infer<typeof DeviceSchema>;

export const NewDeviceSchema = z.strictObject({
  id: NewDeviceIdSchema,
  kind: KindSchema,
  name: label(200),
  city: label(100),
  district: label(100),
  location: LocationSchema,
  thresholds: ThresholdsSchema.optional(),
  /** null or absent = the kind's default (air and flood public, traffic not). */
  public: z.boolean().nullable().optional(),
  devEui: DevEuiSchema.optional(),
});
export type NewDevice = z.infer<typeof NewDeviceSchema>;

export const DevicePatchSchema = z.strictObject({
  name: label(200).optional(),
  city: label(100).optional(),
  district: label(100).optional(),
  location: LocationSchema.optional(),
  thresholds: ThresholdsSchema.optional(),
  public: z.boolean().nullable().optional(),
  devEui: DevEuiSchema.nullable().optional(),
});
export type DevicePatch = z.infer<typeof DevicePatchSchema>;

/** A device as the registry holds it in memory: flat, epoch-ms times, its `public` flag as stored. */
export interface DeviceRecord {
  id: string;
  kind: Kind;
  name: string;
  city: string;
  district: string;
  lat: number;
  lon: number;
  thresholds: Record<string, unknown> | null;
  /** Shown to the public (catalog/public.ts); null = the kind's default (air and flood yes, traffic no). */
  public: boolean | null;
  status: 'online' | 'offline' | 'never_seen';
  lastSeen: number | null;
}

export interface DeviceFilter {
  kind?: string;
  city?: string;
  district?: string;
  status?: string;
}

export function toApiDevice(d: DeviceRecord): Device {
  return {
    id: d.id,
    kind: d.kind,
    name: d.name,
    city: d.city,
    district: d.district,
    location: { lat: d.lat, lon: d.lon },
    thresholds: (d.thresholds ?? null) as Device['thresholds'],
    public: isPublicDevice(d),
    status: d.status,
    lastSeen: d.lastSeen === null ? null : new Date(d.lastSeen).toISOString(),
  };
}

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

export const NewKeySchema = z.strictObject({ name: label(100), role: RoleSchema, scope: ScopeSchema.optional() });
export const KeyPatchSchema = z.strictObject({ name: label(100).optional(), role: RoleSchema.optional(), scope: ScopeSchema.optional() });

/** Who is calling: an API key (programs) or a person (issue 20), with the role and scope that bound what it sees. */
export interface ApiPrincipal {
  type: 'key' | 'user';
  /** The key's id (`bootstrap` for the bootstrap key), or the person's id. */
  id: string;
  /** The key's name, or the person's display name. */
  name: string;
  /** People only: the username they sign in with. */
  username?: string;
  role: Role;
  scope: Scope;
}

/** Who did it, for the audit log: `key:<id> (<name>)` or `user:<username> (<display name>)`. */
export function principalActor(p: ApiPrincipal): string {
  return p.type === 'user' ? `user:${p.username ?? p.id} (${p.name})` : `key:${p.id} (${p.name})`;
}

/** True when `role` may do what `needed` allows (admin ⊃ operator ⊃ viewer). */
export function roleAllows(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}
