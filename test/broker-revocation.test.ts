// Revocation at an external broker (docs/scale-out.md, "Ending sessions at the broker"; docs/contract.md §7): a
// device deleted or its token rotated, an API key revoked or narrowed ends its live sessions within 2 s, and a
// scoped key at the external broker subscribes only inside its scope.
// - Mosquitto 2 with the dynamic security plugin, real: devices and city systems log in from its password file,
//   Pantau (PANTAU_BROKER_ADMIN=mosquitto-dynsec) kicks them through `$CONTROL/dynamic-security/v1`.
// - EMQX 5's REST API, as its documentation shows it (GET /clients → {data, meta}, DELETE /clients/{clientid} → 204
//   or 404 CLIENTID_NOT_FOUND, HTTP Basic with an API key): a local HTTP server that records the kicks.
// - The auth/ACL endpoints EMQX calls: a scoped key's client id and subscriptions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import mqtt, { type MqttClient } from 'mqtt';
import { BROKER_SECRET_HEADER } from '../api/broker-auth.js';
import { ConfigError, loadConfig } from '../platform/config.js';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';
import { startMosquittoServer, type MosquittoServer } from './support/mosquitto.js';
import { startEmqxApi, type EmqxApi } from './support/emqx-api.js';

const SECRET = 'broker-secret-0123456789abcdef';
const DYNSEC_ADMIN = { username: 'pantau-admin', password: 'dynsec-admin-password-0123' };
const EMQX_KEY = 'pantau-kicks';
const EMQX_SECRET = 'emqx-api-secret-0123456789';
const KICK_WITHIN_MS = 2000;

const dirs: string[] = [];
const children: ChildProcess[] = [];
const clients: MqttClient[] = [];

/** A live MQTT session; `closedAt` resolves when the broker ends it. */
async function session(url: string, username: string, password: string, clientId: string): Promise<{ client: MqttClient; closed: Promise<number> }> {
  const client = await mqtt.connectAsync(url, { username, password, clientId, reconnectPeriod: 0, connectTimeout: 5000 });
  clients.push(client);
  return { client, closed: new Promise((resolve) => client.once('close', () => resolve(Date.now()))) };
}

/** Milliseconds from `since` until the session closed; fails after 5 s. */
async function closedWithin(s: { closed: Promise<number> }, since: number): Promise<number> {
  const at = await Promise.race([s.closed, new Promise<number>((r) => setTimeout(() => r(Number.POSITIVE_INFINITY), 5000))]);
  return at - since;
}

const metric = async (tp: TestPlatform, event: string, outcome: string) => {
  const text = (await tp.api('GET', '/metrics', { key: null })).text;
  const line = text.split('\n').find((l) => l.startsWith(`pantau_broker_kicks_total{event="${event}",outcome="${outcome}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
};

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('Mosquitto with dynamic security: revoked credentials lose their live connections', () => {
  let mosquitto: MosquittoServer;
  let tp: TestPlatform;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pantau-dynsec-'));
    dirs.push(dir);
    mosquitto = await startMosquittoServer(dir, { dynsec: DYNSEC_ADMIN });
    children.push(mosquitto.child);
    tp = await startTestPlatform({
      PANTAU_BROKER_URL: mosquitto.url,
      PANTAU_ROLE: 'api',
      PANTAU_BROKER_AUTH_SECRET: SECRET,
      PANTAU_BROKER_ADMIN: 'mosquitto-dynsec',
      PANTAU_BROKER_ADMIN_USERNAME: DYNSEC_ADMIN.username,
      PANTAU_BROKER_ADMIN_PASSWORD: DYNSEC_ADMIN.password,
    });
  });
  afterAll(async () => {
    await tp?.stop();
  });

  it('a deleted device\'s connection closes within 2 s; other devices stay connected', async () => {
    const gone = await tp.register('flood');
    const stays = await tp.register('flood');
    await mosquitto.setPasswords({ [stays.id]: stays.token, [gone.id]: gone.token });
    const a = await session(mosquitto.url, gone.id, gone.token, `${gone.id}-1`);
    const b = await session(mosquitto.url, stays.id, stays.token, `${stays.id}-1`);
    const t0 = Date.now();
    expect((await tp.api('DELETE', `/api/v1/devices/${gone.id}`)).status).toBe(204);
    expect(await closedWithin(a, t0)).toBeLessThan(KICK_WITHIN_MS);
    expect(b.client.connected).toBe(true);
    await eventually(async () => (await metric(tp, 'device-removed', 'done')) === 1, 5000);
  });

  it('a rotated token\'s connection closes within 2 s; Pantau refuses the old token at the next CONNECT', async () => {
    const d = await tp.register('air');
    await mosquitto.setPasswords({ [d.id]: d.token });
    const s = await session(mosquitto.url, d.id, d.token, `${d.id}-1`);
    const t0 = Date.now();
    const rotated = await tp.api('POST', `/api/v1/devices/${d.id}/token`);
    expect(rotated.status).toBe(200);
    expect(await closedWithin(s, t0)).toBeLessThan(KICK_WITHIN_MS);
    const auth = async (password: string) =>
      (await tp.api('POST', '/api/v1/broker/auth', { key: null, headers: { [BROKER_SECRET_HEADER]: SECRET }, body: { username: d.id, password, clientid: `${d.id}-2` } })).body.result;
    expect(await auth(d.token)).toBe('deny');
    expect(await auth(rotated.body.token)).toBe('allow');
  });

  it('a revoked API key\'s subscriber, and a narrowed one\'s, is disconnected within 2 s', async () => {
    for (const change of ['revoke', 'narrow'] as const) {
      const created = await tp.api('POST', '/api/v1/keys', { body: { name: `siren ${change}`, role: 'viewer', scope: { cities: ['Samarinda'] } } });
      expect(created.status).toBe(201);
      // Mosquitto's password file holds one password per username: this key's, as the operator provisioned it
      await mosquitto.setPasswords({ 'pantau-api-key': created.body.key });
      const s = await session(mosquitto.url, 'pantau-api-key', created.body.key, `${created.body.id}-siren`);
      const t0 = Date.now();
      const res = change === 'revoke'
        ? await tp.api('DELETE', `/api/v1/keys/${created.body.id}`)
        : await tp.api('PATCH', `/api/v1/keys/${created.body.id}`, { body: { scope: { cities: ['Samarinda'], kinds: ['flood'] } } });
      expect(res.status).toBe(change === 'revoke' ? 204 : 200);
      expect(await closedWithin(s, t0)).toBeLessThan(KICK_WITHIN_MS);
    }
  });
});

describe('EMQX (REST API): revoked credentials\' sessions are kicked; scoped keys at the broker', () => {
  let emqx: EmqxApi;
  let tp: TestPlatform;
  const add = (clientid: string, username: string) => emqx.sessions.set(clientid, { clientid, username });
  const kickedWithin = (clientid: string, since: number) => emqx.kickedWithin(clientid, since);
  const broker = async (path: 'auth' | 'acl', body: Record<string, string>) =>
    (await tp.api('POST', `/api/v1/broker/${path}`, { key: null, headers: { [BROKER_SECRET_HEADER]: SECRET }, body })).body.result as string;

  beforeAll(async () => {
    emqx = await startEmqxApi(EMQX_KEY, EMQX_SECRET);
    tp = await startTestPlatform({
      // an API node: it never connects to the broker itself, it only answers EMQX and kicks through its REST API
      PANTAU_BROKER_URL: 'mqtt://127.0.0.1:1',
      PANTAU_ROLE: 'api',
      PANTAU_BROKER_AUTH_SECRET: SECRET,
      PANTAU_BROKER_ADMIN: 'emqx',
      PANTAU_BROKER_ADMIN_URL: emqx.url,
      PANTAU_BROKER_ADMIN_KEY: EMQX_KEY,
      PANTAU_BROKER_ADMIN_SECRET: EMQX_SECRET,
    });
  });
  afterAll(async () => {
    await tp?.stop();
    await emqx?.close();
  });

  it('a deleted device\'s sessions are kicked within 2 s, another device\'s are not', async () => {
    const gone = await tp.register('flood');
    const stays = await tp.register('flood');
    add(`${gone.id}-a`, gone.id);
    add(`${gone.id}-b`, gone.id);
    add(`${stays.id}-a`, stays.id);
    const t0 = Date.now();
    expect((await tp.api('DELETE', `/api/v1/devices/${gone.id}`)).status).toBe(204);
    expect(await kickedWithin(`${gone.id}-a`, t0)).toBeLessThan(KICK_WITHIN_MS);
    expect(await kickedWithin(`${gone.id}-b`, t0)).toBeLessThan(KICK_WITHIN_MS);
    expect(emqx.sessions.has(`${stays.id}-a`)).toBe(true);
  });

  it('a rotated token: the session is kicked within 2 s and the old token cannot reconnect', async () => {
    const d = await tp.register('air');
    add(`${d.id}-x`, d.id);
    expect(await broker('auth', { username: d.id, password: d.token, clientid: `${d.id}-x` })).toBe('allow');
    const t0 = Date.now();
    const rotated = await tp.api('POST', `/api/v1/devices/${d.id}/token`);
    expect(await kickedWithin(`${d.id}-x`, t0)).toBeLessThan(KICK_WITHIN_MS);
    // what EMQX asks when the kicked device reconnects
    expect(await broker('auth', { username: d.id, password: d.token, clientid: `${d.id}-x` })).toBe('deny');
    expect(await broker('auth', { username: d.id, password: rotated.body.token, clientid: `${d.id}-x` })).toBe('allow');
  });

  it('a revoked or narrowed scoped key: its sessions are kicked within 2 s, other keys\' are not', async () => {
    const other = (await tp.api('POST', '/api/v1/keys', { body: { name: 'dispatch', role: 'viewer', scope: { cities: ['Balikpapan'] } } })).body;
    add(`${other.id}-dispatch`, 'pantau-api-key');
    add('control-room', 'pantau-api-key'); // an unscoped key's free client id
    for (const change of ['revoke', 'narrow'] as const) {
      const key = (await tp.api('POST', '/api/v1/keys', { body: { name: `siren ${change}`, role: 'viewer', scope: { cities: ['Samarinda'] } } })).body;
      add(key.id, 'pantau-api-key');
      add(`${key.id}-backup`, 'pantau-api-key');
      const t0 = Date.now();
      if (change === 'revoke') await tp.api('DELETE', `/api/v1/keys/${key.id}`);
      else await tp.api('PATCH', `/api/v1/keys/${key.id}`, { body: { scope: { cities: ['Samarinda'], kinds: ['flood'] } } });
      expect(await kickedWithin(key.id, t0)).toBeLessThan(KICK_WITHIN_MS);
      expect(await kickedWithin(`${key.id}-backup`, t0)).toBeLessThan(KICK_WITHIN_MS);
    }
    expect(emqx.sessions.has(`${other.id}-dispatch`)).toBe(true);
    expect(emqx.sessions.has('control-room')).toBe(true);
  });

  it('an unscoped key revoked: every API-key session is kicked (its client ids are free), devices\' are not', async () => {
    const key = (await tp.api('POST', '/api/v1/keys', { body: { name: 'control room', role: 'viewer' } })).body;
    const d = await tp.register('traffic');
    add('control-room-2', 'pantau-api-key');
    add(`${d.id}-1`, d.id);
    const t0 = Date.now();
    await tp.api('DELETE', `/api/v1/keys/${key.id}`);
    expect(await kickedWithin('control-room-2', t0)).toBeLessThan(KICK_WITHIN_MS);
    expect(emqx.sessions.has(`${d.id}-1`)).toBe(true);
  });

  it('a kick EMQX fails is retried, and counted', async () => {
    const d = await tp.register('flood');
    add(`${d.id}-r`, d.id);
    const failedBefore = await metric(tp, 'device-removed', 'failed');
    emqx.failNext.count = 1;
    const t0 = Date.now();
    await tp.api('DELETE', `/api/v1/devices/${d.id}`);
    expect(await kickedWithin(`${d.id}-r`, t0)).toBeLessThan(KICK_WITHIN_MS);
    expect(await metric(tp, 'device-removed', 'failed')).toBe(failedBefore + 1);
  });

  it('ACL: a scoped key logs in only under its own client id, and subscribes only inside its scope', async () => {
    const inside = await tp.register('flood', undefined, { city: 'Samarinda' });
    const otherCity = await tp.register('flood', undefined, { city: 'Balikpapan' });
    const otherKind = await tp.register('air', undefined, { city: 'Samarinda' });
    const key = (await tp.api('POST', '/api/v1/keys', { body: { name: 'siren smd', role: 'viewer', scope: { cities: ['Samarinda'], kinds: ['flood'] } } })).body;
    const kindOnly = (await tp.api('POST', '/api/v1/keys', { body: { name: 'flood desk', role: 'viewer', scope: { kinds: ['flood'] } } })).body;
    const unscoped = (await tp.api('POST', '/api/v1/keys', { body: { name: 'province', role: 'viewer' } })).body;
    const login = (password: string, clientid: string) => broker('auth', { username: 'pantau-api-key', password, clientid });
    const sub = (clientid: string, topic: string) => broker('acl', { username: 'pantau-api-key', clientid, topic, action: 'subscribe' });

    // CONNECT: a scoped key names itself in its client id; an unscoped key's client id is free
    expect(await login(key.key, 'siren-1')).toBe('deny');
    expect(await login(key.key, `${unscoped.id}-siren`)).toBe('deny');
    expect(await login(key.key, `${key.id}x`)).toBe('deny');
    expect(await login(key.key, key.id)).toBe('allow');
    expect(await login(key.key, `${key.id}-siren-1`)).toBe('allow');
    expect(await login(unscoped.key, 'province-room')).toBe('allow');

    // SUBSCRIBE: alerts/# only unscoped; a device's topic inside the scope; a kind's when no city is restricted
    const me = `${key.id}-siren-1`;
    expect(await sub(me, 'alerts/#')).toBe('deny');
    expect(await sub(me, `alerts/flood/${inside.id}`)).toBe('allow');
    expect(await sub(me, `alerts/flood/${otherCity.id}`)).toBe('deny');
    expect(await sub(me, `alerts/air/${otherKind.id}`)).toBe('deny');
    expect(await sub(me, `alerts/air/${inside.id}`)).toBe('deny');
    expect(await sub(me, 'alerts/flood/+')).toBe('deny');
    expect(await sub(me, 'alerts/flood/#')).toBe('deny');
    expect(await sub(kindOnly.id, 'alerts/flood/+')).toBe('allow');
    expect(await sub(kindOnly.id, 'alerts/flood/#')).toBe('allow');
    expect(await sub(kindOnly.id, 'alerts/air/+')).toBe('deny');
    expect(await sub(kindOnly.id, 'alerts/#')).toBe('deny');
    expect(await sub('province-room', 'alerts/#')).toBe('allow');
    // a revoked key's session, until its kick lands, gets nothing
    await tp.api('DELETE', `/api/v1/keys/${key.id}`);
    expect(await sub(me, `alerts/flood/${inside.id}`)).toBe('deny');
  });
});

describe('configuration of the broker administration', () => {
  const base = { PANTAU_BROKER_URL: 'mqtt://broker:1883' };
  const error = (env: Record<string, string>) => {
    try {
      loadConfig(env);
    } catch (err) {
      return err instanceof ConfigError ? err.message : String(err);
    }
    return 'accepted';
  };

  it('none by default; emqx needs its REST API and an API key; mosquitto-dynsec an admin account, at PANTAU_BROKER_URL by default', () => {
    expect(loadConfig(base).brokerAdmin).toBeUndefined();
    expect(error({ PANTAU_BROKER_ADMIN: 'emqx' })).toMatch(/^PANTAU_BROKER_ADMIN: needs PANTAU_BROKER_URL/);
    expect(error({ ...base, PANTAU_BROKER_ADMIN: 'hivemq' })).toMatch(/^PANTAU_BROKER_ADMIN: must be none, emqx or mosquitto-dynsec/);
    expect(error({ ...base, PANTAU_BROKER_ADMIN: 'emqx', PANTAU_BROKER_ADMIN_KEY: 'k', PANTAU_BROKER_ADMIN_SECRET: 's' })).toMatch(/^PANTAU_BROKER_ADMIN_URL: must be EMQX's REST API/);
    expect(error({ ...base, PANTAU_BROKER_ADMIN: 'emqx', PANTAU_BROKER_ADMIN_URL: 'http://emqx:18083/api/v5' })).toMatch(/^PANTAU_BROKER_ADMIN_KEY: /);
    expect(loadConfig({ ...base, PANTAU_BROKER_ADMIN: 'emqx', PANTAU_BROKER_ADMIN_URL: 'http://emqx:18083/api/v5', PANTAU_BROKER_ADMIN_KEY: 'k', PANTAU_BROKER_ADMIN_SECRET: 's' }).brokerAdmin)
      .toEqual({ type: 'emqx', url: 'http://emqx:18083/api/v5', key: 'k', secret: 's' });
    expect(error({ ...base, PANTAU_BROKER_ADMIN: 'mosquitto-dynsec' })).toMatch(/^PANTAU_BROKER_ADMIN_USERNAME: /);
    expect(loadConfig({ ...base, PANTAU_BROKER_ADMIN: 'mosquitto-dynsec', PANTAU_BROKER_ADMIN_USERNAME: 'admin', PANTAU_BROKER_ADMIN_PASSWORD: 'p' }).brokerAdmin)
      .toEqual({ type: 'mosquitto-dynsec', url: 'mqtt://broker:1883', username: 'admin', password: 'p' });
  });
});
