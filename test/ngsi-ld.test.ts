// NGSI-LD out (issue 16): what a FIWARE consumer reads from Pantau is valid against the Smart Data Models' own JSON
// Schemas (vendored under vendor/smart-data-models), in keyValues and in normalized form, with the models'
// attribute names, UN/CEFACT units, the ISPU as airQualityIndex and the @context linked or embedded.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;
const vendored = (path: string) => JSON.parse(readFileSync(new URL(`../vendor/smart-data-models/${path}`, import.meta.url), 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(vendored('data-models/common-schema.json'));
const environment = vendored('dataModel.Environment/Environment-schema.json');
ajv.addSchema(environment);
// AirQualityObserved refers to the Environment schema by its raw GitHub address
ajv.addSchema({ ...environment, $id: 'https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/Environment-schema.json' });
const validators = {
  AirQualityObserved: ajv.compile(vendored('dataModel.Environment/AirQualityObserved/schema.json')),
  WaterObserved: ajv.compile(vendored('dataModel.Environment/WaterObserved/schema.json')),
  TrafficFlowObserved: ajv.compile(vendored('dataModel.Transportation/TrafficFlowObserved/schema.json')),
};

function expectValid(entity: Record<string, unknown>) {
  const validate = validators[entity.type as keyof typeof validators];
  const { '@context': _, ...plain } = entity;
  const ok = validate(plain);
  expect(ok ? [] : validate.errors).toEqual([]);
}

/** normalized → keyValues, as an NGSI-LD broker simplifies. */
function simplify(entity: Record<string, any>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entity)) {
    if (k === 'id' || k === 'type' || k === '@context') out[k] = v;
    else if (v.type === 'Relationship') out[k] = v.object;
    else if (v.value && typeof v.value === 'object' && v.value['@type'] === 'DateTime') out[k] = v.value['@value'];
    else out[k] = v.value;
  }
  return out;
}

let tp: TestPlatform;
let viewerKey: string;
const LD = { accept: 'application/ld+json' };

beforeAll(async () => {
  tp = await startTestPlatform();
  viewerKey = (await tp.api('POST', '/api/v1/keys', { body: { name: 'data portal', role: 'viewer' } })).body.key;
  const publish = async (kind: string, { id, ...extra }: Record<string, unknown>, reading: Record<string, number>) => {
    const dev = await tp.register(kind as never, id as string, extra);
    const client = await tp.connect(dev.id, dev.token);
    await client.publishAsync(`sensors/${kind}/${dev.id}/telemetry`, JSON.stringify(reading), { qos: 1 });
    return dev.id;
  };
  const ts = Date.now() - 60_000;
  await publish('air', { id: 'smd-air-ngsi', name: 'Taman Samarendah', district: 'Samarinda Kota' }, { ts, pm25: 35, pm10: 50, no2: 40, co: 900, so2: 20, o3: 60, hc: 120, temperature: 29.5, humidity: 78 });
  await publish('flood', { id: 'smd-flood-ngsi', location: { lat: -0.429, lon: 117.1683 } }, { ts, waterLevel: 742, flowRate: 310.5, rainfall: 12.5 });
  await publish('flood', { id: 'smd-flood-low' }, { ts, waterLevel: -35 });
  await publish('traffic', { id: 'bpn-traffic-ngsi', city: 'Balikpapan' }, { ts, vehicleCount: 37, avgSpeed: 41.5, occupancy: 23, intervalSeconds: 300 });
  await tp.register('air', 'smd-air-silent');
  await tp.drained();
  await eventually(async () => (await tp.api('GET', '/api/v1/devices/smd-air-ngsi/latest')).body?.indices?.ispu);
});
afterAll(async () => {
  await tp?.stop();
});

describe('NGSI-LD entities', () => {
  it('AirQualityObserved in keyValues is valid against the Smart Data Model and carries the ISPU', async () => {
    const res = await tp.api('GET', '/ngsi-ld/v1/entities?type=AirQualityObserved&options=keyValues', { key: viewerKey, headers: LD });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/ld\+json/);
    expect(res.body.map((e: { id: string }) => e.id)).toEqual(['urn:ngsi-ld:AirQualityObserved:smd-air-ngsi']); // the silent device has no observation
    const e = res.body[0];
    expectValid(e);
    const ispu = (await tp.api('GET', '/api/v1/devices/smd-air-ngsi/latest')).body.indices.ispu;
    expect(e).toMatchObject({
      type: 'AirQualityObserved',
      pm25: 35, pm10: 50, no2: 40, co: 900, so2: 20, o3: 60, volatileOrganicCompoundsTotal: 120, temperature: 29.5, relativeHumidity: 0.78,
      airQualityIndex: ispu.value, airQualityLevel: ispu.category,
      location: { type: 'Point', coordinates: [117.15, -0.49] },
      refDevice: 'urn:ngsi-ld:Device:smd-air-ngsi',
      areaServed: 'Samarinda Kota',
      address: { addressLocality: 'Samarinda', addressCountry: 'ID' },
      '@context': ['https://smartdatamodels.org/context.jsonld', expect.stringMatching(/^https:\/\/uri\.etsi\.org\/ngsi-ld\/v1\/ngsi-ld-core-context/)],
    });
    expect(Date.parse(e.dateObserved)).toBeGreaterThan(Date.now() - 120_000);
    // the schemas do bite: humidity in percent, or a level that is not text, is refused
    const { '@context': _, ...plain } = e;
    expect(validators.AirQualityObserved({ ...plain, relativeHumidity: 78 })).toBe(false);
    expect(validators.AirQualityObserved({ ...plain, airQualityIndex: 87.5 })).toBe(false);
    expect(validators.AirQualityObserved({ ...plain, location: { type: 'Point', coordinates: 'here' } })).toBe(false);
  });

  it('normalized form: Properties with UN/CEFACT unitCode and observedAt, a Relationship, a GeoProperty, ISPU as referenceSpecification', async () => {
    const res = await tp.api('GET', '/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:smd-air-ngsi', { key: viewerKey, headers: LD });
    expect(res.status).toBe(200);
    const e = res.body;
    expect(e.pm25).toEqual({ type: 'Property', value: 35, unitCode: 'GQ', observedAt: expect.any(String) });
    expect(e.temperature.unitCode).toBe('CEL');
    expect(e.relativeHumidity).toMatchObject({ value: 0.78, unitCode: 'C62' });
    expect(e.airQualityIndex).toMatchObject({ type: 'Property', referenceSpecification: { type: 'Property', value: 'ISPU' } });
    expect(e.refDevice).toEqual({ type: 'Relationship', object: 'urn:ngsi-ld:Device:smd-air-ngsi' });
    expect(e.location).toEqual({ type: 'GeoProperty', value: { type: 'Point', coordinates: [117.15, -0.49] } });
    expect(e.dateObserved).toEqual({ type: 'Property', value: { '@type': 'DateTime', '@value': expect.any(String) } });
    const kv = await tp.api('GET', '/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:smd-air-ngsi?options=keyValues', { key: viewerKey, headers: LD });
    expect(simplify(e)).toEqual(kv.body);
    expectValid(simplify(e));
  });

  it('WaterObserved: height in metres, flow in m³/s; a level below the gauge\'s zero is left out rather than made invalid', async () => {
    const res = await tp.api('GET', '/ngsi-ld/v1/entities?type=WaterObserved', { key: viewerKey, headers: LD });
    expect(res.body.map((e: { id: string }) => e.id)).toEqual(['urn:ngsi-ld:WaterObserved:smd-flood-low', 'urn:ngsi-ld:WaterObserved:smd-flood-ngsi']);
    for (const e of res.body) expectValid(simplify(e));
    const [low, gauge] = res.body;
    expect(gauge.height).toMatchObject({ value: 7.42, unitCode: 'MTR' });
    expect(gauge.flow).toMatchObject({ value: 310.5, unitCode: 'MQS' });
    expect(gauge.location.value.coordinates).toEqual([117.1683, -0.429]);
    expect(low.height).toBeUndefined();
  });

  it('TrafficFlowObserved: intensity, averageVehicleSpeed, occupancy as a fraction, the counting interval as dateObservedFrom/To', async () => {
    const res = await tp.api('GET', '/ngsi-ld/v1/entities?type=TrafficFlowObserved&options=keyValues', { key: viewerKey, headers: LD });
    const e = res.body[0];
    expectValid(e);
    expect(e).toMatchObject({ id: 'urn:ngsi-ld:TrafficFlowObserved:bpn-traffic-ngsi', intensity: 37, averageVehicleSpeed: 41.5, occupancy: 0.23 });
    expect(Date.parse(e.dateObservedTo) - Date.parse(e.dateObservedFrom)).toBe(300_000);
    expect(e.dateObservedTo).toBe(e.dateObserved);
  });

  it('links the @context in a Link header for application/json, pages with limit/offset, counts on request', async () => {
    const res = await tp.api('GET', '/ngsi-ld/v1/entities?type=WaterObserved,AirQualityObserved&limit=2&offset=1&count=true', { key: viewerKey });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('link')).toBe('<https://smartdatamodels.org/context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"');
    expect(res.headers.get('ngsild-results-count')).toBe('3');
    expect(res.body).toHaveLength(2);
    expect(res.body[0]['@context']).toBeUndefined();
  });

  it('documents issue 16\'s routes in the OpenAPI document', async () => {
    const doc = await tp.api('GET', '/openapi.json', { key: null });
    expect(doc.status).toBe(200);
    for (const path of ['/ngsi-ld/v1/entities', '/ngsi-ld/v1/entities/{id}', '/api/v1/devices/import', '/api/v1/devices/{id}/config', '/api/v1/integrations/chirpstack', '/api/v1/integrations/ttn']) {
      expect(Object.keys(doc.body.paths)).toContain(path);
    }
  });

  it('answers NGSI-LD errors: no type, an unknown or malformed id, and needs an API key', async () => {
    const noType = await tp.api('GET', '/ngsi-ld/v1/entities', { key: viewerKey });
    expect(noType.status).toBe(400);
    expect(noType.body.type).toBe('https://uri.etsi.org/ngsi-ld/errors/BadRequestData');
    expect((await tp.api('GET', '/ngsi-ld/v1/entities?type=WeatherObserved', { key: viewerKey })).body).toEqual([]);
    const missing = await tp.api('GET', '/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:smd-air-silent', { key: viewerKey });
    expect(missing.status).toBe(404);
    expect(missing.body.type).toBe('https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound');
    expect((await tp.api('GET', '/ngsi-ld/v1/entities/urn:ngsi-ld:WaterObserved:smd-air-ngsi', { key: viewerKey })).status).toBe(404);
    expect((await tp.api('GET', '/ngsi-ld/v1/entities/smd-air-ngsi', { key: viewerKey })).status).toBe(400);
    expect((await tp.api('GET', '/ngsi-ld/v1/entities?type=AirQualityObserved', { key: null })).status).toBe(401);
  });
});
