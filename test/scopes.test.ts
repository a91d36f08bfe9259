// Scopes and revocation (issue 20, docs/contract.md §5 Scopes): what a scoped key may grant, and that revocation
// reaches live connections — the SSE stream (by key and by console session) and an MQTT city-system session end
// within 2 s when the key is revoked or its scope narrowed, also when the change is made through another node of a
// cluster (two platforms on one PostgreSQL). The route-by-route check is test/scope-matrix.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';
import { sse } from './support/sse.js';

const GAUGE = { waspada: 100, siaga: 150, awas: 200 };

/** Resolves with the time it took the stream to end, or rejects after `ms`. */
async function endsWithin(done: Promise<unknown>, ms: number): Promise<number> {
  const start = Date.now();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`the stream was still open after ${ms} ms`)), ms)))]);
  clearTimeout(timer);
  return Date.now() - start;
}

describe('granting scopes', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await startTestPlatform();
  });
  afterAll(async () => {
    await tp?.stop();
  });

  it('a scoped admin grants only inside its scope; only an unscoped admin makes unscoped keys; the audit says who and what', async () => {
    const admin = await tp.api('POST', '/api/v1/keys', { body: { name: 'Diskominfo Samarinda', role: 'admin', scope: { cities: ['Samarinda'] } } });
    expect(admin.status).toBe(201);
    expect(admin.body.scope).toEqual({ cities: ['Samarinda'], kinds: [] });
    const key = admin.body.key;

    // no scope given: its own scope, never "all"
    const inherits = await tp.api('POST', '/api/v1/keys', { key, body: { name: 'wall screen', role: 'viewer' } });
    expect(inherits.status).toBe(201);
    expect(inherits.body.scope).toEqual({ cities: ['Samarinda'], kinds: [] });
    // narrower: allowed (city names match case-insensitively)
    const narrower = await tp.api('POST', '/api/v1/keys', { key, body: { name: 'BPBD', role: 'operator', scope: { cities: ['samarinda'], kinds: ['flood'] } } });
    expect(narrower.status).toBe(201);
    // wider: refused
    for (const scope of [{}, { cities: [] }, { cities: ['Samarinda', 'Balikpapan'] }, { kinds: ['flood'] }]) {
      const wider = await tp.api('POST', '/api/v1/keys', { key, body: { name: 'wider', role: 'viewer', scope } });
      expect(wider.status, JSON.stringify(scope)).toBe(403);
      expect(wider.body.detail).toMatch(/wider than your own/);
    }
    // keys outside its scope do not exist for it
    const provincial = await tp.api('POST', '/api/v1/keys', { body: { name: 'province viewer', role: 'viewer' } });
    expect((await tp.api('GET', `/api/v1/keys/${provincial.body.id}`, { key })).status).toBe(404);
    expect((await tp.api('DELETE', `/api/v1/keys/${provincial.body.id}`, { key })).status).toBe(404);
    expect((await tp.api('PATCH', `/api/v1/keys/${provincial.body.id}`, { key, body: { role: 'admin' } })).status).toBe(404);
    const listed = (await tp.api('GET', '/api/v1/keys', { key })).body;
    expect(listed.items.map((k: { name: string }) => k.name).sort()).toEqual(['BPBD', 'Diskominfo Samarinda', 'wall screen']);
    expect(listed.total).toBe(3);
    // nor can it widen a key of its own scope
    expect((await tp.api('PATCH', `/api/v1/keys/${narrower.body.id}`, { key, body: { scope: { cities: ['Samarinda', 'Bontang'] } } })).status).toBe(403);

    // the unscoped admin narrows a key: audited with the actor and before → after
    const changed = await tp.api('PATCH', `/api/v1/keys/${narrower.body.id}`, { body: { scope: { cities: ['Samarinda'], kinds: ['flood', 'air'] } } });
    expect(changed.status).toBe(200);
    expect(changed.body.scope).toEqual({ cities: ['Samarinda'], kinds: ['air', 'flood'] });
    const audit = (await tp.api('GET', '/api/v1/audit?limit=20')).body.items;
    const entry = audit.find((e: { action: string; target: string }) => e.action === 'key.updated' && e.target.startsWith(narrower.body.id));
    expect(entry.actor).toBe('key:bootstrap (bootstrap admin)');
    expect(entry.target).toContain('scope cities=samarinda kinds=flood → cities=Samarinda kinds=air|flood');
    expect(audit.some((e: { action: string; actor: string; target: string }) => e.action === 'key.created' && e.actor.includes('Diskominfo Samarinda') && e.target.includes('cities=samarinda kinds=flood'))).toBe(true);
  });

  it('a scoped admin creates and moves devices only inside its scope; an import row outside it is a numbered row error and nothing is created', async () => {
    const key = (await tp.api('POST', '/api/v1/keys', { body: { name: 'BPBD Samarinda admin', role: 'admin', scope: { cities: ['Samarinda'], kinds: ['flood'] } } })).body.key;
    const device = (id: string, city: string, kind = 'flood') => ({ id, kind, name: id, city, district: 'Kota', location: { lat: -0.5, lon: 117.1 } });
    expect((await tp.api('POST', '/api/v1/devices', { key, body: device('smd-ok-1', 'Samarinda') })).status).toBe(201);
    const outside = await tp.api('POST', '/api/v1/devices', { key, body: device('bpn-no-1', 'Balikpapan') });
    expect(outside.status).toBe(403);
    expect(outside.body.detail).toMatch(/outside your scope/);
    expect((await tp.api('POST', '/api/v1/devices', { key, body: device('smd-air-no', 'Samarinda', 'air') })).status).toBe(403);
    const moved = await tp.api('PATCH', '/api/v1/devices/smd-ok-1', { key, body: { city: 'Bontang' } });
    expect(moved.status).toBe(403);
    const imported = await tp.api('POST', '/api/v1/devices/import', { key, body: [device('smd-ok-2', 'Samarinda'), device('bpn-no-2', 'Balikpapan'), device('smd-ok-3', 'SAMARINDA')] });
    expect(imported.status).toBe(400);
    expect(imported.body.errors).toEqual([{ row: 2, field: 'city', detail: expect.stringMatching(/flood device in Balikpapan is outside your scope/) }]);
    expect((await tp.api('GET', '/api/v1/devices/smd-ok-2')).status).toBe(404);
  });
});

describe('revocation reaches live connections', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await startTestPlatform();
  });
  afterAll(async () => {
    await tp?.stop();
  });

  it('a scoped stream carries only its scope; it ends within 2 s when its key is revoked', async () => {
    const inside = await tp.register('flood', 'smd-rev-flood', { thresholds: GAUGE });
    const outside = await tp.register('flood', 'bpn-rev-flood', { city: 'Balikpapan', thresholds: GAUGE });
    const created = await tp.api('POST', '/api/v1/keys', { body: { name: 'siren panel', role: 'viewer', scope: { cities: ['Samarinda'] } } });
    const stream = sse(`${tp.platform.httpUrl}/api/v1/stream`, { authorization: `Bearer ${created.body.key}` });
    await new Promise((r) => setTimeout(r, 200));
    const a = await tp.connect(inside.id, inside.token);
    const b = await tp.connect(outside.id, outside.token);
    await b.publishAsync(`sensors/flood/${outside.id}/telemetry`, JSON.stringify({ waterLevel: 260 }), { qos: 1 });
    await a.publishAsync(`sensors/flood/${inside.id}/telemetry`, JSON.stringify({ waterLevel: 260 }), { qos: 1 });
    await eventually(() => stream.events.some((e) => e.event === 'alert' && e.data.alert.deviceId === inside.id));
    expect(stream.events.filter((e) => e.event === 'reading').map((e) => e.data.deviceId)).toEqual([inside.id]);
    expect(stream.events.every((e) => (e.data.deviceId ?? e.data.alert?.deviceId) === inside.id)).toBe(true);

    expect((await tp.api('DELETE', `/api/v1/keys/${created.body.id}`)).status).toBe(204);
    const took = await endsWithin(stream.done, 2000);
    expect(took).toBeLessThan(2000);
  });

  it('a stream ends within 2 s when its key\'s scope is narrowed, and so does the console session of the key', async () => {
    const created = await tp.api('POST', '/api/v1/keys', { body: { name: 'dispatch', role: 'operator', scope: { cities: ['Samarinda'] } } });
    const byKey = sse(`${tp.platform.httpUrl}/api/v1/stream?access_token=${encodeURIComponent(created.body.key)}`, {});
    const signIn = await fetch(`${tp.platform.httpUrl}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: created.body.key }) });
    expect(signIn.status).toBe(200);
    const cookie = signIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const bySession = sse(`${tp.platform.httpUrl}/api/v1/stream`, { cookie });
    await new Promise((r) => setTimeout(r, 300));
    expect((await tp.api('PATCH', `/api/v1/keys/${created.body.id}`, { body: { scope: { cities: ['Samarinda'], kinds: ['flood'] } } })).status).toBe(200);
    await endsWithin(byKey.done, 2000);
    await endsWithin(bySession.done, 2000);
    const after = await fetch(`${tp.platform.httpUrl}/api/v1/session`, { headers: { cookie } });
    expect(after.status).toBe(401);
    // the key itself still works, with its new scope
    expect((await tp.api('GET', '/api/v1/summary', { key: created.body.key })).status).toBe(200);
  });

  it('a console stream ends within 2 s of signing out', async () => {
    const created = await tp.api('POST', '/api/v1/keys', { body: { name: 'night shift', role: 'viewer' } });
    const signIn = await fetch(`${tp.platform.httpUrl}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: created.body.key }) });
    const cookie = signIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const { csrfToken } = (await signIn.json()) as { csrfToken: string };
    const stream = sse(`${tp.platform.httpUrl}/api/v1/stream`, { cookie });
    await new Promise((r) => setTimeout(r, 300));
    const out = await fetch(`${tp.platform.httpUrl}/api/v1/session`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrfToken } });
    expect(out.status).toBe(204);
    await endsWithin(stream.done, 2000);
  });

  it('a person\'s console stream ends within 2 s when they are disabled', async () => {
    const made = await tp.api('POST', '/api/v1/users', { body: { username: 'rina.bpbd', name: 'Rina', role: 'operator', scope: { cities: ['Samarinda'], kinds: ['flood'] } } });
    expect(made.status).toBe(201);
    const password = 'sungai karang mumus 2026';
    expect((await tp.api('POST', '/api/v1/password', { key: null, body: { token: made.body.passwordLink.token, password } })).status).toBe(200);
    const signIn = await fetch(`${tp.platform.httpUrl}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'rina.bpbd', password }) });
    expect(signIn.status).toBe(200);
    const cookie = signIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    const stream = sse(`${tp.platform.httpUrl}/api/v1/stream`, { cookie });
    await new Promise((r) => setTimeout(r, 300));
    expect((await tp.api('PATCH', `/api/v1/users/${made.body.person.id}`, { body: { disabled: true } })).status).toBe(200);
    await endsWithin(stream.done, 2000);
  });

  it('an MQTT city system with a scoped key receives only its scope\'s alerts, and is disconnected when its scope changes', async () => {
    const inside = await tp.register('flood', 'smd-cs-flood', { thresholds: GAUGE });
    const outside = await tp.register('flood', 'bdg-cs-flood', { city: 'Bontang', thresholds: GAUGE });
    const created = await tp.api('POST', '/api/v1/keys', { body: { name: 'siren Samarinda', role: 'viewer', scope: { cities: ['Samarinda'], kinds: ['flood'] } } });
    const siren = await mqtt.connectAsync(tp.platform.mqttUrl!, { username: 'pantau-api-key', password: created.body.key, reconnectPeriod: 0 });
    const got: string[] = [];
    siren.on('message', (topic) => got.push(topic));
    await siren.subscribeAsync('alerts/#', { qos: 1 });
    const a = await tp.connect(inside.id, inside.token);
    const b = await tp.connect(outside.id, outside.token);
    await b.publishAsync(`sensors/flood/${outside.id}/telemetry`, JSON.stringify({ waterLevel: 230 }), { qos: 1 });
    await a.publishAsync(`sensors/flood/${inside.id}/telemetry`, JSON.stringify({ waterLevel: 230 }), { qos: 1 });
    await eventually(() => got.includes(`alerts/flood/${inside.id}`));
    // a late subscriber gets the retained alerts of its scope only
    const late = await mqtt.connectAsync(tp.platform.mqttUrl!, { username: 'pantau-api-key', password: created.body.key, reconnectPeriod: 0 });
    const retained: string[] = [];
    late.on('message', (topic) => retained.push(topic));
    await late.subscribeAsync('alerts/#', { qos: 1 });
    await eventually(() => retained.includes(`alerts/flood/${inside.id}`));
    await new Promise((r) => setTimeout(r, 300));
    expect(got.filter((t) => t.includes(outside.id))).toEqual([]);
    expect(retained.filter((t) => t.includes(outside.id))).toEqual([]);

    const closed = new Promise<void>((r) => siren.once('close', () => r()));
    expect((await tp.api('PATCH', `/api/v1/keys/${created.body.id}`, { body: { scope: { cities: ['Bontang'], kinds: ['flood'] } } })).status).toBe(200);
    await endsWithin(closed, 2000);
    await late.endAsync(true);
  });
});

describe('revocation across the nodes of a cluster', () => {
  let pg: PostgresServer;
  let a: TestPlatform;
  let b: TestPlatform;
  beforeAll(async () => {
    pg = await startPostgres();
    a = await startTestPlatform({ PANTAU_REGISTRY_URL: pg.url });
    b = await startTestPlatform({ PANTAU_REGISTRY_URL: pg.url, PANTAU_ROLE: 'api' });
  }, 120_000);
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await pg?.stop();
  });

  it('a key revoked or narrowed through node A ends its streams on node B within 2 s', async () => {
    const first = await a.api('POST', '/api/v1/keys', { body: { name: 'regency wall', role: 'viewer', scope: { cities: ['Samarinda'] } } });
    const second = await a.api('POST', '/api/v1/keys', { body: { name: 'regency desk', role: 'viewer', scope: { cities: ['Samarinda'] } } });
    const one = sse(`${b.platform.httpUrl}/api/v1/stream`, { authorization: `Bearer ${first.body.key}` });
    const two = sse(`${b.platform.httpUrl}/api/v1/stream`, { authorization: `Bearer ${second.body.key}` });
    await new Promise((r) => setTimeout(r, 300));
    expect((await a.api('DELETE', `/api/v1/keys/${first.body.id}`)).status).toBe(204);
    await endsWithin(one.done, 2000);
    expect((await a.api('PATCH', `/api/v1/keys/${second.body.id}`, { body: { scope: { cities: ['Samarinda'], kinds: ['air'] } } })).status).toBe(200);
    await endsWithin(two.done, 2000);
    // node B answers with the new scope at once
    const seen = await b.api('GET', '/api/v1/keys/' + second.body.id);
    expect(seen.body.scope).toEqual({ cities: ['Samarinda'], kinds: ['air'] });
  });
});
