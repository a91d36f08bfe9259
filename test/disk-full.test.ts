// A really full disk: Pantau's data dir on a 16 MiB tmpfs (mounted by the test; needs root, as CI runs), InfluxDB
// stopped, flood gauges publishing QoS 1 backlogs until the acknowledgements stop. Publishes then wait
// unacknowledged, the process stays up, and once InfluxDB is back the log drains, its consumed segments are freed
// and ingest resumes by itself — with every acknowledged reading in InfluxDB exactly once. Also: the spool with no
// reserve hitting ENOSPC itself, a SIGKILL while the disk is full, and the registry (SQLite) on a full disk.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { startInfluxd, influxQuery, type InfluxServer } from './support/influxd.js';
import { callApi, spawnPlatform, type PlatformProcess } from './support/process.js';
import { eventually } from './support/platform.js';

const ADMIN = 'disk-full-admin-key-0123';
/** QoS 1 messages each gauge keeps in flight. */
const IN_FLIGHT = 4;
const isRoot = process.getuid?.() === 0;
let influx: InfluxServer;
let mnt: string;
const running: PlatformProcess[] = [];

beforeAll(async () => {
  if (!isRoot) return;
  influx = await startInfluxd();
  mnt = mkdtempSync(join(tmpdir(), 'pantau-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mnt]);
});
// each test starts on an empty file system, whatever the one before it left behind
afterEach(async () => {
  for (const p of running.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
  }
  if (mnt) for (const entry of readdirSync(mnt)) rmSync(join(mnt, entry), { recursive: true, force: true });
});
afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  await influx?.stop();
  if (mnt) {
    try {
      execFileSync('umount', [mnt]);
    } catch {
      execFileSync('umount', ['-l', mnt]);
    }
    rmSync(mnt, { recursive: true, force: true });
  }
});

async function spawn(db: string, dataDir: string, extra: Record<string, string> = {}, ports?: { http: number; mqtt: number }) {
  const p = await spawnPlatform({ PANTAU_INFLUX_URL: influx.url, PANTAU_INFLUX_DB: db, PANTAU_DATA_DIR: dataDir, PANTAU_ADMIN_KEY: ADMIN, PANTAU_DEVICE_RATE_LIMIT: '0', ...extra }, ports);
  running.push(p);
  return p;
}

const api = (httpUrl: string, method: string, path: string, body?: unknown) => callApi(httpUrl, ADMIN, method, path, body);

const gauge = (id: string) => ({ id, kind: 'flood', name: id, city: 'Samarinda', district: 'Samarinda Ulu', location: { lat: -0.48, lon: 117.16 } });

async function registerGauges(httpUrl: string, prefix: string, n: number) {
  const out: Array<{ id: string; token: string }> = [];
  for (let i = 0; i < n; i++) {
    const r = await api(httpUrl, 'POST', '/api/v1/devices', gauge(`${prefix}-${i}`));
    expect(r.status).toBe(201);
    out.push({ id: `${prefix}-${i}`, token: r.body.token });
  }
  return out;
}

/**
 * Gauges flushing backlogs: each message 200 readings with their own past timestamps (unique per device), QoS 1,
 * a few messages in flight per gauge. Remembers exactly which readings were acknowledged.
 */
function backlogs(url: string, devices: Array<{ id: string; token: string }>) {
  const acked = new Map<string, Set<number>>();
  let messages = 0;
  const clients: MqttClient[] = [];
  let running = true;
  const start = Date.now() - 6 * 86_400_000;
  for (const [n, d] of devices.entries()) {
    const set = new Set<number>();
    acked.set(d.id, set);
    let next = start + n; // ts ≡ n (mod 100): no two gauges share a timestamp pattern, each reading its own ts
    const client = mqtt.connect(url, { username: d.id, password: d.token, clientId: d.id, clean: false, reconnectPeriod: 300, connectTimeout: 5000 });
    client.on('error', () => undefined);
    clients.push(client);
    let inFlight = 0;
    const pump = () => {
      while (running && client.connected && inFlight < IN_FLIGHT) {
        const readings = Array.from({ length: 200 }, () => {
          next += 100;
          return { ts: next, waterLevel: 100 + (next % 300), rainfall: next % 7 };
        });
        inFlight++;
        client.publish(`sensors/flood/${d.id}/telemetry`, JSON.stringify(readings), { qos: 1 }, (err) => {
          inFlight--;
          if (!err) {
            messages++;
            for (const r of readings) set.add(r.ts);
          }
          setImmediate(pump);
        });
      }
    };
    client.on('connect', pump);
  }
  return {
    acked,
    count: () => [...acked.values()].reduce((n, s) => n + s.size, 0),
    /** Messages acknowledged. */
    messages: () => messages,
    async stop() {
      running = false;
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    },
  };
}

/** Resolves once `count()` has not moved for `quietMs`. */
async function stalled(count: () => number, quietMs: number, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let last = count();
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const now = count();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return last;
  }
  throw new Error(`acknowledgements never stopped (${last})`);
}

async function expectAllStoredOnce(db: string, acked: Map<string, Set<number>>) {
  for (const [id, set] of acked) {
    const series = await influxQuery(influx.url, db, 'SELECT "waterLevel" FROM "flood" WHERE "device_id" = $d', { d: id });
    const got = (series[0]?.values ?? []).map((v) => v[0] as number);
    expect(new Set(got).size, `${id}: duplicates`).toBe(got.length);
    const have = new Set(got);
    const missing = [...set].filter((ts) => !have.has(ts));
    expect(missing.length, `${id} lost ${missing.length} acknowledged readings`).toBe(0);
  }
}

async function readyz(httpUrl: string) {
  const r = await fetch(`${httpUrl}/readyz`);
  return { status: r.status, body: (await r.json()) as { checks: Record<string, { ok: boolean; detail?: string }>; details: { spool: { bytes: number; diskFull: boolean } } } };
}

/** Fill the file system holding `dir` until a write fails; returns the filler's path. */
function fillDisk(dir: string): string {
  const path = join(dir, 'filler');
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 7);
  try {
    for (;;) writeSync(fd, chunk);
  } catch {
    // ENOSPC: now a byte at a time for the last partial block
    try {
      for (;;) writeSync(fd, chunk, 0, 512);
    } catch {
      // full
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

describe.skipIf(!isRoot)('a full disk (a real 16 MiB tmpfs)', () => {
  it('publishes stop being acknowledged, the process stays up, and when InfluxDB returns the log drains, frees its space and ingest resumes by itself, losing nothing', async () => {
    const dataDir = join(mnt, 'reserve');
    mkdirSync(dataDir);
    const db = 'diskfull_reserve';
    const p = await spawn(db, dataDir);
    const devices = await registerGauges(p.httpUrl, 'gauge-r', 6);
    await influx.pause();
    const fleet = backlogs(p.mqttUrl, devices);
    const whenFull = await stalled(fleet.count, 4000, 180_000);
    expect(whenFull).toBeGreaterThan(20_000);
    // up, and saying why it does not take more
    expect(p.child.exitCode, `the platform exited on the full disk: ${p.output().slice(-3000)}`).toBeNull();
    expect((await fetch(`${p.httpUrl}/healthz`)).status).toBe(200);
    const full = await readyz(p.httpUrl);
    expect(full.status).toBe(503);
    expect(full.body.checks.spool!.ok).toBe(false);
    expect(full.body.checks.spool!.detail).toMatch(/disk full/);
    const metrics = await (await fetch(`${p.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/pantau_spool_disk_full 1/);
    await influx.start();
    // space comes back as the writer drains and consumed segments are deleted: acknowledgements resume
    await eventually(() => fleet.count() > whenFull + 20_000, 180_000, 500);
    await fleet.stop();
    await eventually(async () => (await readyz(p.httpUrl)).body.details.spool.bytes === 0, 120_000, 250);
    await expectAllStoredOnce(db, fleet.acked);
    p.child.kill('SIGTERM');
    await p.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }, 600_000);

  it('with no reserve the spool itself meets ENOSPC; SIGKILLed while the disk is full and restarted on it, it loses nothing acknowledged and resumes', async () => {
    const dataDir = join(mnt, 'enospc');
    mkdirSync(dataDir);
    const db = 'diskfull_enospc';
    const env = { PANTAU_SPOOL_DISK_RESERVE: '0' };
    const p = await spawn(db, dataDir, env);
    const devices = await registerGauges(p.httpUrl, 'gauge-e', 6);
    await influx.pause();
    const fleet = backlogs(p.mqttUrl, devices);
    const whenFull = await stalled(fleet.count, 4000, 180_000);
    expect(whenFull).toBeGreaterThan(20_000);
    const s = statfsSync(dataDir);
    // really full: less room than the publishes waiting for it need. Those wait in one log record (ingest batches a
    // turn's messages), at most the gauges' whole in-flight window: its size in the log is measured from the log itself.
    const logBytes = readdirSync(join(dataDir, 'spool')).filter((f) => f.endsWith('.log')).reduce((n, f) => n + statSync(join(dataDir, 'spool', f)).size, 0);
    const perMessage = logBytes / fleet.messages();
    const window = devices.length * IN_FLIGHT * perMessage;
    expect(perMessage, 'a gauge message in the log').toBeGreaterThan(10_000);
    expect(s.bavail * s.bsize, `free bytes vs the in-flight window (${devices.length} gauges × ${IN_FLIGHT} × ${Math.round(perMessage)} bytes)`).toBeLessThan(window);
    expect(p.output()).toMatch(/spool: disk full/);
    p.child.kill('SIGKILL');
    await p.exited;
    await fleet.stop();
    await influx.start();
    // restart on the still-full disk
    const again = await spawn(db, dataDir, env);
    await eventually(async () => (await readyz(again.httpUrl)).body.details.spool.bytes === 0, 180_000, 250);
    await expectAllStoredOnce(db, fleet.acked);
    // and it takes new readings again
    const more = backlogs(again.mqttUrl, devices.slice(0, 2));
    await eventually(() => more.count() > 2_000, 60_000);
    await more.stop();
    again.child.kill('SIGTERM');
    await again.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }, 600_000);

  it('the registry on a full disk: API writes answer 503 with Retry-After, not 500, and succeed once space is back', async () => {
    const dataDir = join(mnt, 'registry');
    mkdirSync(dataDir);
    const p = await spawn('diskfull_registry', dataDir);
    expect((await api(p.httpUrl, 'POST', '/api/v1/devices', gauge('before-full'))).status).toBe(201);
    const filler = fillDisk(mnt);
    let refused: Awaited<ReturnType<typeof api>> | undefined;
    // a few writes: SQLite may still fit one into pages it already has
    for (let i = 0; i < 20 && refused === undefined; i++) {
      const r = await api(p.httpUrl, 'POST', '/api/v1/devices', gauge(`while-full-${i}`));
      expect(r.status).not.toBe(500);
      if (r.status === 503) refused = r;
    }
    expect(refused?.status).toBe(503);
    expect(refused!.headers.get('retry-after')).toBe('30');
    expect(refused!.body.detail).toMatch(/disk full/);
    // reads still work
    expect((await api(p.httpUrl, 'GET', '/api/v1/devices')).status).toBe(200);
    rmSync(filler);
    await eventually(async () => (await api(p.httpUrl, 'POST', '/api/v1/devices', gauge(`after-full-${Date.now()}`))).status === 201, 30_000, 250);
    p.child.kill('SIGTERM');
    await p.exited;
  }, 120_000);
});
