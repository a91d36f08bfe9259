// platform/cluster-nodes.ts on a real PostgreSQL and InfluxDB: nodes of a cluster claim time slots, so readings
// without `ts` that two nodes take for one device in the same millisecond are two points in InfluxDB, not one; and
// GET /api/v1/cluster and /metrics show every node's lease, heartbeat, spool and the alert owner.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { InfluxClient } from '../influx/client.js';
import { Ingest } from '../ingest/ingest.js';
import { Spool } from '../ingest/spool.js';
import { TIME_SLOTS, claimTimeSlot, joinCluster, type ClusterNode } from '../platform/cluster-nodes.js';
import { Registry } from '../registry/registry.js';
import { influxQuery } from './support/influxd.js';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';

const log = pino({ level: 'silent' });
const DB = 'slots';
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'pantau-slots-'));
  dirs.push(d);
  return d;
};

let pg: PostgresServer;
let influxUrl: string;
let registry: Registry;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  influxUrl = inject('influxUrl');
  pg = await startPostgres();
  registry = await Registry.open(pg.url, tempDir(), { log });
}, 120_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await registry?.close();
  await pg?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const device = { id: 'river-7', kind: 'air' as const, city: 'Balikpapan', district: 'Balikpapan Kota' };

async function node(id: string): Promise<{ ingest: Ingest; spool: Spool; node: ClusterNode }> {
  const spool = await Spool.open({ dir: tempDir(), maxBytes: 1 << 30, log });
  const ingest = new Ingest({ spool, log, deviceRateLimit: 0 });
  const joined = await joinCluster({
    pg: registry.postgres!,
    config: { workerId: id, role: 'ingest' },
    log,
    ingest,
    status: () => ({ spoolBytes: spool.pendingBytes, writerLagSeconds: 0, influxUp: true, alertOwner: false, brokerSession: true }),
  });
  cleanups.push(async () => {
    await joined.stop();
    await spool.close();
  });
  return { ingest, spool, node: joined };
}

describe('server-assigned timestamps in a cluster', () => {
  it('two workers taking readings without ts of one device in the same millisecond store two points', async () => {
    const w1 = await node('w1');
    const w2 = await node('w2');
    expect(w1.node.timeSlot).not.toBe(w2.node.timeSlot);

    // the same millisecond at both workers (the broker's shared subscription split the device's messages), 100
    // messages a second from the device (PANTAU_DEVICE_RATE_LIMIT's default) to each
    const at = Date.UTC(2026, 11, 5, 12, 0, 0, 0);
    for (let i = 0; i < 20; i++) {
      await w1.ingest.accept(device, Buffer.from(JSON.stringify({ pm25: 10 + i })), 1, at + i * 10);
      await w2.ingest.accept(device, Buffer.from(JSON.stringify({ pm25: 50 + i })), 1, at + i * 10);
    }
    // what each worker's writer sends to InfluxDB: the lines in its spool
    const client = new InfluxClient({ url: influxUrl, database: DB });
    await client.createDatabase();
    for (const w of [w1, w2]) {
      const batch = w.spool.read(1 << 20)!;
      await client.write(batch.records.map((r) => r.toString('utf8')).join('\n'));
    }
    const series = await influxQuery(influxUrl, DB, 'SELECT "pm25" FROM "air" WHERE "device_id" = $d', { d: device.id });
    const values = (series[0]?.values ?? []).map((v) => v[1] as number).sort((a, b) => a - b);
    expect(values).toEqual([...Array.from({ length: 20 }, (_, i) => 10 + i), ...Array.from({ length: 20 }, (_, i) => 50 + i)]);
    // each assigned time is on the worker's own slot, less than TIME_SLOTS ms after the arrival
    const byValue = new Map((series[0]?.values ?? []).map((v) => [v[1] as number, v[0] as number]));
    for (let i = 0; i < 20; i++) {
      for (const [w, value] of [[w1, 10 + i], [w2, 50 + i]] as const) {
        const t = byValue.get(value)!;
        expect(t % TIME_SLOTS).toBe(w.node.timeSlot);
        expect(t - (at + i * 10)).toBeGreaterThanOrEqual(0);
        expect(t - (at + i * 10)).toBeLessThan(TIME_SLOTS);
      }
    }
  });

  it('a node keeps its slot across restarts; once every slot is held, a new node takes the longest-silent node\'s', async () => {
    const pgc = registry.postgres!;
    const again = await claimTimeSlot(pgc, 'w1', 'ingest', log);
    const w1 = (await pgc.query<{ time_slot: number }>('SELECT time_slot FROM cluster_nodes WHERE node_id = $1', ['w1'])).rows[0]!.time_slot;
    expect(again).toBe(w1);
    const slots = new Set<number>([again, await claimTimeSlot(pgc, 'w2', 'ingest', log)]);
    for (let i = 3; i <= TIME_SLOTS; i++) slots.add(await claimTimeSlot(pgc, `w${i}`, 'ingest', log));
    expect(slots.size).toBe(TIME_SLOTS);
    // w5 was not heard of for a minute: a ninth node takes its slot, and w5 has none left
    await pgc.query('UPDATE cluster_nodes SET heartbeat_at = heartbeat_at - 60000 WHERE node_id = $1', ['w5']);
    const w5 = (await pgc.query<{ time_slot: number }>('SELECT time_slot FROM cluster_nodes WHERE node_id = $1', ['w5'])).rows[0]!.time_slot;
    expect(await claimTimeSlot(pgc, 'w9', 'ingest', log)).toBe(w5);
    expect((await pgc.query<{ time_slot: number | null }>('SELECT time_slot FROM cluster_nodes WHERE node_id = $1', ['w5'])).rows[0]!.time_slot).toBeNull();
  });
});

describe('GET /api/v1/cluster and /metrics', () => {
  let a: TestPlatform;
  let b: TestPlatform;
  beforeAll(async () => {
    a = await startTestPlatform({ PANTAU_REGISTRY_URL: pg.url, PANTAU_WORKER_ID: 'api-a', PANTAU_WORKER_LEASE: '3s' });
    b = await startTestPlatform({ PANTAU_REGISTRY_URL: pg.url, PANTAU_WORKER_ID: 'api-b', PANTAU_ROLE: 'api', PANTAU_WORKER_LEASE: '3s' });
  }, 60_000);
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  type Health = { node: string; cluster: boolean; registry: boolean; leaseMs: number; alertOwner: string | null; nodes: Array<Record<string, any>> };

  it('an admin sees every node: role, lease, heartbeat, spool, writer lag, broker session, the alert owner', async () => {
    const health = async () => (await b.api<Health>('GET', '/api/v1/cluster')).body;
    // within one heartbeat (a third of the lease) the owner's status says it holds the alert owner's lock
    await eventually(async () => (await health()).alertOwner !== null, 10_000, 200);
    const h = await health();
    expect(h).toMatchObject({ node: 'api-b', cluster: true, registry: true, leaseMs: 3000 });
    expect(['api-a', 'api-b']).toContain(h.alertOwner);
    const byId = new Map(h.nodes.map((n) => [n.id, n]));
    expect(byId.get('api-a')).toMatchObject({ role: 'all', state: 'live', influxUp: true, brokerSession: null });
    expect(byId.get('api-b')).toMatchObject({ role: 'api', state: 'live', influxUp: true });
    for (const id of ['api-a', 'api-b']) {
      const n = byId.get(id)!;
      expect(typeof n.spoolBytes).toBe('number');
      expect(typeof n.writerLagSeconds).toBe('number');
      expect(Date.parse(n.leaseExpiresAt) - Date.parse(n.lastHeartbeat)).toBe(3000);
      expect(n.timeSlot).toBeGreaterThanOrEqual(0);
    }
    expect(byId.get('api-a')!.timeSlot).not.toBe(byId.get('api-b')!.timeSlot);
    // exactly one owner among the live nodes
    expect(h.nodes.filter((n) => n.alertOwner && n.state === 'live').map((n) => n.id)).toEqual([h.alertOwner]);
    // nodes that stopped renewing their lease (w3…, claimed above and never heard of again) are silent
    await eventually(async () => (await health()).nodes.find((n) => n.id === 'w3')?.state === 'silent', 10_000, 200);
  });

  it('a node that stops cleanly shows stopped; /metrics of each node shows the cluster as it sees it', async () => {
    const c = await startTestPlatform({ PANTAU_REGISTRY_URL: pg.url, PANTAU_WORKER_ID: 'api-c', PANTAU_ROLE: 'api', PANTAU_WORKER_LEASE: '3s' });
    await c.stop();
    const h = (await a.api<Health>('GET', '/api/v1/cluster')).body;
    expect(h.nodes.find((n) => n.id === 'api-c')).toMatchObject({ state: 'stopped' });
    await eventually(async () => {
      const text = await (await fetch(`${a.platform.httpUrl}/metrics`)).text();
      return /pantau_cluster_nodes\{state="live"\} [2-9]/.test(text) && /pantau_cluster_heartbeat_age_seconds\{node="api-b",role="api"\} /.test(text) && /pantau_cluster_nodes\{state="stopped"\} [1-9]/.test(text);
    }, 10_000, 200);
    const owners = await Promise.all([a, b].map(async (p) => Number(/^pantau_cluster_alert_owner (\d)/m.exec(await (await fetch(`${p.platform.httpUrl}/metrics`)).text())?.[1])));
    expect(owners.sort()).toEqual([0, 1]);
  });

  it('only an admin may look: no key 401, a viewer 403', async () => {
    expect((await a.api('GET', '/api/v1/cluster', { key: null })).status).toBe(401);
    const viewer = (await a.api('POST', '/api/v1/keys', { body: { name: 'wall screen', role: 'viewer' } })).body.key as string;
    expect((await a.api('GET', '/api/v1/cluster', { key: viewer })).status).toBe(403);
  });

  it('a single node answers about itself', async () => {
    const single = await startTestPlatform({ PANTAU_WORKER_ID: 'solo' });
    try {
      const h = (await single.api<Health>('GET', '/api/v1/cluster')).body;
      expect(h).toMatchObject({ node: 'solo', cluster: false, registry: true, alertOwner: 'solo' });
      expect(h.nodes).toHaveLength(1);
      expect(h.nodes[0]).toMatchObject({ id: 'solo', role: 'all', state: 'live', timeSlot: null, alertOwner: true, brokerSession: null });
    } finally {
      await single.stop();
    }
  });
});
