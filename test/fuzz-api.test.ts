// Hostile HTTP input (issue "Secure by default and hardened against hostile input"): every route of
// /openapi.json, thousands of times, with random path parameters, query strings, bodies, content types and keys.
// Whatever comes in, the API answers below 500, every error is RFC 9457 problem+json, and nothing leaks a
// stack trace or a source path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { ADMIN_KEY, eventually, startTestPlatform, type TestPlatform } from './support/platform.js';
import { HOSTILE_STRINGS, rng, type Rng } from './support/fuzz.js';

const SEED = Number(process.env.PANTAU_FUZZ_SEED ?? 20240611);
const REQUESTS = Number(process.env.PANTAU_FUZZ_REQUESTS ?? 4000);
const CONCURRENCY = 8;
const BODY_LIMIT = 64 * 1024;
/** Routes with a body limit of their own: bulk import takes up to 16 MiB, a device configuration 4 KiB. */
const ROUTE_BODY_LIMITS: Record<string, number> = { 'POST /api/v1/devices/import': 16 * 1024 * 1024, 'PUT /api/v1/devices/{id}/config': 4096 };
const bodyLimitOf = (op: { method: string; path: string }) => ROUTE_BODY_LIMITS[`${op.method} ${op.path}`] ?? BODY_LIMIT;
const BROKER_SECRET = 'fuzz-broker-secret-0123456789';

interface Operation {
  method: string;
  path: string;
  query: Array<{ name: string; enum?: string[]; type?: string }>;
  headers: string[];
  hasBody: boolean;
}

let tp: TestPlatform;
let viewer: string;
let operator: string;
let operations: Operation[];
const fleet: Array<{ id: string; kind: 'air' | 'flood' | 'traffic' }> = [];
const throwaway: string[] = [];
/** A device only the sweep's body-limit PATCH touches. */
const SWEEP_PATCH_TARGET = 'sweep-patch-target';

beforeAll(async () => {
  // the external-broker auth endpoints are on, so they are fuzzed past their secret too
  // limits off: this test is about what every input gets answered with, not about throttling
  tp = await startTestPlatform({ PANTAU_API_RATE_LIMIT: '0', PANTAU_AUTH_FAILURES_PER_MINUTE: '0', PANTAU_DEVICE_RATE_LIMIT: '0', PANTAU_BROKER_AUTH_SECRET: BROKER_SECRET });
  viewer = (await tp.api('POST', '/api/v1/keys', { body: { name: 'fuzz viewer', role: 'viewer' } })).body.key;
  operator = (await tp.api('POST', '/api/v1/keys', { body: { name: 'fuzz operator', role: 'operator' } })).body.key;
  // devices with data, so reads find something; they are never handed to a destructive route
  for (const kind of ['air', 'flood', 'traffic'] as const) {
    const d = await tp.register(kind, `fleet-${kind}`, kind === 'flood' ? { thresholds: { waspada: 100, siaga: 200, awas: 300 } } : {});
    fleet.push({ id: d.id, kind });
    const c = await tp.connect(d.id, d.token);
    const field = kind === 'air' ? 'pm25' : kind === 'flood' ? 'waterLevel' : 'vehicleCount';
    const now = Date.now();
    await c.publishAsync(`sensors/${kind}/${d.id}/telemetry`, JSON.stringify(Array.from({ length: 50 }, (_, i) => ({ ts: now - 3_600_000 + i * 60_000, [field]: 250 + i }))), { qos: 1 });
    await c.publishAsync(`sensors/${kind}/${d.id}/telemetry`, JSON.stringify({ [field]: -5_000_000 }), { qos: 1 });
    await c.endAsync();
  }
  for (let i = 0; i < 60; i++) throwaway.push((await tp.register(i % 2 ? 'air' : 'traffic', `throwaway-${i}`)).id);
  await tp.register('air', SWEEP_PATCH_TARGET);
  await tp.drained();
  // an alert exists (the flood gauge is above siaga), so alert routes have something to find
  await eventually(async () => (await tp.api('GET', '/api/v1/alerts')).body.items.length > 0, 15_000);

  const doc = (await tp.api('GET', '/openapi.json', { key: null })).body as {
    paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string; schema?: { type?: string; enum?: string[] } }>; requestBody?: unknown }>>;
  };
  operations = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const params = op.parameters ?? [];
      operations.push({
        method: method.toUpperCase(),
        path,
        query: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, enum: p.schema?.enum, type: p.schema?.type })),
        headers: params.filter((p) => p.in === 'header').map((p) => p.name),
        hasBody: op.requestBody !== undefined,
      });
    }
  }
}, 120_000);

afterAll(async () => {
  await tp?.stop();
});

// -------------------------------------------------------------------------------------------------------------
// Request generation

interface FuzzRequest {
  label: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** What the answer must be when the generator knows better than "not 5xx". */
  expectStatus?: number;
  notStatus?: number;
}

const DESTRUCTIVE = /^(DELETE|PATCH) \/api\/v1\/devices\/\{id\}$|^POST \/api\/v1\/devices\/\{id\}\/token$/;

function hostile(r: Rng): string {
  const s = r.pick(HOSTILE_STRINGS);
  return r.chance(0.1) ? s + r.pick(HOSTILE_STRINGS) : s;
}

function deep(depth: number, open: string, close: string, inner = '1'): string {
  return open.repeat(depth) + inner + close.repeat(depth);
}

function randomJson(r: Rng, depth = 0): unknown {
  const roll = r.int(depth > 3 ? 6 : 9);
  switch (roll) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return r.pick([0, -1, 1e308, -1e308, 2 ** 53 + 1, 0.1, -0, 90.0000001, 180.5, 123456789]);
    case 3: return hostile(r);
    case 4: return 'x'.repeat(r.pick([100, 201, 1000, 30_000]));
    case 5: return '';
    case 6: return Array.from({ length: r.int(5) }, () => randomJson(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(5); i > 0; i--) o[r.chance(0.5) ? hostile(r) : r.pick(['id', 'kind', 'name', 'city', 'location', 'thresholds', 'role', 'lat', 'lon'])] = randomJson(r, depth + 1);
      return o;
    }
  }
}

function validDevice(r: Rng): Record<string, unknown> {
  const kind = r.pick(['air', 'flood', 'traffic']);
  return {
    id: `fz-${r.int(1e9).toString(36)}-${r.int(1e6)}`,
    kind,
    name: 'Fuzz gauge',
    city: 'Balikpapan',
    district: 'Balikpapan Kota',
    location: { lat: r.between(-5, 5), lon: r.between(110, 120) },
    ...(r.chance(0.3) ? { thresholds: kind === 'flood' ? { waspada: 10, siaga: 20, awas: 30 } : { silentAfterSeconds: 60 } } : {}),
  };
}

function mutateObject(r: Rng, base: Record<string, unknown>): Record<string, unknown> {
  const o: Record<string, unknown> = { ...base };
  for (let i = 1 + r.int(3); i > 0; i--) {
    const keys = Object.keys(o);
    switch (r.int(6)) {
      case 0: if (keys.length) delete o[r.pick(keys)]; break;
      case 1: if (keys.length) o[r.pick(keys)] = randomJson(r); break;
      case 2: o[hostile(r)] = randomJson(r); break;
      case 3: o.location = r.pick([null, {}, { lat: 91, lon: 0 }, { lat: 'x', lon: 1 }, { lat: 0, lon: -180.0001 }, [1, 2], { lat: 0, lon: 0, alt: 1 }]); break;
      case 4: o.thresholds = r.pick([null, {}, [], 'x', { waspada: 'x' }, { waspada: 300, siaga: 200, awas: 100 }, { ['k'.repeat(100)]: 1 }, { a: { b: { c: 1 } } }, { maxRatePerMinute: { pm25: -1 } }, { silentAfterSeconds: 0 }, { constructor: 1 }, { toString: 1 }, JSON.parse('{"__proto__":{"x":1}}')]); break;
      default: o.name = r.pick(['', ' ', 'a\u0000b', 'back\\slash', 'x'.repeat(201), '😀'.repeat(50), 'ok', '\t', 'line\nbreak']);
    }
  }
  return o;
}

/** A body the route would accept, to mutate from. */
function baseBody(r: Rng, op: Operation): Record<string, unknown> {
  const user = () => r.pick([r.pick(fleet).id, 'pantau-api-key', 'pantau-ingest', `nobody-${r.int(100)}`, hostile(r)]);
  switch (op.path) {
    case '/api/v1/keys': return { name: `fuzz key ${r.int(1e6)}`, role: r.pick(['viewer', 'operator', 'admin', 'root', '']) };
    case '/api/v1/broker/auth': return { username: user(), password: r.pick(['x', hostile(r), `pk_${'0'.repeat(12)}.x`]), clientid: r.pick(['c1', 'pantau-ingest-1', hostile(r)]) };
    case '/api/v1/broker/acl': return { username: user(), clientid: 'c1', topic: r.pick([`sensors/air/${r.pick(fleet).id}/telemetry`, 'alerts/#', '#', '$share/pantau-ingest/sensors/+/+/telemetry', hostile(r)]), action: r.pick(['publish', 'subscribe', 'PUBLISH', hostile(r)]) };
    default: return op.method === 'PATCH' ? { name: 'renamed', city: 'Bontang' } : validDevice(r);
  }
}

function body(r: Rng, op: Operation): { text: string; contentType?: string; oversized: boolean } {
  const json = (v: unknown) => (r.chance(0.05) ? JSON.stringify(v, null, 2) : JSON.stringify(v)) ?? 'null';
  let text: string;
  switch (r.int(10)) {
    case 0:
    case 1:
    case 2: {
      const base = baseBody(r, op);
      text = json(r.chance(0.3) ? base : mutateObject(r, base));
      break;
    }
    case 3: text = json(randomJson(r)); break;
    case 4: text = r.pick(['{', '}', '{"name":', '{"name":"x",}', "{'name':'x'}", '{"name":NaN}', '{"a":1}{"b":2}', '[1,]', '\ufeff{"name":"x"}', '{"name":"x"} trailing', 'null', '', ' ', '{"name":"\\ud800"}', '{"name":"\\x41"}', '/* c */ {}', '{"location":{"lat":1e999,"lon":0}}', '{"__proto__":{"role":"admin"},"name":"x","role":"viewer"}']); break;
    case 5: text = r.chance(0.5) ? deep(1000 + r.int(30_000), '[', ']') : `{"thresholds":${deep(1000 + r.int(10_000), '{"a":', '}')}}`; break;
    case 6: text = json({ name: 'x'.repeat(r.pick([BODY_LIMIT - 100, BODY_LIMIT + 10, 200_000])), role: 'viewer' }); break;
    case 7: text = `{"id":"${'a'.repeat(r.pick([62, 63, 64, 1000]))}","kind":"air","name":"n","city":"c","district":"d","location":{"lat":0,"lon":0}}`; break;
    case 8: text = Buffer.from(Array.from({ length: r.int(500) }, () => r.int(256))).toString('latin1'); break;
    default: text = json(r.pick([[], {}, [validDevice(r)], { device: validDevice(r) }, 1, 'string']));
  }
  const contentType = r.chance(0.8)
    ? 'application/json'
    : r.pick([undefined, 'text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/json;;;', 'APPLICATION/JSON', 'application/problem+json', 'application/octet-stream', '*/*', 'json', 'application/json; charset=utf-8']);
  return { text, contentType, oversized: Buffer.byteLength(text) > BODY_LIMIT };
}

function pathParam(r: Rng, op: Operation): { value: string; wellFormed: boolean } {
  if (op.path.startsWith('/api/v1/devices/')) {
    if (DESTRUCTIVE.test(`${op.method} ${op.path}`)) {
      // never a fleet device: throwaways, unknown ids, or hostile strings
      if (r.chance(0.5) && throwaway.length > 0) return { value: op.method === 'DELETE' ? throwaway.pop()! : r.pick(throwaway), wellFormed: true };
      if (r.chance(0.4)) return { value: `nobody-${r.int(1e6)}`, wellFormed: true };
    } else {
      if (r.chance(0.4)) return { value: r.pick(fleet).id, wellFormed: true };
      if (r.chance(0.2)) return { value: r.pick([`nobody-${r.int(1e6)}`, r.pick(throwaway.length ? throwaway : ['x1'])]), wellFormed: true };
    }
  }
  if (op.path.startsWith('/api/v1/keys/') && r.chance(0.3)) return { value: r.pick(['000000000000', 'bootstrap', r.int(2 ** 48).toString(16).padStart(12, '0')]), wellFormed: true };
  const s = hostile(r);
  const safe = fleet.every((d) => d.id !== s);
  const value = safe ? s : `${s}x`;
  return { value: r.chance(0.8) ? encode(value) : value, wellFormed: false };
}

/** encodeURIComponent, except that a lone surrogate goes out as the (invalid) UTF-8 bytes of one. */
function encode(s: string): string {
  return encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '\u0000')).replace(/%00/g, '%ED%A0%80');
}

function queryValue(r: Rng, p: Operation['query'][number]): string {
  if (p.enum && r.chance(0.4)) return r.pick(p.enum);
  if (p.type === 'integer' && r.chance(0.4)) return String(r.pick([0, 1, 5, 100, 1000, 1001, 10_000, 10_001, -1, 2 ** 53, 1.5]));
  if (p.name === 'from' || p.name === 'to') return r.pick(['now', '-1h', '-7d', '-999999d', new Date(Date.now() - r.int(1e9)).toISOString(), '2026-13-01T00:00:00Z', '1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z', hostile(r)]);
  if (p.name === 'fields') return r.pick(['pm25', 'waterLevel', 'vehicleCount,avgSpeed', 'pm25,pm25', '*', '"time"', 'pm25) FROM x --', hostile(r)]);
  if (p.name === 'every') return r.pick(['1m', '5m', '1h', '1d', '0m', '2d', '1s', '1w', '99999m', hostile(r)]);
  if (p.name === 'deviceId') return r.pick([r.pick(fleet).id, hostile(r)]);
  if (p.name === 'access_token') return r.pick([viewer, ADMIN_KEY, 'nope', hostile(r)]);
  return hostile(r);
}

function makeRequest(r: Rng, i: number): FuzzRequest {
  const op = r.pick(operations);
  let path = op.path;
  let wellFormedPath = true;
  path = path.replace(/\{(\w+)\}/g, () => {
    const p = pathParam(r, op);
    if (!p.wellFormed) wellFormedPath = false;
    return p.value;
  });
  let method = op.method;
  if (r.chance(0.03)) {
    method = r.pick(['PUT', 'OPTIONS', 'HEAD', 'PATCH', 'DELETE', 'POST']);
    path = r.chance(0.5) ? path : `${path}${r.pick(['/', '/x', '//', '/..', '.json', '?'])}`;
    wellFormedPath = false;
  }
  const q = new URLSearchParams();
  for (const p of op.query) {
    if (r.chance(0.5)) q.append(p.name, queryValue(r, p));
    if (r.chance(0.04)) q.append(p.name, queryValue(r, p)); // the same parameter twice
  }
  if (r.chance(0.15)) q.append(r.pick(['foo', 'limit', 'LIMIT', '__proto__', 'constructor', 'q', 'db', 'kind[]', 'a'.repeat(300), '']), hostile(r));
  let search = q.toString();
  if (r.chance(0.05)) search = r.pick(['%zz=1', 'a=%', '&&&', '=', 'kind', 'limit=%00', 'a=b=c', `x=${'y'.repeat(10_000)}`, 'from=now&from=now']);
  const url = `${path}${search ? `?${search}` : ''}`;

  const who = r.pick(['admin', 'admin', 'viewer', 'operator', 'none', 'bad', 'malformed']);
  const headers: Record<string, string> = {};
  if (who === 'admin') headers.authorization = `Bearer ${ADMIN_KEY}`;
  if (who === 'viewer') headers.authorization = `Bearer ${viewer}`;
  if (who === 'operator') headers.authorization = `Bearer ${operator}`;
  // most bad keys look like generated ones (cheap to refuse); a few are free text, checked against the bootstrap key
  if (who === 'bad') headers.authorization = `Bearer ${r.chance(0.8) ? r.pick([`pk_${r.int(2 ** 48).toString(16).padStart(12, '0')}.x`, `${viewer}x`, `${operator.slice(0, -1)}`]) : hostile(r).replace(/[^\x21-\x7e]/g, '') || 'x'}`;
  if (who === 'malformed') headers.authorization = r.pick(['Bearer', 'Bearer ', 'Basic YWRtaW46YWRtaW4=', `bearer  ${ADMIN_KEY}`, `Bearer ${ADMIN_KEY} extra`, 'Token x', `${ADMIN_KEY}`]);
  if (r.chance(0.3)) headers.accept = r.pick(['application/json', 'text/csv', '*/*', 'text/html', 'application/xml', 'text/csv, application/json', 'application/problem+json', ';;;', 'text/event-stream']);
  for (const h of op.headers) if (r.chance(0.3)) headers[h] = r.pick(['0', '5', '-1', 'abc', '9'.repeat(20), '1e3']);
  if (op.path.startsWith('/api/v1/broker/') && r.chance(0.8)) headers['x-pantau-broker-secret'] = r.chance(0.8) ? BROKER_SECRET : r.pick(['', 'wrong', `${BROKER_SECRET}x`, BROKER_SECRET.toUpperCase()]);

  let text: string | undefined;
  let expectStatus: number | undefined;
  if (op.hasBody || r.chance(0.05)) {
    const b = body(r, op);
    text = b.text;
    if (b.contentType) headers['content-type'] = b.contentType;
    // the body limit applies to any route that takes a body, once the key is good enough to get that far
    if (b.oversized && op.hasBody && method === op.method && wellFormedPath && who === 'admin' && b.contentType === 'application/json' && Buffer.byteLength(b.text ?? '') > bodyLimitOf(op)) expectStatus = 413;
  }
  if (method === 'GET' || method === 'HEAD') text = undefined;
  return { label: `#${i} ${op.method} ${op.path} as ${who}`, method, url, headers, body: text, expectStatus };
}

/**
 * Besides the random requests, a sweep: every hostile string once in every path parameter, every documented
 * query parameter and every field of every body, with a key good enough to get past authorisation.
 */
function sweep(): FuzzRequest[] {
  const out: FuzzRequest[] = [];
  const admin = { authorization: `Bearer ${ADMIN_KEY}`, 'x-pantau-broker-secret': BROKER_SECRET };
  const target = fleet[0]!.id;
  for (const op of operations) {
    const route = `${op.method} ${op.path}`;
    if (op.path.includes('{')) {
      for (const s of HOSTILE_STRINGS) {
        if (fleet.some((d) => d.id === s)) continue;
        const value = encode(s);
        out.push({ label: `sweep ${route} path=${JSON.stringify(s.slice(0, 20))}`, method: op.method, url: op.path.replace(/\{\w+\}/g, value), headers: { ...admin, ...(op.hasBody ? { 'content-type': 'application/json' } : {}) }, body: op.hasBody ? '{"name":"x"}' : undefined });
      }
    }
    if (DESTRUCTIVE.test(route)) continue;
    const path = op.path.replace(/\{\w+\}/g, target);
    for (const p of op.query) {
      for (const s of HOSTILE_STRINGS) {
        out.push({ label: `sweep ${route} ${p.name}=${JSON.stringify(s.slice(0, 20))}`, method: op.method, url: `${path}?${new URLSearchParams({ [p.name]: s.replace(/[\ud800-\udfff]/g, '') })}`, headers: admin });
      }
    }
    if (op.hasBody) {
      const bases: Record<string, Record<string, unknown>> = {
        '/api/v1/keys': { name: 'sweep key', role: 'viewer' },
        '/api/v1/devices': { id: 'sweep-0', kind: 'air', name: 'Sweep', city: 'Samarinda', district: 'Samarinda Ulu', location: { lat: 0, lon: 117 } },
        '/api/v1/broker/auth': { username: target, password: 'x', clientid: 'sweep' },
        '/api/v1/broker/acl': { username: target, clientid: 'sweep', topic: `sensors/air/${target}/telemetry`, action: 'publish' },
      };
      const base = bases[op.path] ?? { name: 'sweep' };
      const fields = [...Object.keys(base), 'location', 'thresholds', 'lat'];
      const values: unknown[] = [...HOSTILE_STRINGS, null, true, -1, 1e308, [], {}, { lat: 'x' }, { waspada: 'x' }, [[[]]]];
      for (const f of fields) {
        for (const [i, v] of values.entries()) {
          const b = { ...base, [f]: v };
          if (typeof b.id === 'string' && f !== 'id') b.id = `sweep-${out.length}-${i}`;
          out.push({ label: `sweep ${route} body.${f}=${JSON.stringify(v)?.slice(0, 20)}`, method: op.method, url: path, headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify(b) });
        }
      }
    }
  }
  // the body limit, exactly: the route's limit (64 KiB unless it has its own) passes on to validation, one byte more is 413
  for (const op of operations.filter((o) => o.hasBody && bodyLimitOf(o) <= BODY_LIMIT)) {
    const limit = bodyLimitOf(op);
    const url = op.path.replace(/\{\w+\}/g, SWEEP_PATCH_TARGET);
    for (const size of [limit, limit + 1]) {
      const json = `{"name":"limit"}`;
      out.push({
        label: `sweep ${op.method} ${op.path} body of ${size} bytes`, method: op.method, url, headers: { ...admin, 'content-type': 'application/json' },
        body: json + ' '.repeat(size - json.length), ...(size > limit ? { expectStatus: 413 } : { notStatus: 413 }),
      });
    }
  }
  // times at and beyond what a time-series database can hold
  const extremes: Array<[string, string]> = [['1000-01-01T00:00:00Z', 'now'], ['-999999d', 'now'], ['-999999w', 'now'], ['now', '9999-12-31T23:59:59Z'], ['2262-04-12T00:00:00Z', '2262-04-13T00:00:00Z'], ['1677-09-21T00:12:43Z', 'now'], ['0000-01-01T00:00:00Z', 'now']];
  for (const [from, to] of extremes) {
    for (const extra of ['', '&every=1d', '&every=1d&agg=max']) {
      out.push({ label: `sweep GET /api/v1/devices/{id}/readings from=${from} to=${to}${extra}`, method: 'GET', url: `/api/v1/devices/${target}/readings?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}${extra}`, headers: admin });
    }
  }
  return out;
}

// -------------------------------------------------------------------------------------------------------------
// The checks

const LEAKS: Array<[RegExp, string]> = [
  [/\n\s+at /, 'stack frame'],
  [/\/work\//, 'source path'],
  [/\.ts:\d/, 'source file and line'],
  [/node_modules/, 'node_modules path'],
];

interface Outcome {
  status: number;
  contentType: string;
  text: string;
}

async function send(req: FuzzRequest): Promise<Outcome> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 15_000);
  try {
    const res = await fetch(`${tp.platform.httpUrl}${req.url}`, { method: req.method, headers: req.headers, body: req.body, signal: controller.signal });
    const contentType = res.headers.get('content-type') ?? '';
    if (contentType.startsWith('text/event-stream')) {
      // the live stream never ends: its head is the answer
      await res.body?.cancel();
      return { status: res.status, contentType, text: '' };
    }
    return { status: res.status, contentType, text: await res.text() };
  } finally {
    clearTimeout(timer);
  }
}

function problems(req: FuzzRequest, out: Outcome): string[] {
  const found: string[] = [];
  if (out.status >= 500) found.push(`${out.status}`);
  if (req.expectStatus !== undefined && out.status !== req.expectStatus) found.push(`expected ${req.expectStatus}, got ${out.status}`);
  if (req.notStatus !== undefined && out.status === req.notStatus) found.push(`must not be ${req.notStatus}`);
  for (const [re, what] of LEAKS) if (re.test(out.text)) found.push(`leaks a ${what}`);
  // CKAN's Action API (docs/opendata.md) answers its errors as CKAN does, which harvesters parse:
  // {"help","success":false,"error":{"__type","message"}} with 404 or 409 — not problem+json
  if (out.status >= 400 && req.url.startsWith('/api/3/action/') && out.contentType.startsWith('application/json')) {
    type CkanError = { help?: unknown; success?: unknown; error?: { __type?: unknown; message?: unknown } };
    const c = ((): CkanError | null => {
      try {
        return JSON.parse(out.text) as CkanError;
      } catch {
        found.push('CKAN error body is not JSON');
        return null;
      }
    })();
    if (c && (c.success !== false || typeof c.help !== 'string' || typeof c.error?.__type !== 'string' || typeof c.error.message !== 'string')) {
      found.push('CKAN error without success:false, help, error.__type or error.message');
    }
    if (out.status !== 404 && out.status !== 409 && out.status !== 429 && out.status !== 400) found.push(`CKAN error status ${out.status}`);
    return found;
  }
  if (out.status >= 400 && req.method !== 'HEAD') {
    // NGSI-LD answers its errors as the ETSI specification says: application/json ProblemDetails with its own types
    const ngsiLd = req.url.startsWith('/ngsi-ld/') && out.contentType.startsWith('application/json') && /"type":"https:\/\/uri\.etsi\.org\/ngsi-ld\/errors\//.test(out.text);
    if (!out.contentType.startsWith('application/problem+json') && !ngsiLd) found.push(`error as ${out.contentType || 'no content type'}`);
    let p: Record<string, unknown> | null = null;
    try {
      p = JSON.parse(out.text) as Record<string, unknown>;
    } catch {
      found.push('error body is not JSON');
    }
    if (p) {
      for (const k of ['type', 'title', 'detail']) if (typeof p[k] !== 'string' || p[k] === '') found.push(`problem without ${k}`);
      if (p.status !== out.status) found.push(`problem status ${String(p.status)} ≠ ${out.status}`);
    }
  }
  return found;
}

describe('the API under random input', () => {
  it(`answers ${REQUESTS} random requests and a sweep of hostile values on every documented route without a 5xx, always with problem+json errors and no stack traces`, async () => {
    const r = rng(SEED);
    const routes = new Set(operations.map((o) => `${o.method} ${o.path}`));
    expect(routes.size).toBeGreaterThanOrEqual(18);
    const requests = [...Array.from({ length: REQUESTS }, (_, i) => makeRequest(r, i)), ...sweep()];
    const failures: string[] = [];
    const failureClasses = new Map<string, { count: number; routes: Set<string> }>();
    const statuses = new Map<number, number>();
    const perRoute = new Map<string, Set<number>>();
    let next = 0;
    const started = Date.now();
    const worker = async () => {
      while (next < requests.length) {
        const req = requests[next++]!;
        let out: Outcome;
        try {
          out = await send(req);
        } catch (err) {
          failures.push(`${req.label}: ${req.method} ${req.url.slice(0, 200)} → no answer (${(err as Error).message})`);
          continue;
        }
        statuses.set(out.status, (statuses.get(out.status) ?? 0) + 1);
        const route = req.label.split(' ').slice(1, 3).join(' ');
        if (!perRoute.has(route)) perRoute.set(route, new Set());
        perRoute.get(route)!.add(out.status);
        const found = problems(req, out);
        // one example per kind of failure is enough to act on; the rest are counted with the routes they hit
        const klass = `${out.status} [${found.join('; ')}]`;
        if (found.length > 0) {
          const seen = failureClasses.get(klass) ?? { count: 0, routes: new Set<string>() };
          seen.count++;
          seen.routes.add(route);
          failureClasses.set(klass, seen);
        }
        if (found.length > 0 && failureClasses.get(klass)!.count === 1) {
          failures.push(
            `${req.label}: ${req.method} ${req.url.slice(0, 200)} headers=${JSON.stringify(req.headers).slice(0, 200)} body=${JSON.stringify(req.body?.slice(0, 200) ?? null)} ` +
              `→ ${out.status} ${out.contentType} ${out.text.slice(0, 300)} [${found.join('; ')}]`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    console.info(
      `fuzz-api: ${requests.length} requests in ${((Date.now() - started) / 1000).toFixed(1)} s; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`,
    );
    const summary = [...failureClasses].map(([k, v]) => `${k}: ${v.count}× on ${[...v.routes].join(', ')}`);
    expect({ summary, examples: failures }).toEqual({ summary: [], examples: [] });

    // the fuzz reached past validation on every route, and met the guards along the way
    for (const route of routes) expect(perRoute.has(route), `${route} was never called`).toBe(true);
    for (const status of [200, 201, 204, 400, 401, 403, 404, 413, 415]) expect(statuses.get(status) ?? 0, `no ${status} seen`).toBeGreaterThan(0);
    expect(statuses.get(429) ?? 0).toBe(0);

    // and the platform is whole: up, the fleet intact, the keys working, devices still ingesting
    expect((await tp.api('GET', '/healthz', { key: null })).status).toBe(200);
    expect((await tp.api('GET', '/readyz', { key: null })).status).toBe(200);
    for (const d of fleet) expect((await tp.api('GET', `/api/v1/devices/${d.id}`, { key: viewer })).status).toBe(200);
    expect((await tp.api('GET', '/api/v1/alerts', { key: operator })).status).toBe(200);
    const extra = await tp.register('air', 'after-the-fuzz');
    const c = await mqtt.connectAsync(tp.platform.mqttUrl!, { username: extra.id, password: extra.token, reconnectPeriod: 0 });
    await c.publishAsync(`sensors/air/${extra.id}/telemetry`, JSON.stringify({ pm25: 12 }), { qos: 1 });
    await c.endAsync();
    await eventually(async () => (await tp.api('GET', `/api/v1/devices/${extra.id}/latest`, { key: viewer })).status === 200);
  }, 300_000); // a hang guard, not a speed target: 4,000 requests took over 2 min on a loaded machine
});
