// The alert engine's state and the stored alerts agree after a crash: Pantau SIGKILLed right after an alert was
// stored (before a timer would have saved the engine's state) comes back knowing that alert, so the next breach
// does not open a second one and the river falling resolves it.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { inject } from 'vitest';
import { callApi, spawnPlatform, type PlatformProcess } from './support/process.js';
import { eventually } from './support/platform.js';

const ADMIN = 'alert-crash-admin-key-0123';
const dirs: string[] = [];
const running: PlatformProcess[] = [];

afterAll(() => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function spawn(dataDir: string, ports?: { http: number; mqtt: number }) {
  const p = await spawnPlatform({ PANTAU_INFLUX_URL: inject('influxUrl'), PANTAU_INFLUX_DB: 'alert_crash', PANTAU_DATA_DIR: dataDir, PANTAU_ADMIN_KEY: ADMIN, PANTAU_ALERT_TICK: '1s' }, ports);
  running.push(p);
  return p;
}

const api = (httpUrl: string, method: string, path: string, body?: unknown) => callApi(httpUrl, ADMIN, method, path, body);

describe('alert engine state across a crash', () => {
  it('SIGKILL just after an alert is stored: after the restart it is the same alert, and it resolves', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pantau-alert-crash-'));
    dirs.push(dataDir);
    const first = await spawn(dataDir);
    const id = 'smd-flood-crash';
    const reg = await api(first.httpUrl, 'POST', '/api/v1/devices', {
      id, kind: 'flood', name: id, city: 'Samarinda', district: 'Samarinda Ulu', location: { lat: -0.48, lon: 117.16 },
      thresholds: { waspada: 700, siaga: 775, awas: 825, hysteresisCm: 10, clearAfterSeconds: 1 },
    });
    expect(reg.status).toBe(201);
    // a minute between readings: the river rises and falls at a believable rate
    const t0 = Date.now() - 10 * 60_000;
    const send = async (url: string, minute: number, waterLevel: number) => {
      const device = await mqtt.connectAsync(url, { username: id, password: reg.body.token, clientId: `${id}-${minute}`, reconnectPeriod: 0 });
      await device.publishAsync(`sensors/flood/${id}/telemetry`, JSON.stringify({ ts: new Date(t0 + minute * 60_000).toISOString(), waterLevel }), { qos: 1 });
      await device.endAsync();
    };
    const alertsOf = async (url: string) => (await api(url, 'GET', `/api/v1/alerts?deviceId=${id}`)).body.items as Array<{ id: string; state: string }>;

    await send(first.mqttUrl, 0, 690);
    await send(first.mqttUrl, 1, 710);
    const [opened] = await eventually(async () => {
      const items = await alertsOf(first.httpUrl);
      return items.length > 0 ? items : null;
    }, 10_000, 20);
    expect(opened!.state).toBe('open');
    // past the consumer's checkpoint save (200 ms), before the engine's delayed state save (1 s) of the old code
    await new Promise((r) => setTimeout(r, 400));
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await spawn(dataDir, { http: Number(new URL(first.httpUrl).port), mqtt: first.mqttPort });
    await send(second.mqttUrl, 2, 720); // still above waspada: the same alert, not a second one
    await new Promise((r) => setTimeout(r, 1500));
    let items = await alertsOf(second.httpUrl);
    expect(items.map((a) => a.id)).toEqual([opened!.id]);
    expect(items[0]!.state).toBe('open');
    // the river falls below waspada minus the hysteresis for longer than the clear time: resolved
    for (let m = 3; m <= 6; m++) await send(second.mqttUrl, m, 720 - (m - 2) * 15);
    items = await eventually(async () => {
      const got = await alertsOf(second.httpUrl);
      return got.every((a) => a.state === 'resolved') ? got : null;
    }, 10_000, 100);
    expect(items.map((a) => a.id)).toEqual([opened!.id]);
    second.child.kill('SIGTERM');
    await second.exited;
  }, 120_000);
});
