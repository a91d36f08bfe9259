// The scope route matrix (issue 20, docs/contract.md §5 Scopes): every route of `/openapi.json`, called by a key
// scoped to one city and one kind while devices, alerts and keys of other cities and kinds exist, must neither show
// nor change anything of theirs. The requests are generated from the OpenAPI document, so a route added later is in
// the matrix without anyone remembering to add it; only a state-changing route needs a sample body here (the matrix
// refuses to pass over one without).
import { sse } from './sse.js';

export interface MatrixFleet {
  /** Ids, names and other strings of what lies outside the scope: none may appear in an answer. */
  hidden: { deviceIds: string[]; alertIds: string[]; keyIds: string[]; userIds: string[]; channelIds?: string[]; strings: string[] };
  /** Inside the scope: a device and an alert the caller does see (so a route that 404s everything is caught too). */
  visible: { deviceId: string; alertId: string };
  /** Kinds the scope has, for required `kind` parameters. */
  kinds: string[];
}

export interface MatrixOptions {
  baseUrl: string;
  /** The scoped key (an admin, so that every route is open to it and only the scope can stop it). */
  key: string;
  fleet: MatrixFleet;
  /** Everything an unscoped admin sees, to compare before and after the matrix: nothing outside may change. */
  snapshot: () => Promise<string>;
  /** Called while the live stream is open: make readings and alert changes happen on every device. */
  stir: () => Promise<void>;
}

export interface Violation {
  route: string;
  request: string;
  problem: string;
}

/** Routes that take no API key (public, or authenticated by their own secret): outside the matrix by design. */
const OWN_AUTH = new Set([
  'POST /api/v1/broker/auth',
  'POST /api/v1/broker/acl',
  'POST /api/v1/integrations/chirpstack',
  'POST /api/v1/integrations/ttn',
  'GET /api/v1/ack/{token}',
  'POST /api/v1/ack/{token}',
]);

/**
 * Sample bodies of state-changing routes: valid enough to pass validation, so that only the scope can stop them.
 * A new state-changing route must get one (the matrix reports it otherwise).
 */
const BODIES: Record<string, unknown> = {
  'POST /api/v1/devices': null, // generated per hidden city/kind below
  'POST /api/v1/devices/import': null,
  'PATCH /api/v1/devices/{id}': { name: 'renamed by the matrix' },
  'DELETE /api/v1/devices/{id}': undefined,
  'POST /api/v1/devices/{id}/token': undefined,
  'PUT /api/v1/devices/{id}/config': { reportIntervalSeconds: 120 },
  'POST /api/v1/alerts/{id}/ack': undefined,
  'POST /api/v1/keys': { name: 'matrix key', role: 'viewer', scope: { cities: ['Balikpapan'] } },
  'PATCH /api/v1/keys/{id}': { name: 'renamed by the matrix' },
  'DELETE /api/v1/keys/{id}': undefined,
  'POST /api/v1/users': { username: 'matrix.user', name: 'Matrix', role: 'viewer', scope: { cities: ['Balikpapan'] } },
  'PATCH /api/v1/users/{id}': { name: 'renamed by the matrix' },
  'DELETE /api/v1/users/{id}': undefined,
  'POST /api/v1/users/{id}/password-link': undefined,
  'POST /api/v1/session': { key: 'not a key' },
  'POST /api/v1/password': { token: 'not-a-link-token-0000000000', password: 'correct horse battery staple' },
  'DELETE /api/v1/session': undefined,
  'POST /api/v1/channels': { name: 'matrix channel', scope: { cities: ['Balikpapan'] }, type: 'http', config: { method: 'POST', url: 'http://127.0.0.1:9/matrix', headers: {}, body: '{{text}}' } },
  'PATCH /api/v1/channels/{id}': { name: 'renamed by the matrix' },
  'DELETE /api/v1/channels/{id}': undefined,
  'POST /api/v1/channels/{id}/test': undefined,
  'POST /api/v1/notification-rules': { name: 'matrix rule', scope: { cities: ['Balikpapan'] }, minSeverity: 'waspada', channels: ['ch-none'] },
  'PATCH /api/v1/notification-rules/{id}': { name: 'renamed by the matrix' },
  'DELETE /api/v1/notification-rules/{id}': undefined,
};

/** Query values for parameters a route requires (and a few optional ones worth trying). */
function queryVariants(params: OpenApiParameter[], fleet: MatrixFleet): Array<Record<string, string>> {
  const base: Record<string, string> = {};
  const variants: Array<Record<string, string>> = [];
  for (const p of params) {
    if (p.in !== 'query') continue;
    if (p.name === 'every') base.every = '1h';
    if (p.name === 'type') base.type = 'AirQualityObserved,WaterObserved,TrafficFlowObserved';
    if (p.name === 'from') base.from = '-2d';
    if (p.name === 'limit' && p.schema?.maximum !== undefined) base.limit = String(Math.min(1000, Number(p.schema.maximum)));
  }
  const kindParam = params.find((p) => p.in === 'query' && p.name === 'kind');
  const kinds = kindParam?.required ? ['air', 'flood', 'traffic'] : [undefined];
  for (const kind of kinds) {
    const v = { ...base, ...(kind ? { kind } : {}) };
    variants.push(v);
    if (params.some((p) => p.in === 'query' && p.name === 'format')) variants.push({ ...v, format: 'csv' });
    if (params.some((p) => p.in === 'query' && p.name === 'state')) variants.push({ ...v, state: 'open' });
  }
  void fleet;
  return variants;
}

interface OpenApiParameter {
  in: string;
  name: string;
  required?: boolean;
  schema?: { maximum?: number };
}

interface OpenApiOperation {
  security?: unknown[];
  parameters?: OpenApiParameter[];
  requestBody?: unknown;
  produces?: string[];
  responses?: Record<string, { content?: Record<string, unknown> }>;
}

/** Path parameter values: each hidden thing of the kind the path names. */
function hiddenIds(path: string, fleet: MatrixFleet): string[] {
  if (/\/devices\/\{id\}/.test(path)) return fleet.hidden.deviceIds;
  if (/\/alerts\/\{id\}/.test(path)) return fleet.hidden.alertIds;
  if (/\/keys\/\{id\}/.test(path)) return fleet.hidden.keyIds;
  if (/\/users\/\{id\}/.test(path)) return fleet.hidden.userIds;
  if (/\/(channels|notification-rules)\/\{id\}/.test(path)) return fleet.hidden.channelIds ?? [];
  if (/\/ngsi-ld\/v1\/entities\/\{id\}/.test(path)) {
    return fleet.hidden.deviceIds.flatMap((id) => ['AirQualityObserved', 'WaterObserved', 'TrafficFlowObserved'].map((t) => `urn:ngsi-ld:${t}:${id}`));
  }
  return [...fleet.hidden.deviceIds, ...fleet.hidden.alertIds, ...fleet.hidden.keyIds, ...fleet.hidden.userIds];
}

function visibleId(path: string, fleet: MatrixFleet): string | undefined {
  if (/\/devices\/\{id\}/.test(path)) return fleet.visible.deviceId;
  if (/\/alerts\/\{id\}/.test(path)) return fleet.visible.alertId;
  return undefined;
}

/** Runs the matrix; returns what went wrong (empty: every route kept to the scope). */
export async function runScopeMatrix(options: MatrixOptions): Promise<{ violations: Violation[]; routes: string[]; requests: number }> {
  const { baseUrl, key, fleet } = options;
  const doc = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, OpenApiOperation>> };
  const violations: Violation[] = [];
  const routes: string[] = [];
  let requests = 0;
  const markers = [...fleet.hidden.deviceIds, ...fleet.hidden.alertIds, ...fleet.hidden.keyIds, ...fleet.hidden.userIds, ...(fleet.hidden.channelIds ?? []), ...fleet.hidden.strings].filter(Boolean);

  const call = async (route: string, method: string, url: string, body?: unknown, accept?: string) => {
    requests++;
    const headers: Record<string, string> = { authorization: `Bearer ${key}` };
    if (accept) headers.accept = accept;
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(`${baseUrl}${url}`, { method, headers, body: payload, redirect: 'manual' });
    const text = await res.text();
    const sent = `${url} ${payload ?? ''}`;
    // a marker the request itself carried may be echoed back ("device x does not exist"); any other is a leak
    const leaked = markers.filter((m) => !sent.includes(m) && text.includes(m));
    if (leaked.length > 0) violations.push({ route, request: `${method} ${url}`, problem: `answer ${res.status} shows ${leaked.slice(0, 5).join(', ')}` });
    return { status: res.status, text };
  };

  const before = await options.snapshot();
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const M = method.toUpperCase();
      const route = `${M} ${path}`;
      if (OWN_AUTH.has(route)) continue;
      // public reads (health, metrics, the citizens' page, open data) are checked like the rest: the hidden devices
      // are not public (test/scope-matrix.test.ts), so nothing of theirs may appear there either
      routes.push(route);
      const params = op.parameters ?? [];
      if (path === '/api/v1/stream') {
        await checkStream(options, markers, violations);
        requests++;
        continue;
      }
      const stateChanging = M !== 'GET' && M !== 'HEAD';
      if (stateChanging && !(route in BODIES)) {
        violations.push({ route, request: route, problem: 'state-changing route without a sample body in test/support/scope-matrix.ts BODIES: add one so the matrix can prove it keeps to the scope' });
        continue;
      }
      const bodies = stateChanging ? bodiesFor(route, fleet) : [undefined];
      const ids = path.includes('{') ? hiddenIds(path, fleet) : [undefined];
      for (const id of ids) {
        for (const q of queryVariants(params, fleet)) {
          for (const body of bodies) {
            const url = `${id === undefined ? path : path.replace(/\{[^}]+\}/, encodeURIComponent(id))}${Object.keys(q).length ? `?${new URLSearchParams(q)}` : ''}`;
            for (const accept of stateChanging ? [undefined] : [undefined, 'text/csv']) {
              const res = await call(route, M, url, body, accept);
              if (id !== undefined && res.status < 400) {
                violations.push({ route, request: `${M} ${url}`, problem: `answered ${res.status} for something outside the scope (expected 404)` });
              } else if (id !== undefined && stateChanging && res.status !== 404) {
                violations.push({ route, request: `${M} ${url}`, problem: `answered ${res.status} for something outside the scope; it does not exist for this caller (expected 404)` });
              } else if (id === undefined && stateChanging && res.status < 400 && route !== 'DELETE /api/v1/session') {
                violations.push({ route, request: `${M} ${url}`, problem: `created or changed something outside the scope (${res.status})` });
              }
            }
          }
        }
      }
      // sanity: the route does answer inside the scope (a route that 404s everything would pass the above)
      const inside = path.includes('{') ? visibleId(path, fleet) : undefined;
      if (inside && !stateChanging) {
        const url = path.replace(/\{[^}]+\}/, encodeURIComponent(inside));
        const res = await call(route, M, url);
        if (res.status === 404 && !/has not reported|never reported|no readings/i.test(res.text)) {
          violations.push({ route, request: `${M} ${url}`, problem: `404 for a device or alert inside the scope: ${res.text.slice(0, 120)}` });
        }
      }
    }
  }
  const after = await options.snapshot();
  if (after !== before) violations.push({ route: '(all)', request: '(state)', problem: `something outside the scope changed:\n${diff(before, after)}` });
  return { violations, routes, requests };
}

/** Creating outside the scope: one body per hidden city/kind combination. */
function bodiesFor(route: string, fleet: MatrixFleet): unknown[] {
  const outside = [
    { city: 'Balikpapan', kind: 'flood' },
    { city: 'Samarinda', kind: 'air' },
  ];
  const device = (o: { city: string; kind: string }, i: number) => ({
    id: `matrix-made-${i}`, kind: o.kind, name: `matrix ${i}`, city: o.city, district: 'Kota', location: { lat: -1.2, lon: 116.8 },
  });
  if (route === 'POST /api/v1/devices') return outside.map(device);
  if (route === 'POST /api/v1/devices/import') return [outside.map(device)];
  void fleet;
  return [BODIES[route]];
}

async function checkStream(options: MatrixOptions, markers: string[], violations: Violation[]): Promise<void> {
  const url = `${options.baseUrl}/api/v1/stream?lastEventId=0`;
  const stream = sse(url, { authorization: `Bearer ${options.key}` });
  await new Promise((r) => setTimeout(r, 300));
  await options.stir();
  await new Promise((r) => setTimeout(r, 1500));
  stream.close();
  const text = JSON.stringify(stream.events);
  const leaked = markers.filter((m) => text.includes(m));
  if (leaked.length > 0) violations.push({ route: 'GET /api/v1/stream', request: 'GET /api/v1/stream?lastEventId=0', problem: `events show ${leaked.slice(0, 5).join(', ')}` });
  if (!stream.events.some((e) => e.event === 'reading')) {
    violations.push({ route: 'GET /api/v1/stream', request: 'GET /api/v1/stream', problem: 'no reading of the visible device arrived: the stream shows nothing at all' });
  }
}

function diff(a: string, b: string): string {
  const x = a.split('\n');
  const y = b.split('\n');
  const out: string[] = [];
  for (let i = 0; i < Math.max(x.length, y.length); i++) if (x[i] !== y[i]) out.push(`- ${x[i] ?? ''}\n+ ${y[i] ?? ''}`);
  return out.slice(0, 10).join('\n');
}
