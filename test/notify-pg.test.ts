// The outbox shared by the nodes of a cluster, on a real PostgreSQL (migration 6): the old state documents are
// adopted once when two nodes start together; rows planned in a transaction that rolls back do not exist; two
// senders (two nodes' connection pools) working the same outbox against a gateway that fails now and then deliver
// every row exactly once; a row claimed by a node that died is sent by another once the claim's lease ends.
import { createServer, type Server } from 'node:http';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertChange } from '../alerts/engine.js';
import { Outbox } from '../notify/outbox.js';
import { NotifyStore } from '../notify/store.js';
import { PgConnection } from '../registry/postgres.js';
import { eventually } from './support/platform.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';

const log = pino({ level: 'silent' });
let server: PostgresServer;
let A: PgConnection;
let B: PgConnection;
let gateway: Server;
let gatewayUrl = '';
/** Per idempotency key: requests, and those answered 2xx. */
const requests = new Map<string, number>();
const accepted = new Map<string, number>();
let n = 0;

const registry = { device: (id: string) => ({ id, kind: 'flood' as const, name: `Pos ${id}`, district: 'Sungai Pinang', city: 'Samarinda' }) as never };
const change = (i: number): AlertChange => ({
  type: 'opened', at: 1_764_900_000_000 + i,
  alert: { id: `a-${i}`, deviceId: `g-${i}`, kind: 'flood', rule: 'flood_level', severity: 'siaga', state: 'open', value: 170, message: '', openedAt: 1_764_900_000_000 + i, acknowledgedAt: null, resolvedAt: null },
});
const outbox = (store: NotifyStore, nodeId: string, extra: Partial<ConstructorParameters<typeof Outbox>[0]> = {}) =>
  new Outbox({ store, registry, providerUrls: { telegram: gatewayUrl, whatsapp: gatewayUrl }, consoleUrl: () => 'http://pantau.test', log, nodeId, maxPerWindow: 10_000, baseDelayMs: 50, pollMs: 20, ...extra });

beforeAll(async () => {
  server = await startPostgres();
  A = new PgConnection(server.url, log);
  B = new PgConnection(server.url, log);
  gateway = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const key = String(req.headers['idempotency-key']);
      requests.set(key, (requests.get(key) ?? 0) + 1);
      // every 7th request refused: retried by whichever sender claims it next
      const fail = ++n % 7 === 0;
      setTimeout(() => {
        if (!fail) accepted.set(key, (accepted.get(key) ?? 0) + 1);
        res.writeHead(fail ? 500 : 200, { 'content-type': 'application/json' }).end(fail ? '{"error":"busy"}' : '{"queued":true}');
      }, Math.floor(Math.random() * 15));
    });
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
  gatewayUrl = `http://127.0.0.1:${(gateway.address() as { port: number }).port}`;
}, 60_000);

afterAll(async () => {
  await A?.close();
  await B?.close();
  await new Promise<void>((r) => gateway?.close(() => r()));
  await server?.stop();
});

describe('the outbox in PostgreSQL', () => {
  let storeA: NotifyStore;
  let storeB: NotifyStore;

  it('two nodes starting together adopt the old state documents once', async () => {
    await A.migrate();
    const channel = { id: 'ch-old', name: 'Old', type: 'http', config: { method: 'POST', url: `${gatewayUrl}/sms`, headers: {}, body: '{{text}}' }, scope: { cities: [], kinds: [] }, createdAt: 1 };
    await A.query('INSERT INTO state (key, value) VALUES ($1, $2), ($3, $4)', ['notify-channels', JSON.stringify([channel]), 'notify-rules', JSON.stringify([])]);
    [storeA, storeB] = await Promise.all([NotifyStore.postgres(A), NotifyStore.postgres(B)]);
    expect((await storeB.listChannels()).map((c) => c.id)).toEqual(['ch-old']);
    expect((await A.query("SELECT count(*)::int AS n FROM state WHERE key LIKE 'notify-%'")).rows[0]!.n).toBe(0);
  });

  it('rows planned in a transaction that rolls back do not exist', async () => {
    for (const id of ['ch-1', 'ch-2', 'ch-3']) {
      await storeA.insertChannel({ id, name: id, type: 'http', config: { method: 'POST', url: `${gatewayUrl}/${id}`, headers: {}, body: '{"text":"{{text}}"}' }, scope: { cities: [], kinds: [] }, createdAt: 2 });
    }
    await storeA.insertRule({ id: 'nr-1', name: 'all', scope: { cities: [], kinds: [], deviceIds: [] }, owner: { cities: [], kinds: [] }, minSeverity: 'siaga', channels: ['ch-1', 'ch-2', 'ch-3'], language: 'id', quietHours: null, escalation: [], createdAt: 3 });
    const o = outbox(storeA, 'A');
    await expect(A.transaction(async (c) => {
      await o.planIn(c, [change(0)]);
      throw new Error('the alert owner lost its lock');
    })).rejects.toThrow('lost its lock');
    expect(await storeA.countByStatus()).toEqual({});
  });

  it('two senders on one outbox: every row delivered exactly once, through refusals and retries', async () => {
    const sentBy = { a: 0, b: 0 };
    const o1 = outbox(storeA, 'node-a', { counted: (_t, ok) => void (ok && sentBy.a++) });
    const o2 = outbox(storeB, 'node-b', { counted: (_t, ok) => void (ok && sentBy.b++) });
    // 60 alert changes × 3 channels, planned as the alert owner does: in its transaction
    await A.transaction((c) => o1.planIn(c, Array.from({ length: 60 }, (_, i) => change(i + 1))));
    // planned again (a replay): nothing new
    await A.transaction((c) => o1.planIn(c, Array.from({ length: 60 }, (_, i) => change(i + 1))));
    expect(await storeA.countByStatus()).toEqual({ queued: 180 });
    o1.start();
    o2.start();
    await eventually(async () => (await storeA.countByStatus()).sent === 180, 60_000, 100);
    await Promise.all([o1.close(), o2.close()]);
    // both worked the outbox
    expect(sentBy.a).toBeGreaterThan(0);
    expect(sentBy.b).toBeGreaterThan(0);
    expect(sentBy.a + sentBy.b).toBe(180);
    expect(accepted.size).toBe(180);
    expect([...accepted.values()].every((v) => v === 1)).toBe(true);
    // every request is an attempt on record: nothing was sent that the outbox does not know of
    const attempts = (await A.query<{ id: string; n: number; ok: number }>('SELECT outbox_id AS id, count(*)::int AS n, sum(ok)::int AS ok FROM notify_attempts GROUP BY outbox_id')).rows;
    expect(attempts).toHaveLength(180);
    for (const a of attempts) {
      expect(a.ok).toBe(1);
      expect(requests.get(a.id)).toBe(a.n);
    }
  }, 90_000);

  it('a row claimed by a node that died is sent by another once the lease ends', async () => {
    const o = outbox(storeB, 'node-b');
    await A.transaction((c) => o.planIn(c, [change(1000)]));
    const leaseEnd = Date.now() + 1500;
    await A.query("UPDATE notify_outbox SET status = 'sending', claimed_by = 'node-dead', lease_until = $1 WHERE alert_id = 'a-1000'", [leaseEnd]);
    o.start();
    await eventually(async () => (await storeB.deliveries('a-1000')).every((d) => d.status === 'sent'), 10_000, 50);
    await o.close();
    const rows = await storeB.deliveries('a-1000');
    expect(rows).toHaveLength(3);
    for (const r of rows) {
      // nothing before the dead node's lease ended; the gateway's occasional refusal retried
      expect(r.attemptList[0]!.at).toBeGreaterThanOrEqual(leaseEnd);
      expect(r.attemptList.map((a) => a.ok).filter(Boolean)).toHaveLength(1);
      expect(accepted.get(r.id)).toBe(1);
    }
  }, 30_000);
});
