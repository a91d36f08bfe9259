// PANTAU_ACK_AFTER=store (docs/scale-out.md): an ingest worker acknowledges to the broker only once the readings are
// in InfluxDB, so it holds nothing the broker was told is safe. A real Mosquitto, a private InfluxDB (down while the
// readings come in) and a worker process that is SIGKILLed and whose data dir is lost with it: every reading the
// broker acknowledged to the device is stored, exactly once, by a worker started under the id with an empty dir.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startInfluxd, influxQuery, type InfluxServer } from './support/influxd.js';
import { startMosquittoServer } from './support/mosquitto.js';
import { eventually } from './support/platform.js';
import { spawnPlatform, type PlatformProcess } from './support/process.js';

const DB = 'ackstore';
const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
const workers: PlatformProcess[] = [];
let influx: InfluxServer;
let brokerUrl: string;
let stopBroker: () => void;
let fleetFile: string;
const DEVICE = { id: 'store-1', kind: 'air', name: 'store-1', city: 'Balikpapan', district: 'Balikpapan Kota', location: { lat: -1.27, lon: 116.83 }, token: 'token-store-1-0123456789abcdef' };

async function worker(dataDir: string): Promise<PlatformProcess> {
  const w = await spawnPlatform({
    PANTAU_BROKER_URL: brokerUrl,
    PANTAU_WORKER_ID: 'w1',
    // PANTAU_TEST_ACK_AFTER=spool shows what the mode prevents: the readings are lost with the data dir
    PANTAU_ACK_AFTER: process.env.PANTAU_TEST_ACK_AFTER ?? 'store',
    PANTAU_INFLUX_URL: influx.url,
    PANTAU_INFLUX_DB: DB,
    PANTAU_DATA_DIR: dataDir,
    PANTAU_FLEET_FILE: fleetFile,
    PANTAU_ADMIN_KEY: 'ack-after-store-admin-0123',
    PANTAU_DEVICE_RATE_LIMIT: '0',
  });
  workers.push(w);
  await eventually(() => w.output().includes('subscribed to the shared telemetry'), 60_000, 100);
  return w;
}

const messagesTaken = async (w: PlatformProcess) =>
  (await (await fetch(`${w.httpUrl}/metrics`)).text()).split('\n').filter((l) => l.startsWith('pantau_ingest_messages_total')).reduce((n, l) => n + Number(l.split(' ').pop()), 0);

beforeAll(async () => {
  const m = await startMosquittoServer(tempDir('pantau-mosquitto-'));
  brokerUrl = m.url;
  stopBroker = () => m.child.kill('SIGKILL');
  influx = await startInfluxd();
  fleetFile = join(tempDir('pantau-fleet-'), 'fleet.json');
  writeFileSync(fleetFile, JSON.stringify([DEVICE]));
}, 120_000);

afterAll(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  stopBroker?.();
  await influx?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('PANTAU_ACK_AFTER=store', () => {
  it('a worker SIGKILLed with its data dir lost, never started again under that dir: every acknowledged reading is stored once', async () => {
    await influx.pause();
    const firstDir = tempDir('pantau-w1-');
    const first = await worker(firstDir);
    const device = await mqtt.connectAsync(brokerUrl, { clientId: DEVICE.id, username: DEVICE.id, password: DEVICE.token, reconnectPeriod: 0 });
    const base = Date.now() - 60_000;
    // each acknowledged by the broker to the device
    for (let i = 0; i < 40; i++) await device.publishAsync(`sensors/air/${DEVICE.id}/telemetry`, JSON.stringify({ ts: base + i, pm25: i }), { qos: 1 });
    await device.endAsync();
    // the worker took every one into its spool; InfluxDB is down, so it acknowledged none of them
    await eventually(async () => (await messagesTaken(first)) >= 40, 20_000, 100);
    first.child.kill('SIGKILL');
    await first.exited;
    rmSync(firstDir, { recursive: true, force: true });

    await influx.start();
    // the id comes back on a new, empty data dir: the broker still holds the session's messages
    await worker(tempDir('pantau-w1-again-'));
    const stored = async () => ((await influxQuery(influx.url, DB, 'SELECT "pm25" FROM "air" WHERE "device_id" = $d', { d: DEVICE.id }))[0]?.values ?? []).map((v) => v[0] as number);
    await eventually(async () => (await stored()).length >= 40, 60_000, 250).catch(async (err: Error) => {
      throw new Error(`${(await stored()).length} of 40 acknowledged readings stored: ${err.message}`);
    });
    expect((await stored()).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => base + i));
  }, 120_000);
});
