// docs/contract.md §3 "acknowledgement means durable", with real faults: InfluxDB stopped, Pantau SIGKILLed and SIGTERMed
// under load, a torn spool, a point InfluxDB refuses, a full disk budget.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startInfluxd, influxQuery, type InfluxServer } from './support/influxd.js';
import { spawnPlatform, type PlatformProcess } from './support/process.js';
import { startFleet } from './support/publishers.js';
import { eventually } from './support/platform.js';

const ADMIN = 'durability-admin-key-0123';
let influx: InfluxServer;
const dirs: string[] = [];
const running: PlatformProcess[] = [];

beforeAll(async () => {
  influx = await startInfluxd();
});
afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await influx?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function env(db: string, dataDir: string, extra: Record<string, string> = {}) {
  return { PANTAU_INFLUX_URL: influx.url, PANTAU_INFLUX_DB: db, PANTAU_DATA_DIR: dataDir, PANTAU_ADMIN_KEY: ADMIN, PANTAU_DEVICE_RATE_LIMIT: '0', ...extra };
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pantau-dur-'));
  dirs.push(d);
  return d;
}

async function spawn(db: string, dataDir: string, extra?: Record<string, string>, ports?: { http: number; mqtt: number }) {
  const p = await spawnPlatform(env(db, dataDir, extra), ports);
  running.push(p);
  return p;
}

async function register(httpUrl: string, count: number, prefix: string) {
  const devices: Array<{ id: string; token: string; kind: 'air' }> = [];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}-${i}`;
    const res = await fetch(`${httpUrl}/api/v1/devices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id, kind: 'air', name: id, city: 'Balikpapan', district: 'Balikpapan Kota', location: { lat: -1.27, lon: 116.83 } }),
    });
    const body = (await res.json()) as { token: string };
    devices.push({ id, token: body.token, kind: 'air' });
  }
  return devices;
}

async function stored(db: string, deviceId: string): Promise<number[]> {
  const series = await influxQuery(influx.url, db, 'SELECT "pm25" FROM "air" WHERE "device_id" = $d', { d: deviceId });
  return (series[0]?.values ?? []).map((v) => v[0] as number);
}

async function expectAllAckedStored(db: string, acked: Map<string, Set<number>>) {
  let total = 0;
  for (const [id, set] of acked) {
    const got = await stored(db, id);
    expect(new Set(got).size).toBe(got.length); // exactly once
    const missing = [...set].filter((ts) => !got.includes(ts));
    expect(missing, `${id} lost acknowledged readings`).toEqual([]);
    total += set.size;
  }
  return total;
}

async function drainedVia(httpUrl: string, timeoutMs = 30_000) {
  await eventually(async () => {
    const r = (await (await fetch(`${httpUrl}/readyz`)).json()) as { details: { spool: { bytes: number } }; status: string };
    return r.status === 'ready' && r.details.spool.bytes === 0;
  }, timeoutMs, 100);
}

describe('acknowledged readings survive', () => {
  it('InfluxDB stopped for 20 s while 20 devices publish: every acknowledged reading is stored exactly once', async () => {
    const db = 'outage';
    const p = await spawn(db, tempDir());
    const devices = await register(p.httpUrl, 20, 'outage');
    const fleet = await startFleet({ url: p.mqttUrl, devices, intervalMs: 100 });
    await new Promise((r) => setTimeout(r, 2000));
    await influx.pause();
    const ackedBeforeOutage = fleet.ackedCount();
    await new Promise((r) => setTimeout(r, 20_000));
    const ackedDuringOutage = fleet.ackedCount() - ackedBeforeOutage;
    // acknowledgements kept flowing: the spool took the readings while InfluxDB was away
    expect(ackedDuringOutage).toBeGreaterThan(20 * 100);
    const ready = (await (await fetch(`${p.httpUrl}/readyz`)).json()) as { status: string; notReady: string[]; details: { spool: { bytes: number } } };
    expect(ready.status).toBe('not_ready');
    expect(ready.notReady).toContain('influxdb');
    expect(ready.details.spool.bytes).toBeGreaterThan(0);
    await influx.start();
    await new Promise((r) => setTimeout(r, 1000));
    await fleet.stop();
    await drainedVia(p.httpUrl);
    const total = await expectAllAckedStored(db, fleet.acked);
    expect(total).toBeGreaterThan(20 * 150);
    p.child.kill('SIGTERM');
    await p.exited;
  }, 120_000);

  it('Pantau SIGKILLed mid-stream and restarted on the same data dir: every acknowledged reading is stored', async () => {
    const db = 'sigkill';
    const dataDir = tempDir();
    const first = await spawn(db, dataDir);
    const devices = await register(first.httpUrl, 10, 'kill');
    const fleet = await startFleet({ url: first.mqttUrl, devices, intervalMs: 20 });
    await eventually(() => fleet.ackedCount() > 500, 60_000);
    first.child.kill('SIGKILL');
    await first.exited;
    // really gone: nothing answers on its port any more
    expect(await fetch(`${first.httpUrl}/healthz`).then(() => 'answered', () => 'refused')).toBe('refused');
    const ackedAtKill = fleet.ackedCount();
    expect(ackedAtKill).toBeGreaterThan(500);
    const second = await spawn(db, dataDir, {}, { http: Number(new URL(first.httpUrl).port), mqtt: first.mqttPort });
    await new Promise((r) => setTimeout(r, 2000));
    await fleet.stop();
    await drainedVia(second.httpUrl);
    await expectAllAckedStored(db, fleet.acked);
    second.child.kill('SIGTERM');
    await second.exited;
  }, 120_000);

  it('SIGTERM under load: exits within the shutdown bound and loses nothing acknowledged', async () => {
    const db = 'sigterm';
    const dataDir = tempDir();
    const p = await spawn(db, dataDir, { PANTAU_SHUTDOWN_TIMEOUT: '5s' });
    const devices = await register(p.httpUrl, 10, 'term');
    const fleet = await startFleet({ url: p.mqttUrl, devices, intervalMs: 10 });
    await new Promise((r) => setTimeout(r, 2000));
    const t0 = Date.now();
    p.child.kill('SIGTERM');
    const exit = await p.exited;
    const took = Date.now() - t0;
    await fleet.stop();
    expect(exit.code).toBe(0);
    expect(took).toBeLessThan(7000);
    // the writer drained the log before the log closed (InfluxDB is up: nothing is left for the next start)
    expect(p.output()).toMatch(/stopped; everything is in InfluxDB/);
    const again = await spawn(db, dataDir);
    await drainedVia(again.httpUrl);
    await expectAllAckedStored(db, fleet.acked);
    // and the restart replays nothing InfluxDB already took
    expect(again.output()).not.toMatch(/replaying readings not yet in InfluxDB/);
    again.child.kill('SIGTERM');
    await again.exited;
  }, 60_000);
});

describe('the spool under damage and pressure', () => {
  it('a torn last record is cut off and logged; the records before it are replayed', async () => {
    const db = 'torn';
    const dataDir = tempDir();
    await influx.pause(); // keep everything in the spool
    const p = await spawn(db, dataDir);
    const devices = await register(p.httpUrl, 1, 'torn');
    const client = await mqtt.connectAsync(p.mqttUrl, { username: devices[0]!.id, password: devices[0]!.token, reconnectPeriod: 0 });
    const base = Date.now() - 10_000;
    for (let i = 0; i < 50; i++) await client.publishAsync(`sensors/air/${devices[0]!.id}/telemetry`, JSON.stringify({ ts: base + i, pm25: i }), { qos: 1 });
    await client.endAsync();
    p.child.kill('SIGKILL');
    await p.exited;
    // simulate power loss mid-append: half a record at the end, and a corrupted last record before it
    const spoolDir = join(dataDir, 'spool');
    const segment = join(spoolDir, readdirSync(spoolDir).filter((n) => n.endsWith('.log')).sort().pop()!);
    // find the record that holds reading 49 (records: u32 length, u32 crc, f64 time, payload) and tear it
    const bytes = readFileSync(segment);
    let offset = 0;
    let tearAt = -1;
    while (offset + 16 <= bytes.length) {
      const length = bytes.readUInt32LE(offset);
      if (bytes.subarray(offset + 16, offset + 16 + length).toString().includes(` ${base + 49}`)) tearAt = offset;
      offset += 16 + length;
    }
    expect(tearAt).toBeGreaterThan(0);
    truncateSync(segment, tearAt + 20);
    appendFileSync(segment, Buffer.from([1, 2, 3]));
    await influx.start();
    const again = await spawn(db, dataDir);
    await drainedVia(again.httpUrl);
    expect(again.output()).toMatch(/torn or unfinished record/);
    const got = await stored(db, devices[0]!.id);
    // readings 0..48 survive; 49 was torn (and whatever came after it in the spool)
    expect(got.length).toBe(49);
    again.child.kill('SIGTERM');
    await again.exited;
  }, 60_000);

  it('a point InfluxDB refuses is isolated: the rest of its batch is stored and the refusal is a rejection', async () => {
    const db = 'refused';
    const p = await spawn(db, tempDir());
    const devices = await register(p.httpUrl, 1, 'refuse');
    // another tool already wrote `hc` as a string into this database: InfluxDB will refuse our float hc
    await fetch(`${influx.url}/write?db=${db}&precision=ms`, { method: 'POST', body: `air,device_id=other hc="n/a" ${Date.now() - 1000}` });
    const client = await mqtt.connectAsync(p.mqttUrl, { username: devices[0]!.id, password: devices[0]!.token, reconnectPeriod: 0 });
    const base = Date.now() - 5000;
    const batch = Array.from({ length: 20 }, (_, i) => (i === 7 ? { ts: base + i, pm25: i, hc: 12 } : { ts: base + i, pm25: i }));
    await client.publishAsync(`sensors/air/${devices[0]!.id}/telemetry`, JSON.stringify(batch), { qos: 1 });
    await client.endAsync();
    await drainedVia(p.httpUrl);
    const got = await stored(db, devices[0]!.id);
    expect(got.sort()).toEqual(batch.filter((_, i) => i !== 7).map((b) => b.ts));
    const rejections = await eventually(async () => {
      const res = await fetch(`${p.httpUrl}/api/v1/devices/${devices[0]!.id}/rejections`, { headers: { authorization: `Bearer ${ADMIN}` } });
      const body = (await res.json()) as { items: Array<{ reason: string; detail: string }> };
      return body.items.length > 0 ? body.items : null;
    });
    expect(rejections![0]!.reason).toBe('storage_refused');
    expect(rejections![0]!.detail).toMatch(/field type conflict/);
    p.child.kill('SIGTERM');
    await p.exited;
  }, 60_000);

  it('with the disk budget reached, QoS 1 publishes wait unacknowledged and complete once the spool drains', async () => {
    const db = 'budget';
    await influx.pause();
    const p = await spawn(db, tempDir(), { PANTAU_SPOOL_MAX_BYTES: '4KB' });
    const devices = await register(p.httpUrl, 1, 'budget');
    const client = await mqtt.connectAsync(p.mqttUrl, { username: devices[0]!.id, password: devices[0]!.token, reconnectPeriod: 0 });
    const base = Date.now() - 10_000;
    const acked: number[] = [];
    const pending = Array.from({ length: 100 }, (_, i) =>
      client.publishAsync(`sensors/air/${devices[0]!.id}/telemetry`, JSON.stringify({ ts: base + i, pm25: i, pm10: i, temperature: 30 }), { qos: 1 }).then(() => acked.push(i)),
    );
    await new Promise((r) => setTimeout(r, 3000));
    const ackedWhileFull = acked.length;
    expect(ackedWhileFull).toBeLessThan(100);
    const ready = (await (await fetch(`${p.httpUrl}/readyz`)).json()) as { details: { blockedPublishes: number } };
    expect(ready.details.blockedPublishes).toBeGreaterThan(0);
    const metrics = await (await fetch(`${p.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/pantau_spool_blocked_publishes [1-9]/);
    await influx.start();
    await Promise.all(pending);
    expect(acked.length).toBe(100);
    await client.endAsync();
    await drainedVia(p.httpUrl);
    expect((await stored(db, devices[0]!.id)).length).toBe(100);
    p.child.kill('SIGTERM');
    await p.exited;
  }, 60_000);
});
