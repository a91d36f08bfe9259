// Pantau devices and their newest reading as NGSI-LD entities of the Smart Data Models (issue 16, docs/contract.md §10):
// AirQualityObserved and WaterObserved (dataModel.Environment), TrafficFlowObserved (dataModel.Transportation).
// Attribute names are the models'; units are UN/CEFACT common codes (`unitCode`); values are converted where the
// model asks for another scale (relative humidity and occupancy as fractions, water height in metres).
import type { Kind } from '../catalog/index.js';
import type { Indices } from './indices.js';

export const NGSI_LD_TYPES = { air: 'AirQualityObserved', flood: 'WaterObserved', traffic: 'TrafficFlowObserved' } as const;
export type NgsiLdType = (typeof NGSI_LD_TYPES)[Kind];
export const KIND_OF_TYPE: Record<NgsiLdType, Kind> = { AirQualityObserved: 'air', WaterObserved: 'flood', TrafficFlowObserved: 'traffic' };

/** The Smart Data Models' JSON-LD @context, then the NGSI-LD core context. */
export const NGSI_LD_CONTEXT = ['https://smartdatamodels.org/context.jsonld', 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld'];

interface Mapping {
  /** Smart Data Models attribute name. */
  attr: string;
  /** UN/CEFACT common code of the unit after `scale`. */
  unitCode: string;
  scale?: number;
  /** Values the model cannot hold (e.g. a negative height) are left out. */
  min?: number;
}

const GQ = 'GQ'; // microgram per cubic metre
const FIELD_MAP: Record<Kind, Record<string, Mapping>> = {
  air: {
    pm25: { attr: 'pm25', unitCode: GQ },
    pm10: { attr: 'pm10', unitCode: GQ },
    co: { attr: 'co', unitCode: GQ },
    no2: { attr: 'no2', unitCode: GQ },
    so2: { attr: 'so2', unitCode: GQ },
    o3: { attr: 'o3', unitCode: GQ },
    hc: { attr: 'volatileOrganicCompoundsTotal', unitCode: GQ },
    temperature: { attr: 'temperature', unitCode: 'CEL' },
    humidity: { attr: 'relativeHumidity', unitCode: 'C62', scale: 0.01 },
  },
  flood: {
    waterLevel: { attr: 'height', unitCode: 'MTR', scale: 0.01, min: 0 },
    flowRate: { attr: 'flow', unitCode: 'MQS' },
    rainfall: { attr: 'precipitation', unitCode: 'H67' },
  },
  traffic: {
    vehicleCount: { attr: 'intensity', unitCode: 'C62' },
    avgSpeed: { attr: 'averageVehicleSpeed', unitCode: 'KMH' },
    occupancy: { attr: 'occupancy', unitCode: 'C62', scale: 0.01 },
  },
};

export interface EntitySource {
  device: { id: string; kind: Kind; name: string; city: string; district: string; lat: number; lon: number };
  reading: { ts: number; values: Record<string, number> };
  indices: Indices;
}

export function entityId(kind: Kind, deviceId: string): string {
  return `urn:ngsi-ld:${NGSI_LD_TYPES[kind]}:${deviceId}`;
}

/** `urn:ngsi-ld:<Type>:<deviceId>` → its parts, or null. */
export function parseEntityId(id: string): { kind: Kind; deviceId: string } | null {
  const m = /^urn:ngsi-ld:(AirQualityObserved|WaterObserved|TrafficFlowObserved):([a-z0-9][a-z0-9-]{1,62})$/.exec(id);
  return m ? { kind: KIND_OF_TYPE[m[1] as NgsiLdType], deviceId: m[2]! } : null;
}

type Attr = { value: unknown; unitCode?: string; sub?: Record<string, unknown>; relationship?: boolean; geo?: boolean; dateTime?: boolean };

function attributes(src: EntitySource): Record<string, Attr> {
  const { device, reading, indices } = src;
  const observed = new Date(reading.ts).toISOString();
  const out: Record<string, Attr> = {
    dateObserved: { value: observed, dateTime: true },
    location: { value: { type: 'Point', coordinates: [device.lon, device.lat] }, geo: true },
    name: { value: device.name },
    address: { value: { addressLocality: device.city, addressRegion: 'Kalimantan Timur', addressCountry: 'ID', district: device.district } },
    refDevice: { value: `urn:ngsi-ld:Device:${device.id}`, relationship: true },
  };
  if (device.kind === 'air') out.areaServed = { value: device.district };
  for (const [field, m] of Object.entries(FIELD_MAP[device.kind])) {
    const raw = reading.values[field];
    if (raw === undefined) continue;
    const value = round(raw * (m.scale ?? 1));
    if (m.min !== undefined && value < m.min) continue;
    out[m.attr] = { value, unitCode: m.unitCode };
  }
  if (device.kind === 'air' && indices.ispu) {
    out.airQualityIndex = { value: indices.ispu.value, sub: { referenceSpecification: 'ISPU' } };
    out.airQualityLevel = { value: indices.ispu.category };
  }
  if (device.kind === 'traffic') {
    const seconds = reading.values.intervalSeconds ?? 60;
    out.dateObservedFrom = { value: new Date(reading.ts - seconds * 1000).toISOString(), dateTime: true };
    out.dateObservedTo = { value: observed, dateTime: true };
    if (indices.los) out.congested = { value: indices.los === 'E' || indices.los === 'F' };
  }
  return out;
}

/** keyValues: attribute → plain value (`options=keyValues`). */
export function keyValuesEntity(src: EntitySource, withContext: boolean): Record<string, unknown> {
  const entity: Record<string, unknown> = { id: entityId(src.device.kind, src.device.id), type: NGSI_LD_TYPES[src.device.kind] };
  for (const [name, a] of Object.entries(attributes(src))) entity[name] = a.value;
  if (withContext) entity['@context'] = NGSI_LD_CONTEXT;
  return entity;
}

/** normalized: every attribute a Property, GeoProperty or Relationship with its unitCode and observedAt. */
export function normalizedEntity(src: EntitySource, withContext: boolean): Record<string, unknown> {
  const entity: Record<string, unknown> = { id: entityId(src.device.kind, src.device.id), type: NGSI_LD_TYPES[src.device.kind] };
  const observedAt = new Date(src.reading.ts).toISOString();
  for (const [name, a] of Object.entries(attributes(src))) {
    if (a.relationship) entity[name] = { type: 'Relationship', object: a.value };
    else if (a.geo) entity[name] = { type: 'GeoProperty', value: a.value };
    else if (a.dateTime) entity[name] = { type: 'Property', value: { '@type': 'DateTime', '@value': a.value } };
    else {
      const p: Record<string, unknown> = { type: 'Property', value: a.value };
      if (a.unitCode) p.unitCode = a.unitCode;
      if (a.unitCode || a.sub) p.observedAt = observedAt;
      for (const [k, v] of Object.entries(a.sub ?? {})) p[k] = { type: 'Property', value: v };
      entity[name] = p;
    }
  }
  if (withContext) entity['@context'] = NGSI_LD_CONTEXT;
  return entity;
}

function round(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}
