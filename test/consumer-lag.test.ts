// No consumer of the ingest log can stall ingest unless it is durability itself (docs/consumers.md), on a node
// whose registry is PostgreSQL, so that the alert owner's feed (`alert-feed`) is one of the log's durable consumers:
// - PostgreSQL stopped for longer than the disk allows: the feed is detached with an error and a metric, its
//   segments are freed, every publish is still acknowledged and stored; once PostgreSQL is back it is attached again;
// - PostgreSQL refusing the feed's inserts (a serialization failure): retried, never skipped;
// - a restart while the feed is behind and slow to register: it still gets every reading it had not handed over.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { AlertFeed } from '../alerts/owner.js';
import { createLogger } from '../platform/logger.js';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';

let pg: PostgresServer;
let pgDown = false;
const pgStop = async () => {
  await pg.down();
  pgDown = true;
};
const pgStart = async () => {
  await pg.start();
  pgDown = false;
};
const mounts: string[] = [];
const dirs: string[] = [];
const platforms: TestPlatform[] = [];

beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
// each test's platforms stop before the next test starts: a node left running from an earlier test would share the
// registry, could hold the alert owner's lock and judge the next test's feed (on its own, full, disk)
beforeEach(async () => {
  for (const tp of platforms.splice(0)) await tp.stop().catch(() => undefined);
  // a test that failed while PostgreSQL was stopped left it stopped: the next starts with it up
  if (pgDown) await pgStart();
}, 60_000);
afterAll(async () => {
  for (const tp of platforms) await tp.stop().catch(() => undefined);
  await pg?.stop();
  for (const m of mounts) {
    try {
      execFileSync('umount', [m]);
    } catch {
      execFileSync('umount', ['-l', m]);
    }
  }
  for (const d of [...mounts, ...dirs]) rmSync(d, { recursive: true, force: true });
}, 60_000);

const THRESHOLDS = { waspada: 700, siaga: 775, awas: 825, hysteresisCm: 10, clearAfterSeconds: 1 };

async function start(env: Record<string, string>, logLines?: string[]) {
  const logger = logLines ? createLogger('info', 'pantau', { write: (s: string) => void logLines.push(s) }) : undefined;
  const tp = await startTestPlatform({ PANTAU_REGISTRY_URL: pg.url, PANTAU_DEVICE_RATE_LIMIT: '0', ...env }, logger ? { logger } : {});
  platforms.push(tp);
  return tp;
}

const feedOf = (tp: TestPlatform) => tp.platform.cluster!.alerts.feed as AlertFeed;

/** `messages` QoS 1 publishes of 200 readings each (a gauge's backlog, an hour or more old), each acknowledged in time. */
async function backlog(device: MqttClient, id: string, messages: number, first: number): Promise<number> {
  let ts = first;
  for (let m = 0; m < messages; m += 4) {
    await Promise.all(Array.from({ length: Math.min(4, messages - m) }, () => {
      const readings = Array.from({ length: 200 }, () => ({ ts: (ts += 1000), waterLevel: 400 + (ts / 1000) % 200, rainfall: 0 }));
      const acked = device.publishAsync(`sensors/flood/${id}/telemetry`, JSON.stringify(readings), { qos: 1 });
      return Promise.race([acked, new Promise((_, reject) => setTimeout(() => reject(new Error(`${id}: a publish was not acknowledged within 30 s`)), 30_000))]);
    }));
  }
  return messages * 200;
}

async function storedCount(tp: TestPlatform, id: string): Promise<number> {
  const series = await tp.query('SELECT count("waterLevel") FROM "flood" WHERE "device_id" = $d', { d: id });
  return (series[0]?.values?.[0]?.[1] as number | undefined) ?? 0;
}

/** The gauge's flood-level alerts (its sawtooth backlog may also raise and clear implausible-jump alerts). */
const openAlerts = async (tp: TestPlatform, id: string) =>
  ((await tp.api('GET', `/api/v1/alerts?deviceId=${id}`)).body.items as Array<{ state: string; rule: string }>).filter((a) => a.rule === 'flood_level');

describe('log consumers never stall ingest', () => {
  it('PostgreSQL stopped for longer than the disk allows: the alert feed is detached, ingest goes on, and the feed comes back', async () => {
    // the data dir on an 8 MiB file system: 1 MiB segments, and room for a few of them only
    const mnt = mkdtempSync(join(tmpdir(), 'pantau-lag-tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt]);
    mounts.push(mnt);
    const dataDir = join(mnt, 'data');
    mkdirSync(dataDir);
    const logLines: string[] = [];
    const tp = await start({ PANTAU_DATA_DIR: dataDir }, logLines);
    const gauges = await Promise.all([0, 1, 2, 3].map((i) => tp.register('flood', `lag-gauge-${i}`, { thresholds: THRESHOLDS })));
    const clients = await Promise.all(gauges.map((g) => tp.connect(g.id, g.token)));
    await pgStop();
    // about 16 MiB of log (twice the file system) while the alert feed cannot hand anything over
    const hourAgo = Date.now() - 12 * 3_600_000;
    const sent = await Promise.all(gauges.map((g, i) => backlog(clients[i]!, g.id, 200, hourAgo)));
    // every acknowledged reading is in InfluxDB; the feed was detached, loudly, and its segments freed
    await tp.drained(60_000);
    for (const [i, g] of gauges.entries()) expect(await storedCount(tp, g.id)).toBe(sent[i]);
    expect(tp.platform.spool.detached).toContain('alert-feed');
    expect(logLines.some((l) => l.includes('"level":50') && l.includes('alert-feed') && l.includes('DETACHED'))).toBe(true);
    expect((await tp.api('GET', '/metrics')).text).toMatch(/pantau_consumer_detached\{consumer="alert-feed"\} 1/);
    // freed once every durable consumer still attached has passed them: `drained` waited for the writer only, and
    // the rollup job may still be a few batches behind on a loaded machine
    const segments = () => readdirSync(join(dataDir, 'spool')).filter((n) => n.endsWith('.log')).length;
    await eventually(() => segments() <= 3 || undefined, 20_000).catch(() => undefined);
    expect(segments()).toBeLessThanOrEqual(3);

    // PostgreSQL back: the feed finishes the batch it held, is attached again and hands new readings over
    await pgStart();
    await eventually(() => !tp.platform.spool.detached.includes('alert-feed'), 30_000, 100);
    expect((await tp.api('GET', '/metrics')).text).toMatch(/pantau_consumer_detached\{consumer="alert-feed"\} 0/);
    expect(logLines.some((l) => l.includes('alert-feed') && l.includes('attached again'))).toBe(true);
    await clients[0]!.publishAsync(`sensors/flood/${gauges[0]!.id}/telemetry`, JSON.stringify({ waterLevel: 710 }), { qos: 1 });
    await eventually(async () => (await openAlerts(tp, gauges[0]!.id)).length === 1, 30_000, 200);
  }, 240_000);

  it('PostgreSQL refusing the feed\'s inserts (serialization failure): the batch is retried, never skipped', async () => {
    const tp = await start({});
    const gauge = await tp.register('flood', 'refused-gauge', { thresholds: THRESHOLDS });
    await pg.sql(`CREATE OR REPLACE FUNCTION pantau_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'could not serialize access due to concurrent update' USING ERRCODE = '40001'; END $$;
      CREATE TRIGGER pantau_test_refuse BEFORE INSERT ON alert_feed FOR EACH STATEMENT EXECUTE FUNCTION pantau_test_refuse();`);
    const device = await tp.connect(gauge.id, gauge.token);
    const t0 = Date.now() - 30 * 60_000;
    // the river rises a few centimetres a minute, through waspada at the last reading
    for (let m = 0; m <= 10; m++) {
      await device.publishAsync(`sensors/flood/${gauge.id}/telemetry`, JSON.stringify({ ts: new Date(t0 + m * 60_000).toISOString(), waterLevel: 660 + m * 5 }), { qos: 1 });
    }
    await eventually(() => feedOf(tp).retries >= 2, 20_000, 50);
    expect(feedOf(tp).inserted).toBe(0);
    await pg.sql('DROP TRIGGER pantau_test_refuse ON alert_feed');
    await eventually(() => feedOf(tp).inserted === 11, 20_000, 50);
    // judged: the reading at waspada opened the alert
    await eventually(async () => (await openAlerts(tp, gauge.id)).length === 1, 20_000, 200);
  }, 120_000);

  it('a restart while the feed is behind, with the alert owner slow to start: the feed still gets every reading', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pantau-lag-restart-'));
    dirs.push(dataDir);
    // first life: InfluxDB unreachable and PostgreSQL down, so neither the writer nor the feed hands anything over
    const first = await start({ PANTAU_DATA_DIR: dataDir, PANTAU_INFLUX_URL: 'http://127.0.0.1:9', PANTAU_SHUTDOWN_TIMEOUT: '3s' });
    const gauge = await first.register('flood', 'restart-gauge', { thresholds: THRESHOLDS });
    const device = await first.connect(gauge.id, gauge.token);
    await pgStop();
    // more than a segment's worth that is wholly consumed gets rolled over: 2 MiB or so
    const sent = await backlog(device, gauge.id, 100, Date.now() - 7 * 3_600_000);
    await first.stop();
    platforms.splice(platforms.indexOf(first), 1);
    await pgStart();
    // second life: the alert owner's start-up waits on a table lock for a few seconds, while the writer drains
    const locked = pg.sql('BEGIN; LOCK TABLE alert_events IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT;');
    await eventually(async () => (await pg.sql("SELECT count(*) FROM pg_locks WHERE relation = 'alert_events'::regclass AND mode = 'AccessExclusiveLock'")).trim() === '1', 10_000, 50);
    const second = await start({ PANTAU_DATA_DIR: dataDir });
    await locked;
    await eventually(() => feedOf(second).inserted === sent, 30_000, 100);
    await second.drained(30_000);
    expect(await storedCount(second, gauge.id)).toBe(sent);
  }, 180_000);
});
