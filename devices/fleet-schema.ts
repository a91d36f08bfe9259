// The shape of a simulated fleet: what the API registers (id, kind, name, city, district, location, thresholds)
// plus the model parameters that make each sensor behave like its place.
import { z } from 'zod';
import { DEVICE_ID_PATTERN, floodThresholdsSchema, trafficThresholdsSchema } from '../catalog/index.js';
import { AirModelSchema } from './models/air.js';
import { FloodModelSchema } from './models/flood.js';
import { TrafficModelSchema } from './models/traffic.js';

export const CITY_NAMES = ['Samarinda', 'Balikpapan', 'Bontang', 'Nusantara'] as const;
export type CityName = (typeof CITY_NAMES)[number];

export const LocationSchema = z.object({
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
});
export type Location = z.infer<typeof LocationSchema>;

export const CitySchema = z.object({
  name: z.enum(CITY_NAMES),
  /** Device id prefix, e.g. `smd` → `smd-flood-01`. */
  prefix: z.string().regex(/^[a-z]{2,5}$/),
  center: LocationSchema,
  /** A box around the city's land area; every device (and every clone) stays inside it. */
  bounds: z.object({ south: z.number(), north: z.number(), west: z.number(), east: z.number() }),
  /** Storm frequency relative to Samarinda. */
  rainFactor: z.number().min(0).max(3),
  /** Exposure to regional smoke relative to Samarinda. */
  hazeFactor: z.number().min(0).max(2),
});
export type City = z.infer<typeof CitySchema>;

/** A gauge's flood levels (the catalog's schema), with at least one level: a gauge is there to raise alarms. */
export const FloodThresholdsSchema = floodThresholdsSchema.refine(
  (t) => t.waspada !== undefined || t.siaga !== undefined || t.awas !== undefined,
  'a flood gauge needs at least one alert level',
);

/** The road a traffic counter watches (the catalog's schema); the simulator needs both values to model it. */
export const TrafficThresholdsSchema = trafficThresholdsSchema.required();

const common = {
  id: z.string().regex(DEVICE_ID_PATTERN, 'device id must match ^[a-z0-9][a-z0-9-]{1,62}$'),
  name: z.string().min(1).max(200),
  city: z.enum(CITY_NAMES),
  /** Kecamatan. */
  district: z.string().min(1),
  location: LocationSchema,
};

export const AirDeviceSchema = z.object({
  ...common,
  kind: z.literal('air'),
  thresholds: z.null().default(null),
  model: AirModelSchema.prefault({}),
});

export const FloodDeviceSchema = z.object({
  ...common,
  kind: z.literal('flood'),
  thresholds: FloodThresholdsSchema,
  model: FloodModelSchema,
});

export const TrafficDeviceSchema = z.object({
  ...common,
  kind: z.literal('traffic'),
  thresholds: TrafficThresholdsSchema,
  model: TrafficModelSchema.prefault({}),
});

export const FleetDeviceSchema = z.discriminatedUnion('kind', [AirDeviceSchema, FloodDeviceSchema, TrafficDeviceSchema]);
export type FleetDevice = z.infer<typeof FleetDeviceSchema>;
export type FleetDeviceInput = z.input<typeof FleetDeviceSchema>;

export const FleetSchema = z
  .array(FleetDeviceSchema)
  .refine((devices) => new Set(devices.map((d) => d.id)).size === devices.length, 'device ids must be unique');

/** The body of `POST /api/v1/devices` (docs/contract.md §5) for a fleet device. */
export function registrationBody(device: FleetDevice) {
  return {
    id: device.id,
    kind: device.kind,
    name: device.name,
    city: device.city,
    district: device.district,
    location: { lat: device.location.lat, lon: device.location.lon },
    thresholds: device.thresholds,
  };
}
