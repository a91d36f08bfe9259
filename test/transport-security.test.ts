// Secure by default (issue "Secure by default and hardened against hostile input"): MQTT over TLS and over
// WebSocket with the same authentication and topic rules as plain MQTT, the API over HTTPS with security headers
// and CORS closed, per-key API and per-device publish rate limits that recover, oversized packets refused,
// configuration mistakes stopped at start with one clear line, and security-relevant changes in the audit log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { ConfigError, loadConfig } from '../platform/config.js';
import { ADMIN_KEY, collect, eventually, startTestPlatform, type TestPlatform } from './support/platform.js';
import { freePort } from './support/ports.js';
import { NODE_FLAGS } from './support/process.js';
import { connectPacket, oversizedPublishHeader } from './support/fuzz.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
let certDir: string;
let ca: Buffer;
let certFile: string;
let keyFile: string;

/** A CA and a server certificate for 127.0.0.1 and localhost, made with the openssl CLI. */
function makeCertificates(dir: string): void {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
    '-subj', '/CN=Pantau Test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
}

beforeAll(() => {
  certDir = mkdtempSync(join(tmpdir(), 'pantau-tls-'));
  makeCertificates(certDir);
  ca = readFileSync(join(certDir, 'ca.pem'));
  certFile = join(certDir, 'server.pem');
  keyFile = join(certDir, 'server.key');
});
afterAll(() => {
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: any;
}

/** An HTTPS request that trusts only the test CA. */
function httpsCall(url: string, options: { method?: string; key?: string | null; body?: unknown; headers?: Record<string, string>; ca?: Buffer | null } = {}): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  const key = options.key === undefined ? ADMIN_KEY : options.key;
  if (key) headers.authorization = `Bearer ${key}`;
  let payload: string | undefined;
  if (options.body !== undefined) {
    payload = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method: options.method ?? 'GET', headers, ...(options.ca === null ? {} : { ca: options.ca ?? ca }), timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let body: any = text;
        try {
          body = text ? JSON.parse(text) : null;
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(payload);
  });
}

async function connectError(url: string, options: mqtt.IClientOptions): Promise<{ code?: number; message: string }> {
  try {
    // no retries: a connection closed before CONNACK is a failure, not a reason to wait
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 4000, ...options }, false);
    await c.endAsync();
    return { message: 'connected' };
  } catch (err) {
    return { code: (err as { code?: number }).code, message: (err as Error).message };
  }
}

function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => client.once('close', () => resolve()));
}

const LOCATION = { lat: -1.27, lon: 116.83 };

describe('with a certificate', () => {
  let tp: TestPlatform;
  let ports: { mqtt: number; tls: number; ws: number };
  let https: string;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    ports = { mqtt: await freePort(), tls: await freePort(), ws: await freePort() };
    tp = await startTestPlatform({
      PANTAU_TLS_CERT: certFile,
      PANTAU_TLS_KEY: keyFile,
      PANTAU_MQTT_PORT: String(ports.mqtt),
      PANTAU_MQTT_TLS_PORT: String(ports.tls),
      PANTAU_MQTT_WS_PORT: String(ports.ws),
    });
    https = tp.platform.httpUrl;
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await tp?.stop();
  });

  async function registerOverHttps(kind: 'air' | 'flood' | 'traffic', id: string) {
    const res = await httpsCall(`${https}/api/v1/devices`, { method: 'POST', body: { id, kind, name: id, city: 'Balikpapan', district: 'Balikpapan Kota', location: LOCATION } });
    expect(res.status).toBe(201);
    return { id, kind, token: res.body.token as string };
  }

  async function latest(id: string) {
    return eventually(async () => {
      const res = await httpsCall(`${https}/api/v1/devices/${id}/latest`);
      return res.status === 200 ? res.body : null;
    });
  }

  it('serves the API over HTTPS only, with security headers and CORS closed to foreign origins', async () => {
    expect(https).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await httpsCall(`${https}/healthz`, { key: null, headers: { origin: 'https://evil.example' } });
    expect(health.status).toBe(200);
    expect(health.headers['x-content-type-options']).toBe('nosniff');
    expect(health.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(health.headers['x-frame-options']).toBeDefined();
    expect(health.headers['content-security-policy']).toContain("default-src 'self'");
    expect(health.headers['x-powered-by']).toBeUndefined();
    expect(health.headers['access-control-allow-origin']).toBeUndefined();
    const api = await httpsCall(`${https}/api/v1/devices`, { headers: { origin: 'https://evil.example' } });
    expect(api.status).toBe(200);
    expect(api.headers['access-control-allow-origin']).toBeUndefined();
    expect(api.headers['access-control-allow-credentials']).toBeUndefined();
    const preflight = await httpsCall(`${https}/api/v1/devices`, {
      method: 'OPTIONS',
      key: null,
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    expect(preflight.headers['access-control-allow-methods']).toBeUndefined();

    // a client that does not trust the certificate gets no answer, and plain HTTP on the port gets no API
    await expect(httpsCall(`${https}/healthz`, { key: null, ca: null })).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    const plain = await fetch(`${https.replace('https:', 'http:')}/healthz`).then((r) => r.status, (err: Error) => err.message);
    expect(plain).not.toBe(200);
  });

  it('MQTT over TLS authenticates devices and lands their readings; a wrong token gets CONNACK 4', async () => {
    const dev = await registerOverHttps('flood', 'tls-flood-01');
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${ports.tls}`, { ca, username: dev.id, password: dev.token, reconnectPeriod: 0, connectTimeout: 5000 });
    clients.push(client);
    expect((client.stream as unknown as { encrypted?: boolean }).encrypted).toBe(true);
    await client.publishAsync(`sensors/flood/${dev.id}/telemetry`, JSON.stringify({ waterLevel: 321 }), { qos: 1 });
    expect((await latest(dev.id)).values).toEqual({ waterLevel: 321 });
    expect((await connectError(`mqtts://127.0.0.1:${ports.tls}`, { ca, username: dev.id, password: 'not-the-token-at-all' })).code).toBe(4);
    expect((await connectError(`mqtts://localhost:${ports.tls}`, { ca, username: 'nobody-here', password: dev.token })).code).toBe(4);
    // the certificate is checked: a client without the CA does not get to CONNECT
    expect((await connectError(`mqtts://127.0.0.1:${ports.tls}`, { username: dev.id, password: dev.token })).message).toMatch(/self[- ]signed|unable to verify|certificate/i);
  });

  it('a plain MQTT client on the TLS port gets nowhere, while plain MQTT stays on its own port', async () => {
    const dev = await registerOverHttps('air', 'tls-air-plain');
    const onTlsPort = await connectError(`mqtt://127.0.0.1:${ports.tls}`, { username: dev.id, password: dev.token, connectTimeout: 3000 });
    expect(onTlsPort.message).not.toBe('connected');
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { username: dev.id, password: dev.token, reconnectPeriod: 0 });
    clients.push(client);
    await client.publishAsync(`sensors/air/${dev.id}/telemetry`, JSON.stringify({ pm25: 17 }), { qos: 1 });
    expect((await latest(dev.id)).values).toEqual({ pm25: 17 });
  });

  it('MQTT over secure WebSocket (/mqtt) has the same authentication and topic rules', async () => {
    const dev = await registerOverHttps('traffic', 'wss-traffic-01');
    const other = await registerOverHttps('traffic', 'wss-traffic-02');
    const url = `wss://127.0.0.1:${ports.ws}/mqtt`;
    const client = await mqtt.connectAsync(url, { ca, username: dev.id, password: dev.token, reconnectPeriod: 0, connectTimeout: 5000 } as mqtt.IClientOptions);
    clients.push(client);
    await client.subscribeAsync(`sensors/traffic/${dev.id}/rejections`);
    const notices = collect(client, `sensors/traffic/${dev.id}/rejections`);
    await client.publishAsync(`sensors/traffic/${dev.id}/telemetry`, JSON.stringify({ vehicleCount: 42, avgSpeed: 38 }), { qos: 1 });
    expect((await latest(dev.id)).values).toEqual({ vehicleCount: 42, avgSpeed: 38 });
    await client.publishAsync(`sensors/traffic/${dev.id}/telemetry`, JSON.stringify({ vehicle_count: 1 }), { qos: 1 });
    expect((await eventually(() => notices[0])).payload.reason).toBe('unknown_field');
    const refused = await client.subscribeAsync(`sensors/traffic/${other.id}/rejections`).then(() => null, (err: { packet?: { granted?: number[] } }) => err.packet?.granted);
    expect(refused).toEqual([128]);
    // someone else's topic: disconnected, nothing stored
    const gone = closed(client);
    client.publish(`sensors/traffic/${other.id}/telemetry`, JSON.stringify({ vehicleCount: 999 }), { qos: 1 });
    await gone;
    await tp.drained();
    expect(await tp.query('SELECT * FROM "traffic" WHERE "device_id" = $d', { d: other.id })).toEqual([]);
    expect((await connectError(url, { ca, username: dev.id, password: 'wrong-wrong-wrong-wrong' } as mqtt.IClientOptions)).code).toBe(4);
    // the WebSocket listener speaks TLS only
    expect((await connectError(`ws://127.0.0.1:${ports.ws}/mqtt`, { username: dev.id, password: dev.token, connectTimeout: 3000 })).message).not.toBe('connected');
  });

  it('a payload over 256 KiB but under the packet limit is rejected as too_many_readings, and the device stays connected', async () => {
    const dev = await registerOverHttps('air', 'tls-air-big');
    const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${ports.tls}`, { ca, username: dev.id, password: dev.token, reconnectPeriod: 0 });
    clients.push(client);
    await client.subscribeAsync(`sensors/air/${dev.id}/rejections`);
    const notices = collect(client, `sensors/air/${dev.id}/rejections`);
    await client.publishAsync(`sensors/air/${dev.id}/telemetry`, JSON.stringify({ pm25: 1, pad: 'x'.repeat(300 * 1024) }), { qos: 1 });
    expect((await eventually(() => notices[0])).payload.reason).toBe('too_many_readings');
    expect(client.connected).toBe(true);
    await client.publishAsync(`sensors/air/${dev.id}/telemetry`, JSON.stringify({ pm25: 2 }), { qos: 1 });
    expect((await latest(dev.id)).values).toEqual({ pm25: 2 });
  });
});

describe('without a certificate', () => {
  let tp: TestPlatform;
  let wsPort: number;
  beforeAll(async () => {
    wsPort = await freePort();
    tp = await startTestPlatform({ PANTAU_MQTT_WS_PORT: String(wsPort) });
  });
  afterAll(async () => {
    await tp?.stop();
  });

  it('MQTT over plain WebSocket on /mqtt works with the same rules', async () => {
    const dev = await tp.register('air', 'ws-air-01');
    const client = await mqtt.connectAsync(`ws://127.0.0.1:${wsPort}/mqtt`, { username: dev.id, password: dev.token, reconnectPeriod: 0 });
    await client.publishAsync(`sensors/air/${dev.id}/telemetry`, JSON.stringify({ pm25: 23 }), { qos: 1 });
    expect(await eventually(async () => (await tp.api('GET', `/api/v1/devices/${dev.id}/latest`)).body?.values)).toEqual({ pm25: 23 });
    const gone = closed(client);
    client.publish('sensors/air/ws-air-99/telemetry', JSON.stringify({ pm25: 1 }), { qos: 1 });
    await gone;
    expect((await connectError(`ws://127.0.0.1:${wsPort}/mqtt`, { username: dev.id, password: 'nope-nope-nope-nope' })).code).toBe(4);
    expect((await connectError(`ws://127.0.0.1:${wsPort}/elsewhere`, { username: dev.id, password: dev.token, connectTimeout: 3000 })).message).not.toBe('connected');
    // the API is plain HTTP here, still with its headers and closed CORS
    const res = await tp.api('GET', '/api/v1/devices', { headers: { origin: 'https://evil.example' } });
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('the audit log records API keys created and revoked and alerts acknowledged, with who did it', async () => {
    const operator = (await tp.api('POST', '/api/v1/keys', { body: { name: 'duty officer', role: 'operator' } })).body;
    const temp = (await tp.api('POST', '/api/v1/keys', { body: { name: 'temporary wall screen', role: 'viewer' } })).body;
    expect((await tp.api('DELETE', `/api/v1/keys/${temp.id}`)).status).toBe(204);

    const gauge = await tp.register('flood', 'audit-flood-gauge', { thresholds: { waspada: 100, siaga: 200, awas: 300 } });
    const c = await tp.connect(gauge.id, gauge.token);
    await c.publishAsync(`sensors/flood/${gauge.id}/telemetry`, JSON.stringify({ waterLevel: 350 }), { qos: 1 });
    const alert = await eventually(async () => (await tp.api('GET', `/api/v1/alerts?deviceId=${gauge.id}&state=open`)).body.items[0], 15_000);
    const acked = await tp.api('POST', `/api/v1/alerts/${alert.id}/ack`, { key: operator.key });
    expect(acked.status).toBe(200);

    const items = (await tp.api('GET', '/api/v1/audit?limit=100')).body.items as Array<{ ts: string; actor: string; action: string; target: string }>;
    const created = items.filter((i) => i.action === 'key.created');
    expect(created.map((i) => i.target)).toEqual(expect.arrayContaining([expect.stringContaining(operator.id), expect.stringContaining(temp.id)]));
    expect(created.find((i) => i.target.includes(temp.id))!.actor).toContain('bootstrap');
    const revoked = items.find((i) => i.action === 'key.revoked' && i.target.includes(temp.id));
    expect(revoked).toBeDefined();
    expect(revoked!.actor).toContain('bootstrap');
    const ack = items.find((i) => i.action === 'alert.acknowledged' && i.target.includes(alert.id));
    expect(ack).toBeDefined();
    expect(ack!.actor).toContain(operator.id);
    // newest first, and no secret in it
    const order = [items.indexOf(ack!), items.indexOf(revoked!)];
    expect(order[0]).toBeLessThan(order[1]!);
    for (const secret of [operator.key, temp.key, gauge.token, ADMIN_KEY]) expect(JSON.stringify(items)).not.toContain(secret);
  });
});

describe('rate limits', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await startTestPlatform({ PANTAU_API_RATE_LIMIT: '5', PANTAU_DEVICE_RATE_LIMIT: '1' });
  });
  afterAll(async () => {
    await tp?.stop();
  });

  it('an API key over its requests per minute gets 429 problem+json with Retry-After; another key is still served', async () => {
    const first = (await tp.api('POST', '/api/v1/keys', { body: { name: 'busy dashboard', role: 'viewer' } })).body.key;
    const second = (await tp.api('POST', '/api/v1/keys', { body: { name: 'quiet dashboard', role: 'viewer' } })).body.key;
    for (let i = 0; i < 5; i++) expect((await tp.api('GET', '/api/v1/devices', { key: first })).status).toBe(200);
    const limited = await tp.api('GET', '/api/v1/devices', { key: first });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toContain('application/problem+json');
    expect(limited.body).toMatchObject({ status: 429, title: expect.any(String), type: expect.any(String), detail: expect.any(String) });
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await tp.api('GET', '/api/v1/devices', { key: second })).status).toBe(200);
  });

  it('made-up keys do not buy a fresh allowance each: a client inventing a new key per request is limited by its address', async () => {
    // every refused key costs the server a full scrypt (the bootstrap key's cost) — the limit must hold here most of all
    const answers: number[] = [];
    for (let i = 0; i < 7; i++) answers.push((await tp.api('GET', '/api/v1/devices', { key: `made-up-key-number-${i}-${Date.now()}` })).status);
    expect(answers.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(answers.slice(5)).toEqual([429, 429]);
  });

  it('a device over its publish rate gets rate_limited rejections, and is served again once it slows down', async () => {
    const dev = await tp.platform.registry.createDevice(
      { id: 'chatty-air-01', kind: 'air', name: 'Chatty', city: 'Samarinda', district: 'Samarinda Ulu', location: LOCATION },
      'test',
    );
    const client = await tp.connect(dev.device.id, dev.token);
    await client.subscribeAsync(`sensors/air/${dev.device.id}/rejections`);
    const notices = collect(client, `sensors/air/${dev.device.id}/rejections`);
    const topic = `sensors/air/${dev.device.id}/telemetry`;
    // 1 message/s with a burst of 10: 25 at once must run into the limit
    await Promise.all(Array.from({ length: 25 }, (_, i) => client.publishAsync(topic, JSON.stringify({ pm25: i }), { qos: 1 })));
    await eventually(() => notices.filter((n) => n.payload.reason === 'rate_limited').length >= 10);
    await tp.drained();
    const stored = async () => ((await tp.query('SELECT count("pm25") FROM "air" WHERE "device_id" = $d', { d: dev.device.id }))[0]?.values[0]?.[1] as number | undefined) ?? 0;
    const limitedCount = notices.filter((n) => n.payload.reason === 'rate_limited').length;
    expect(await stored()).toBeGreaterThanOrEqual(10);
    expect((await stored()) + limitedCount).toBe(25);

    // recovery: after two quiet seconds the bucket holds two messages again
    await new Promise((r) => setTimeout(r, 2200));
    const seen = notices.length;
    const before = await stored();
    await client.publishAsync(topic, JSON.stringify({ pm25: 101 }), { qos: 1 });
    await client.publishAsync(topic, JSON.stringify({ pm25: 102 }), { qos: 1 });
    await tp.drained();
    expect(await stored()).toBe(before + 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(notices.slice(seen)).toEqual([]);
  });
});

describe('oversized MQTT packets', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await startTestPlatform({ PANTAU_MQTT_MAX_PACKET_BYTES: '64KB' });
  });
  afterAll(async () => {
    await tp?.stop();
  });

  it('a packet over PANTAU_MQTT_MAX_PACKET_BYTES closes the connection; the platform and other devices carry on', async () => {
    const dev = await tp.register('air', 'big-air-01');
    const bystander = await tp.register('air', 'big-air-02');
    const calm = await tp.connect(bystander.id, bystander.token);

    const client = await tp.connect(dev.id, dev.token);
    // under the limit: an ordinary (if large) publish
    await client.publishAsync(`sensors/air/${dev.id}/telemetry`, JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ pm25: i % 500 }))), { qos: 1 });
    const gone = closed(client);
    client.publish(`sensors/air/${dev.id}/telemetry`, JSON.stringify({ pm25: 1, pad: 'x'.repeat(100 * 1024) }), { qos: 1 });
    await gone;

    // a header announcing 100 MB is refused on the header alone, before any payload is buffered
    const port = Number(new URL(tp.platform.mqttUrl!).port);
    const socket = net.connect(port, '127.0.0.1');
    const shut = new Promise<number>((resolve) => {
      const t = Date.now();
      socket.on('close', () => resolve(Date.now() - t));
    });
    socket.on('error', () => undefined);
    const answers: Buffer[] = [];
    socket.on('data', (d: Buffer) => answers.push(d)); // flowing, so the server's close is seen
    socket.write(connectPacket('raw-big', dev.id, dev.token));
    await new Promise((r) => setTimeout(r, 200));
    socket.write(oversizedPublishHeader(`sensors/air/${dev.id}/telemetry`, 100 * 1024 * 1024));
    socket.write(Buffer.alloc(1024, 0x7b));
    expect(await shut).toBeLessThan(5000);
    expect(Buffer.concat(answers).subarray(0, 4)).toEqual(Buffer.from([0x20, 2, 0, 0])); // it was connected, then cut off

    expect((await tp.api('GET', '/healthz', { key: null })).status).toBe(200);
    expect(calm.connected).toBe(true);
    await calm.publishAsync(`sensors/air/${bystander.id}/telemetry`, JSON.stringify({ pm25: 9 }), { qos: 1 });
    expect(await eventually(async () => (await tp.api('GET', `/api/v1/devices/${bystander.id}/latest`)).body?.values)).toEqual({ pm25: 9 });
    await tp.drained();
    expect((await tp.query('SELECT count("pm25") FROM "air" WHERE "device_id" = $d', { d: dev.id }))[0]!.values[0]![1]).toBe(1000);
  });
});

describe('configuration mistakes', () => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ['a port that is not a number', { PANTAU_HTTP_PORT: 'abc' }, 'PANTAU_HTTP_PORT'],
    ['a port out of range', { PANTAU_MQTT_PORT: '70000' }, 'PANTAU_MQTT_PORT'],
    ['an InfluxDB URL that is not a URL', { PANTAU_INFLUX_URL: 'not a url' }, 'PANTAU_INFLUX_URL'],
    ['an InfluxDB URL with the wrong scheme', { PANTAU_INFLUX_URL: 'ftp://influx:8086' }, 'PANTAU_INFLUX_URL'],
    ['a certificate that does not exist', { PANTAU_TLS_CERT: '/nonexistent/cert.pem', PANTAU_TLS_KEY: '/nonexistent/key.pem' }, 'PANTAU_TLS_CERT'],
    ['a log level pino does not know', { PANTAU_LOG_LEVEL: 'loud' }, 'PANTAU_LOG_LEVEL'],
    ['a spool size that is not a size', { PANTAU_SPOOL_MAX_BYTES: 'lots' }, 'PANTAU_SPOOL_MAX_BYTES'],
    ['a packet limit below 1 KiB', { PANTAU_MQTT_MAX_PACKET_BYTES: '10' }, 'PANTAU_MQTT_MAX_PACKET_BYTES'],
    ['a negative device rate', { PANTAU_DEVICE_RATE_LIMIT: '-1' }, 'PANTAU_DEVICE_RATE_LIMIT'],
    ['an API rate that is a word', { PANTAU_API_RATE_LIMIT: 'fast' }, 'PANTAU_API_RATE_LIMIT'],
    ['an admin key too short to be safe', { PANTAU_ADMIN_KEY: 'short' }, 'PANTAU_ADMIN_KEY'],
    ['a bind address with shell in it', { PANTAU_HOST: '0.0.0.0; rm -rf /' }, 'PANTAU_HOST'],
  ];
  for (const [what, env, variable] of cases) {
    it(`${what} is refused naming ${variable}`, () => {
      let error: unknown;
      try {
        loadConfig(env);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message.startsWith(`${variable}:`)).toBe(true);
    });
  }

  it('a certificate without its key, or a key without its certificate, is refused naming the missing one', () => {
    expect(() => loadConfig({ PANTAU_TLS_CERT: certFile })).toThrow(/^PANTAU_TLS_KEY: /);
    expect(() => loadConfig({ PANTAU_TLS_KEY: keyFile })).toThrow(/^PANTAU_TLS_CERT: /);
    // and a certificate file that holds something else is caught before start
    expect(() => loadConfig({ PANTAU_TLS_CERT: keyFile, PANTAU_TLS_KEY: keyFile })).toThrow(/^PANTAU_TLS_CERT: .*not a PEM certificate/);
    expect(() => loadConfig({ PANTAU_TLS_CERT: certFile, PANTAU_TLS_KEY: certFile })).toThrow(/^PANTAU_TLS_KEY: .*not a PEM private key/);
  });

  it('`npm start` with PANTAU_HTTP_PORT=99999 exits with code 2 and one line on stderr naming the variable', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pantau-badcfg-'));
    try {
      // what `npm start` runs: scripts/start.mjs, which loads the compiled platform in its own process
      const child = spawn(process.execPath, [...NODE_FLAGS, join(ROOT, 'scripts', 'start.mjs')], {
        cwd: ROOT,
        env: { ...process.env, PANTAU_HTTP_PORT: '99999', PANTAU_DATA_DIR: dataDir, PANTAU_MQTT_PORT: '0', PANTAU_INFLUX_URL: 'http://127.0.0.1:9' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let stdout = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      expect(code).toBe(2);
      const lines = stderr.split('\n').filter((l) => l.trim() !== '');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('PANTAU_HTTP_PORT');
      expect(lines[0]).toContain('99999');
      expect(stdout).toBe('');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
