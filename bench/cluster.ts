// Cluster figures (docs/scale-out.md): a private PostgreSQL, Mosquitto and InfluxDB, two ingest workers and two
// API nodes as real processes; a fleet of QoS 1 publishers (one reading per message) for a fixed time; then
// acknowledged/s, stored/s, loss (every acknowledged timestamp looked up in InfluxDB) and API `latest` latency on
// an API node while the load runs.   npx tsx bench/cluster.ts [devices=500] [intervalMs=25] [seconds=20]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startInfluxd, influxQuery } from '../test/support/influxd.js';
import { startMosquittoServer } from '../test/support/mosquitto.js';
import { freePort } from '../test/support/ports.js';
import { startPostgres } from '../test/support/postgres.js';
import { startFleet } from '../test/support/publishers.js';
import { NODE_FLAGS } from '../test/support/process.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const [devices = 500, intervalMs = 25, seconds = 20] = process.argv.slice(2).map(Number);
const ADMIN = 'bench-cluster-admin-key-0123456789';
const dirs: string[] = [];
const children: ChildProcess[] = [];
const temp = (p: string) => {
  const d = mkdtempSync(join(tmpdir(), p));
  dirs.push(d);
  return d;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const mosquitto = await startMosquittoServer(temp('bench-mq-'));
children.push(mosquitto.child);
const [influx, pg] = await Promise.all([startInfluxd(), startPostgres()]);

async function node(id: string, role: 'api' | 'ingest'): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [...NODE_FLAGS, '--import', 'tsx', join(ROOT, 'platform/main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env, PANTAU_ROLE: role, PANTAU_REGISTRY_URL: pg.url, PANTAU_BROKER_URL: mosquitto.url, PANTAU_WORKER_ID: id,
      PANTAU_INFLUX_URL: influx.url, PANTAU_INFLUX_DB: 'bench', PANTAU_DATA_DIR: temp(`bench-${id}-`), PANTAU_HTTP_PORT: String(port),
      PANTAU_HOST: '127.0.0.1', PANTAU_ADMIN_KEY: ADMIN, PANTAU_DEVICE_RATE_LIMIT: '0', PANTAU_API_RATE_LIMIT: '0', PANTAU_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) return { url, child };
    await sleep(200);
  }
  throw new Error(`${id} not ready`);
}

try {
  const a = await node('api-a', 'api'); // runs the migrations
  await pg.sql(`INSERT INTO devices (id, kind, name, city, district, lat, lon, token_hash, created_at)
    SELECT 'bench-' || g, 'air', 'bench ' || g, 'Samarinda', 'Samarinda Ulu', -0.5, 117.1, 'unused', 0 FROM generate_series(1, ${devices}) g`);
  const [b] = await Promise.all([node('api-b', 'api'), node('w1', 'ingest'), node('w2', 'ingest')]);
  void a;
  const fleet = await startFleet({
    url: mosquitto.url,
    devices: Array.from({ length: devices }, (_, i) => ({ id: `bench-${i + 1}`, token: 'unused-token-0123456789', kind: 'air' as const })),
    intervalMs,
  });
  await sleep(3000); // warm-up
  const acked0 = fleet.ackedCount();
  const t0 = Date.now();
  const latencies: number[] = [];
  const probe = (async () => {
    while (Date.now() - t0 < seconds * 1000) {
      const s = performance.now();
      await fetch(`${b.url}/api/v1/devices/bench-${1 + Math.floor(Math.random() * devices)}/latest`, { headers: { authorization: `Bearer ${ADMIN}` } }).then((r) => r.arrayBuffer());
      latencies.push(performance.now() - s);
      await sleep(20);
    }
  })();
  await sleep(seconds * 1000);
  const acked = fleet.ackedCount() - acked0;
  const elapsed = (Date.now() - t0) / 1000;
  await probe;
  await fleet.stop();
  const total = fleet.ackedCount();
  let stored = 0;
  for (let i = 0; i < 120; i++) {
    const s = await influxQuery(influx.url, 'bench', 'SELECT COUNT("pm25") FROM "air"');
    stored = (s[0]?.values[0]?.[1] as number | undefined) ?? 0;
    if (stored >= total) break;
    await sleep(1000);
  }
  let lost = 0;
  for (const [id, set] of fleet.acked) {
    const s = await influxQuery(influx.url, 'bench', 'SELECT "pm25" FROM "air" WHERE "device_id" = $d', { d: id });
    const got = new Set((s[0]?.values ?? []).map((v) => v[0] as number));
    for (const ts of set) if (!got.has(ts)) lost++;
  }
  latencies.sort((x, y) => x - y);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!.toFixed(1);
  console.log(`cluster: 2 ingest workers + 2 API nodes, Mosquitto, PostgreSQL, InfluxDB on one machine`);
  console.log(`load: ${devices} devices, QoS 1, one reading per message every ${intervalMs} ms each (offered ${Math.round((devices * 1000) / intervalMs)}/s), ${seconds} s measured`);
  console.log(`acknowledged: ${Math.round(acked / elapsed)} readings/s; total acknowledged ${total}, stored ${stored}, acknowledged but missing ${lost}`);
  console.log(`API node B latest during the load: p50 ${pct(50)} ms, p99 ${pct(99)} ms (${latencies.length} requests)`);
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await influx.stop();
  await pg.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
