// PANTAU_ACK_AFTER=store (docs/scale-out.md): an ingest worker acknowledges to the broker only once the readings are
// in InfluxDB, so it holds nothing the broker was told is safe. A real Mosquitto, a private InfluxDB (down while the
// readings come in) and a worker process that is SIGKILLed and whose data dir is lost with it: every reading the
// broker acknowledged to the device is stored, exactly once, by a worker started under the id with an empty dir.
// On a cluster node (PANTAU_REGISTRY_URL) the readings must also be in the alert feed before they are acknowledged:
// with PostgreSQL refusing the feed, a flood reading stored in InfluxDB is not acknowledged, so a worker that dies
// with its dir then leaves it to the broker, and the next start hands it to the alert owner (the alert is raised).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startInfluxd, influxQuery, type InfluxServer } from './support/influxd.js';
import { startMosquittoServer } from './support/mosquitto.js';
import { eventually } from './support/platform.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';
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
let postgres: PostgresServer | undefined;
let stopFeedBroker: (() => void) | undefined;
const DEVICE = { id: 'store-1', kind: 'air', name: 'store-1', city: 'Balikpapan', district: 'Balikpapan Kota', location: { lat: -1.27, lon: 116.83 }, token: 'token-store-1-0123456789abcdef' };

async function worker(dataDir: string, env: Record<string, string> = {}): Promise<PlatformProcess> {
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
    ...env,
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
  stopFeedBroker?.();
  await postgres?.stop();
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

  it('on a cluster node, a reading is acknowledged only once the alert feed has it too: a worker lost while PostgreSQL refuses the feed leaves it to the next start, and the alert is raised', async () => {
    // a broker of its own (no session of the test above) and the cluster's PostgreSQL
    const m = await startMosquittoServer(tempDir('pantau-mosquitto-feed-'));
    stopFeedBroker = () => m.child.kill('SIGKILL');
    postgres = await startPostgres();
    const pgSql = postgres.sql;
    const gauge = { id: 'gauge-feed-1', kind: 'flood', name: 'gauge-feed-1', city: 'Samarinda', district: 'Sungai Pinang', location: { lat: -0.43, lon: 117.17 }, thresholds: { waspada: 700, siaga: 775, awas: 825 }, token: 'token-gauge-feed-1-0123456789' };
    const fleet = join(tempDir('pantau-fleet-feed-'), 'fleet.json');
    writeFileSync(fleet, JSON.stringify([gauge]));
    const env = { PANTAU_BROKER_URL: m.url, PANTAU_WORKER_ID: 'feed-1', PANTAU_INFLUX_DB: 'ackstore_feed', PANTAU_REGISTRY_URL: postgres.url, PANTAU_FLEET_FILE: fleet, PANTAU_ALERT_TICK: '1s' };
    const firstDir = tempDir('pantau-feed-1-');
    const first = await worker(firstDir, env);
    // every row the feed gets into alert_feed is counted (the owner deletes the rows it judged); while `refuse_feed`
    // is there, PostgreSQL refuses the feed's INSERTs (the feed retries, as on any error)
    await pgSql(`
      CREATE TABLE feed_audit (device_id text NOT NULL, ts bigint NOT NULL);
      CREATE FUNCTION feed_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO feed_audit VALUES (NEW.device_id, NEW.ts); RETURN NEW; END $$;
      CREATE TRIGGER feed_audit AFTER INSERT ON alert_feed FOR EACH ROW EXECUTE FUNCTION feed_audit();
      CREATE FUNCTION refuse_feed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'alert_feed refused by the test'; END $$;
      CREATE TRIGGER refuse_feed BEFORE INSERT ON alert_feed FOR EACH STATEMENT EXECUTE FUNCTION refuse_feed();`);

    const device = await mqtt.connectAsync(m.url, { clientId: gauge.id, username: gauge.id, password: gauge.token, reconnectPeriod: 0 });
    const ts = Date.now() - 5000;
    const audited = async () => Number((await pgSql(`SELECT count(*) FROM feed_audit WHERE device_id = '${gauge.id}' AND ts = ${ts}`)).trim());
    // acknowledged to the device by the broker: the river at awas
    await device.publishAsync(`sensors/flood/${gauge.id}/telemetry`, JSON.stringify({ ts, waterLevel: 900 }), { qos: 1 });
    await device.endAsync();
    const stored = async () => ((await influxQuery(influx.url, 'ackstore_feed', 'SELECT "waterLevel" FROM "flood" WHERE "device_id" = $d', { d: gauge.id }))[0]?.values ?? []).map((v) => v[0] as number);
    // in InfluxDB, refused by the feed (and retried), never judged
    await eventually(async () => (await stored()).length === 1 && first.output().includes('alert feed: PostgreSQL refused the readings'), 30_000, 100);
    await new Promise((r) => setTimeout(r, 1000)); // time for an acknowledgement to reach the broker, were it sent
    expect(await audited()).toBe(0);
    expect((await pgSql(`SELECT count(*) FROM alerts WHERE device_id = '${gauge.id}'`)).trim()).toBe('0');
    first.child.kill('SIGKILL');
    await first.exited;
    rmSync(firstDir, { recursive: true, force: true });

    // PostgreSQL takes the feed again; the id comes back on an empty dir: the broker delivers the reading again
    await pgSql('DROP TRIGGER refuse_feed ON alert_feed');
    const secondDir = tempDir('pantau-feed-1-again-');
    const second = await worker(secondDir, env);
    await eventually(async () => (await audited()) === 1, 30_000, 100).catch(async (err: Error) => {
      throw new Error(`the reading stored in InfluxDB never reached the alert feed (${await audited()} rows): ${err.message}`);
    });
    const alert = async () => (await pgSql(`SELECT severity || ' ' || state FROM alerts WHERE device_id = '${gauge.id}'`)).trim();
    await eventually(async () => (await alert()) !== '', 30_000, 100);
    expect(await alert()).toBe('awas open');
    // acknowledged now: a worker lost again leaves nothing at the broker for the next start
    second.child.kill('SIGKILL');
    await second.exited;
    await worker(tempDir('pantau-feed-1-third-'), env);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await audited()).toBe(1);
    expect(await stored()).toEqual([ts]);
  }, 180_000);
});
