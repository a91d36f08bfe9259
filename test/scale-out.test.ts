// docs/contract.md §7 scale-out with real processes: a real Mosquitto, a private InfluxDB and two Pantau ingest workers
// (`PANTAU_BROKER_URL` set) sharing `$share/pantau-ingest/sensors/+/+/telemetry`; plus the broker auth/ACL
// endpoints an external broker (EMQX) calls, with docs/contract.md §3's rules.
//
// The workers are the compiled platform (`dist/platform/main.js`), as the image runs it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { buildApi } from '../api/app.js';
import { BROKER_SECRET_HEADER, brokerAuthPlugin } from '../api/broker-auth.js';
import { IndicesTracker } from '../api/indices.js';
import { LatestReadings } from '../api/latest-cache.js';
import { InfluxClient } from '../influx/client.js';
import { createLogger } from '../platform/logger.js';
import { createMetrics } from '../platform/metrics.js';
import { Registry } from '../registry/registry.js';
import { startInfluxd, influxQuery, type InfluxServer } from './support/influxd.js';
import { eventually } from './support/platform.js';
import { freePort } from './support/ports.js';
import { platformCommand } from './support/process.js';
import { startMosquittoServer } from './support/mosquitto.js';
import { startFleet } from './support/publishers.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MOSQUITTO = process.env.PANTAU_TEST_MOSQUITTO ?? '/usr/sbin/mosquitto';
const ADMIN = 'scale-out-admin-key-0123';
const DB = 'scaleout';

const dirs: string[] = [];
const children: ChildProcess[] = [];
let influx: InfluxServer;
let brokerUrl: string;
let fleetFile: string;

const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};

async function startMosquitto(): Promise<string> {
  const m = await startMosquittoServer(tempDir('pantau-mosquitto-'));
  children.push(m.child);
  return m.url;
}

// ---- ingest workers as real processes -------------------------------------------------------------------

interface Worker {
  child: ChildProcess;
  httpUrl: string;
  output(): string;
  exited: Promise<number | null>;
}

async function startWorker(workerId: string, dataDir: string): Promise<Worker> {
  const httpPort = await freePort();
  const child = spawn(...platformCommand(), {
    cwd: ROOT,
    env: {
      ...process.env,
      PANTAU_BROKER_URL: brokerUrl,
      PANTAU_WORKER_ID: workerId,
      PANTAU_INFLUX_URL: influx.url,
      PANTAU_INFLUX_DB: DB,
      PANTAU_DATA_DIR: dataDir,
      PANTAU_HTTP_PORT: String(httpPort),
      PANTAU_HOST: '127.0.0.1',
      PANTAU_FLEET_FILE: fleetFile,
      PANTAU_ADMIN_KEY: ADMIN,
      PANTAU_DEVICE_RATE_LIMIT: '0',
      PANTAU_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  const keep = (c: Buffer) => (out = (out + c.toString()).slice(-200_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // up = answering HTTP and subscribed to the shared subscription
  await eventually(() => {
    if (child.exitCode !== null) throw new Error(`worker ${workerId} exited during start: ${out}`);
    return out.includes('subscribed to the shared telemetry, SenML and config-report subscriptions');
  }, 90_000, 100).catch((err: Error) => {
    throw new Error(`worker ${workerId} did not subscribe: ${err.message}\n${out.slice(-3000)}`);
  });
  return { child, httpUrl: `http://127.0.0.1:${httpPort}`, output: () => out, exited };
}

async function readingsTotal(worker: Worker): Promise<number> {
  const text = await (await fetch(`${worker.httpUrl}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith('pantau_ingest_readings_total')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

async function storedTs(deviceId: string): Promise<number[]> {
  const series = await influxQuery(influx.url, DB, 'SELECT "pm25" FROM "air" WHERE "device_id" = $d', { d: deviceId });
  return (series[0]?.values ?? []).map((v) => v[0] as number);
}

const device = (id: string) => ({
  id,
  kind: 'air' as const,
  name: id,
  city: 'Balikpapan',
  district: 'Balikpapan Kota',
  location: { lat: -1.27, lon: 116.83 },
  token: `token-${id}-0123456789abcdef`,
});
const SPLIT = Array.from({ length: 10 }, (_, i) => device(`split-${i}`));
const KILL = Array.from({ length: 10 }, (_, i) => device(`kill-${i}`));
const TERM = Array.from({ length: 10 }, (_, i) => device(`term-${i}`));

let w1: Worker;
let w2: Worker;
let w1Dir: string;
let w2Dir: string;

/** Every reading the broker acknowledged to its publisher is in InfluxDB, once the workers have drained. */
async function allAckedStored(acked: Map<string, Set<number>>, suspect: Worker): Promise<void> {
  const missing = async () => {
    let left = 0;
    for (const [id, set] of acked) {
      const got = new Set(await storedTs(id));
      for (const ts of set) if (!got.has(ts)) left++;
    }
    return left;
  };
  await eventually(async () => (await missing()) === 0, 30_000, 200).catch(async (err: Error) => {
    throw new Error(`${await missing()} acknowledged readings not stored: ${err.message}\n${suspect.output().slice(-3000)}`);
  });
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await influx?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('ingest workers behind an external broker', () => {
  beforeAll(async () => {
    [influx, brokerUrl] = await Promise.all([startInfluxd(), startMosquitto()]);
    fleetFile = join(tempDir('pantau-fleet-'), 'fleet.json');
    writeFileSync(fleetFile, JSON.stringify([...SPLIT, ...KILL, ...TERM]));
    w1Dir = tempDir('pantau-w1-');
    w2Dir = tempDir('pantau-w2-');
    [w1, w2] = await Promise.all([startWorker('w1', w1Dir), startWorker('w2', w2Dir)]);
  }, 200_000);

  it('2,000 QoS 1 readings are split between two workers and each is stored exactly once', async () => {
    const clients = await Promise.all(SPLIT.map((d) => mqtt.connectAsync(brokerUrl, { clientId: d.id, username: d.id, password: d.token, reconnectPeriod: 0 })));
    const base = Date.now() - 3_600_000;
    let seq = 0;
    await Promise.all(clients.map(async (client, i) => {
      const topic = `sensors/air/${SPLIT[i]!.id}/telemetry`;
      for (let batch = 0; batch < 4; batch++) {
        await Promise.all(Array.from({ length: 50 }, () => client.publishAsync(topic, JSON.stringify({ ts: base + seq++, pm25: seq % 500 }), { qos: 1 })));
      }
    }));
    await Promise.all(clients.map((c) => c.endAsync()));
    expect(seq).toBe(2000);

    const count = async () => {
      const series = await influxQuery(influx.url, DB, `SELECT COUNT("pm25") FROM "air" WHERE "device_id" =~ /^split-/`);
      return (series[0]?.values[0]?.[1] as number | undefined) ?? 0;
    };
    await eventually(async () => (await count()) >= 2000, 20_000, 100);
    expect(await count()).toBe(2000);

    const [n1, n2] = await Promise.all([readingsTotal(w1), readingsTotal(w2)]);
    // both took a share, and no message was ingested twice
    expect(n1).toBeGreaterThan(200);
    expect(n2).toBeGreaterThan(200);
    expect(n1 + n2).toBe(2000);
  }, 40_000);

  it('a worker SIGKILLed mid-stream loses nothing the broker acknowledged: its restart drains its session and spool', async () => {
    const fleet = await startFleet({ url: brokerUrl, devices: KILL.map(({ id, token, kind }) => ({ id, token, kind })), intervalMs: 10, batch: 10 });
    // mid-stream: thousands acknowledged and more in flight (on a busy machine that takes longer than 2 s)
    await eventually(() => fleet.ackedCount() > 5000, 20_000, 50);
    const w2Before = await readingsTotal(w2);
    w1.child.kill('SIGKILL');
    await w1.exited;
    const ackedAtKill = fleet.ackedCount();
    await new Promise((r) => setTimeout(r, 1500));
    // the survivor kept ingesting while w1 was gone
    expect(await readingsTotal(w2)).toBeGreaterThan(w2Before);
    // same worker id (same persistent session at the broker) and same data dir (same spool)
    w1 = await startWorker('w1', w1Dir);
    await new Promise((r) => setTimeout(r, 1000));
    await fleet.stop();
    expect(fleet.ackedCount()).toBeGreaterThan(ackedAtKill);

    await allAckedStored(fleet.acked, w1);
    // the restarted w1 received what the broker had kept for its session while it was dead
    expect(await readingsTotal(w1)).toBeGreaterThan(0);
  }, 60_000);

  it('SIGTERM under load: the worker finishes what it took, exits cleanly, and loses nothing acknowledged', async () => {
    const fleet = await startFleet({ url: brokerUrl, devices: TERM.map(({ id, token, kind }) => ({ id, token, kind })), intervalMs: 10, batch: 10 });
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = Date.now();
    w2.child.kill('SIGTERM');
    const code = await w2.exited;
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(w2.output()).toMatch(/left the external broker/);
    await new Promise((r) => setTimeout(r, 500));
    w2 = await startWorker('w2', w2Dir);
    await new Promise((r) => setTimeout(r, 500));
    await fleet.stop();
    await allAckedStored(fleet.acked, w2);
  }, 40_000);

  it('a refused reading is explained on the device\'s rejections topic; an unknown device\'s message is counted, not stored', async () => {
    const d = SPLIT[0]!;
    const client = await mqtt.connectAsync(brokerUrl, { clientId: `${d.id}-notices`, username: d.id, password: d.token, reconnectPeriod: 0 });
    const notices: Array<{ reason: string; detail: string; ts: string }> = [];
    client.on('message', (_topic, payload) => notices.push(JSON.parse(payload.toString())));
    await client.subscribeAsync(`sensors/air/${d.id}/rejections`, { qos: 0 });
    await client.publishAsync(`sensors/air/${d.id}/telemetry`, JSON.stringify({ pm25: -5 }), { qos: 1 });
    await eventually(() => notices.length > 0, 10_000);
    expect(notices[0]).toMatchObject({ reason: 'out_of_range' });
    expect(notices[0]!.detail).toMatch(/pm25/);

    const refused = async () => {
      let n = 0;
      for (const w of [w1, w2]) {
        const text = await (await fetch(`${w.httpUrl}/metrics`)).text();
        for (const l of text.split('\n')) if (l.startsWith('pantau_ingest_rejected_total{reason="unknown_device"}')) n += Number(l.split(' ').pop());
      }
      return n;
    };
    const before = await refused();
    // Mosquitto here lets anyone publish; EMQX with /api/v1/broker/acl would have refused this at the broker
    await client.publishAsync('sensors/air/ghost-01/telemetry', JSON.stringify({ ts: Date.now() - 1000, pm25: 10 }), { qos: 1 });
    await eventually(async () => (await refused()) > before, 10_000, 100);
    // recorded as a rejection, never stored as a reading
    await eventually(async () => (await influxQuery(influx.url, DB, 'SELECT "detail" FROM "rejections" WHERE "device_id" = \'ghost-01\'')).length > 0, 10_000, 100);
    expect(await storedTs('ghost-01')).toEqual([]);
    await client.endAsync();
  }, 30_000);

  it('SenML packs and configuration reports reach the workers through the external broker; a config push reaches the device', async () => {
    const d = SPLIT[1]!;
    const client = await mqtt.connectAsync(brokerUrl, { clientId: `${d.id}-standards`, username: d.id, password: d.token, reconnectPeriod: 0 });
    const pushed: Array<{ version: number; config: Record<string, unknown> }> = [];
    client.on('message', (topic, payload) => {
      if (topic === `sensors/air/${d.id}/config` && payload.length > 0) pushed.push(JSON.parse(payload.toString()));
    });
    // a SenML pack of three records on the device's senml topic, shared between the workers like telemetry
    const bt = Math.floor((Date.now() - 600_000) / 1000);
    const pack = [
      { bn: `urn:dev:pantau:${d.id}:`, bt, n: 'pm25', u: 'ug/m3', v: 31.5 },
      { n: 'pm25', u: 'ug/m3', v: 32.5, t: 60 },
      { n: 'pm25', u: 'ug/m3', v: 33.5, t: 120 },
    ];
    await client.publishAsync(`sensors/air/${d.id}/senml`, JSON.stringify(pack), { qos: 1 });
    const want = [bt * 1000, (bt + 60) * 1000, (bt + 120) * 1000];
    await eventually(async () => {
      const got = new Set(await storedTs(d.id));
      return want.every((ts) => got.has(ts));
    }, 15_000, 100);

    // each worker here has its own registry (no PostgreSQL): push the same configuration through both, so the
    // report is accepted by whichever worker the broker hands it to
    const desired = { reportIntervalSeconds: 120 };
    for (const w of [w1, w2]) {
      const res = await fetch(`${w.httpUrl}/api/v1/devices/${d.id}/config`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify(desired),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { version: number }).version).toBe(1);
    }
    // retained on the external broker: a device subscribing afterwards still gets it
    await client.subscribeAsync(`sensors/air/${d.id}/config`, { qos: 1 });
    await eventually(() => pushed.length > 0, 10_000, 50);
    expect(pushed[0]).toEqual({ version: 1, config: desired });

    await client.publishAsync(`sensors/air/${d.id}/config/reported`, JSON.stringify({ version: 1, config: desired }), { qos: 1 });
    const reported = async () => {
      const states = await Promise.all([w1, w2].map(async (w) => (await (await fetch(`${w.httpUrl}/api/v1/devices/${d.id}/config`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { reportedVersion: number | null; reported: unknown }));
      return states.filter((s) => s.reportedVersion === 1);
    };
    await eventually(async () => (await reported()).length === 1, 10_000, 100);
    expect((await reported())[0]!.reported).toEqual(desired);
    await client.endAsync();
  }, 40_000);
});

// ---- the auth/ACL endpoints for EMQX (in-process: they are a fastify plugin) -------------------------------

describe('broker auth endpoints (EMQX HTTP authentication and authorisation)', () => {
  const SECRET = 'broker-secret-0123456789abcdef';
  const WORKER_PASSWORD = 'worker-password-0123456789';
  let registry: Registry;
  let app: Awaited<ReturnType<typeof buildApi>>;
  let offApp: Awaited<ReturnType<typeof buildApi>>;
  let token: string;
  let apiKey: string;

  const build = async (options: { secret?: string; workerPassword?: string }, apiRateLimit = 0) => {
    const influx = new InfluxClient({ url: 'http://127.0.0.1:1', database: 'unused' });
    const ctx = {
      registry,
      influx,
      indices: new IndicesTracker(influx),
      metrics: createMetrics(),
      log: createLogger('silent'),
      latest: new LatestReadings(),
      readiness: { checks: async () => ({}) },
      apiRateLimit,
      corsOrigins: [],
    };
    return buildApi(ctx, { plugins: [brokerAuthPlugin(ctx, options)] as never });
  };
  const post = async (path: string, body: unknown, secret: string | null = SECRET, on = app) => {
    const res = await on.inject({ method: 'POST', url: path, payload: body as object, headers: secret === null ? {} : { [BROKER_SECRET_HEADER]: secret } });
    return { status: res.statusCode, body: res.json() as { result?: string; is_superuser?: boolean; detail?: string } };
  };
  const auth = async (username: string, password: string, clientid = username) => (await post('/api/v1/broker/auth', { username, password, clientid })).body.result;
  const acl = async (username: string, action: string, topic: string) => (await post('/api/v1/broker/acl', { username, clientid: username, action, topic })).body.result;

  beforeAll(async () => {
    registry = new Registry(tempDir('pantau-broker-auth-'));
    ({ token } = await registry.createDevice({ id: 'bpn-air-01', kind: 'air', name: 'Air 1', city: 'Balikpapan', district: 'Balikpapan Kota', location: { lat: -1.27, lon: 116.83 } }, 'test'));
    await registry.createDevice({ id: 'bpn-air-02', kind: 'air', name: 'Air 2', city: 'Balikpapan', district: 'Balikpapan Kota', location: { lat: -1.27, lon: 116.83 } }, 'test');
    ({ key: apiKey } = await registry.createKey('siren', 'viewer', 'test'));
    app = await build({ secret: SECRET, workerPassword: WORKER_PASSWORD });
    offApp = await build({});
  });
  afterAll(async () => {
    await app?.close();
    await offApp?.close();
    registry?.close();
  });

  it('only the broker may ask: no secret or a wrong one is 401, and no configured secret is 404', async () => {
    const body = { username: 'bpn-air-01', password: token, clientid: 'bpn-air-01' };
    expect((await post('/api/v1/broker/auth', body, null)).status).toBe(401);
    expect((await post('/api/v1/broker/auth', body, 'not-the-secret')).status).toBe(401);
    expect((await post('/api/v1/broker/acl', { username: 'bpn-air-01', action: 'publish', topic: 'sensors/air/bpn-air-01/telemetry' }, null)).status).toBe(401);
    const off = await post('/api/v1/broker/auth', body, SECRET, offApp);
    expect(off.status).toBe(404);
    expect(off.body.detail).toMatch(/PANTAU_BROKER_AUTH_SECRET/);
  });

  it('CONNECT: a device with its token is allowed, a wrong token or unknown device denied, foreign accounts ignored', async () => {
    const ok = await post('/api/v1/broker/auth', { username: 'bpn-air-01', password: token, clientid: 'bpn-air-01' });
    expect(ok).toEqual({ status: 200, body: { result: 'allow', is_superuser: false } });
    expect(await auth('bpn-air-01', 'wrong-token-0123456789')).toBe('deny');
    expect(await auth('bpn-air-99', token)).toBe('deny');
    expect(await auth('bpn-air-01', '')).toBe('deny');
    expect(await auth('Grafana Bridge', 'whatever')).toBe('ignore');
    // city systems log in with an API key, as on the embedded broker
    expect(await auth('pantau-api-key', apiKey, 'siren-1')).toBe('allow');
    expect(await auth('pantau-api-key', 'not-a-key')).toBe('deny');
  });

  it('CONNECT: ingest workers need the worker password, and their client ids are theirs alone', async () => {
    expect(await auth('pantau-ingest', WORKER_PASSWORD, 'pantau-ingest-w1')).toBe('allow');
    expect(await auth('pantau-ingest', 'wrong', 'pantau-ingest-w1')).toBe('deny');
    expect(await auth('pantau-ingest', WORKER_PASSWORD, 'sneaky')).toBe('deny');
    // a device taking over a worker's session would read the whole fleet's telemetry
    expect(await auth('bpn-air-01', token, 'pantau-ingest-w1')).toBe('deny');
  });

  it('ACL: a device publishes only its own telemetry, SenML, status and config reports and subscribes only to its own rejections and config', async () => {
    expect(await acl('bpn-air-01', 'publish', 'sensors/air/bpn-air-01/telemetry')).toBe('allow');
    expect(await acl('bpn-air-01', 'publish', 'sensors/air/bpn-air-01/status')).toBe('allow');
    expect(await acl('bpn-air-01', 'publish', 'sensors/air/bpn-air-02/telemetry')).toBe('deny');
    expect(await acl('bpn-air-01', 'publish', 'sensors/flood/bpn-air-01/telemetry')).toBe('deny');
    expect(await acl('bpn-air-01', 'publish', 'sensors/air/bpn-air-01/rejections')).toBe('deny');
    expect(await acl('bpn-air-01', 'publish', 'alerts/air/bpn-air-01')).toBe('deny');
    expect(await acl('bpn-air-01', 'subscribe', 'sensors/air/bpn-air-01/rejections')).toBe('allow');
    expect(await acl('bpn-air-01', 'subscribe', 'sensors/air/bpn-air-02/rejections')).toBe('deny');
    expect(await acl('bpn-air-01', 'subscribe', 'sensors/air/bpn-air-01/telemetry')).toBe('deny');
    expect(await acl('bpn-air-01', 'subscribe', 'sensors/#')).toBe('deny');
    expect(await acl('bpn-air-01', 'subscribe', '$share/pantau-ingest/sensors/+/+/telemetry')).toBe('deny');
    // docs/contract.md §10: SenML and configuration
    expect(await acl('bpn-air-01', 'publish', 'sensors/air/bpn-air-01/senml')).toBe('allow');
    expect(await acl('bpn-air-01', 'publish', 'sensors/air/bpn-air-01/config/reported')).toBe('allow');
    expect(await acl('bpn-air-01', 'publish', 'sensors/air/bpn-air-01/config')).toBe('deny');
    expect(await acl('bpn-air-01', 'publish', 'sensors/air/bpn-air-02/senml')).toBe('deny');
    expect(await acl('bpn-air-01', 'subscribe', 'sensors/air/bpn-air-01/config')).toBe('allow');
    expect(await acl('bpn-air-01', 'subscribe', 'sensors/air/bpn-air-02/config')).toBe('deny');
    expect(await acl('bpn-air-01', 'subscribe', 'sensors/air/bpn-air-01/senml')).toBe('deny');
    expect(await acl('bpn-air-99', 'publish', 'sensors/air/bpn-air-99/telemetry')).toBe('deny');
    expect(await acl('Grafana Bridge', 'subscribe', 'sensors/#')).toBe('ignore');
  });

  it('ACL: workers take the shared telemetry subscription and publish notices; API-key logins only read alerts', async () => {
    expect(await acl('pantau-ingest', 'subscribe', '$share/pantau-ingest/sensors/+/+/telemetry')).toBe('allow');
    expect(await acl('pantau-ingest', 'subscribe', 'sensors/+/+/telemetry')).toBe('allow');
    expect(await acl('pantau-ingest', 'subscribe', '$share/pantau-ingest/sensors/+/+/senml')).toBe('allow');
    expect(await acl('pantau-ingest', 'subscribe', '$share/pantau-ingest/sensors/+/+/config/reported')).toBe('allow');
    expect(await acl('pantau-ingest', 'publish', 'sensors/air/bpn-air-01/config')).toBe('allow');
    expect(await acl('pantau-ingest', 'publish', 'sensors/air/bpn-air-01/config/reported')).toBe('deny');
    expect(await acl('pantau-ingest', 'subscribe', '#')).toBe('deny');
    expect(await acl('pantau-ingest', 'publish', 'sensors/air/bpn-air-01/rejections')).toBe('allow');
    expect(await acl('pantau-ingest', 'publish', 'alerts/air/bpn-air-01')).toBe('allow');
    expect(await acl('pantau-ingest', 'publish', 'sensors/air/bpn-air-01/telemetry')).toBe('deny');
    expect(await acl('pantau-api-key', 'subscribe', 'alerts/#')).toBe('allow');
    expect(await acl('pantau-api-key', 'subscribe', 'alerts/flood/+')).toBe('allow');
    expect(await acl('pantau-api-key', 'subscribe', 'sensors/#')).toBe('deny');
    expect(await acl('pantau-api-key', 'publish', 'alerts/air/bpn-air-01')).toBe('deny');
  });

  it('the broker is not held to the API rate limit, a secret-guesser is; both routes are in the OpenAPI document', async () => {
    const limited = await build({ secret: SECRET }, 5);
    try {
      const body = { username: 'bpn-air-01', action: 'publish', topic: 'sensors/air/bpn-air-01/telemetry' };
      for (let i = 0; i < 20; i++) expect((await post('/api/v1/broker/acl', body, SECRET, limited)).status).toBe(200);
      const guesses = [];
      for (let i = 0; i < 8; i++) guesses.push((await post('/api/v1/broker/acl', body, `guess-${i}`, limited)).status);
      expect(guesses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(guesses.slice(5)).toEqual([429, 429, 429]);
      const doc = (await limited.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
      expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/broker/auth', '/api/v1/broker/acl']));
    } finally {
      await limited.close();
    }
  });
});
