// The alert owner's delivery marks (alerts/owner-publish.ts) on a real PostgreSQL, with a real webhook receiver: a
// change the owner published and webhooked is recorded as such within milliseconds, through the pool, even while the
// owner's cycle is busy (here: never runs) — so a successor that takes over after a SIGKILL sends none of it again.
// The owner-failover benchmark counted 212 MQTT and 58 webhook duplicates over ten kills while marks waited for the
// next cycle of a flooded owner.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertChange } from '../alerts/engine.js';
import { OwnerPublisher, type OwnerOutputs } from '../alerts/owner-publish.js';
import { WebhookSender } from '../alerts/webhook.js';
import { PgConnection } from '../registry/postgres.js';
import { eventually } from './support/platform.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';

const log = pino({ level: 'silent' });
let server: PostgresServer;
let conn: PgConnection;
let receiver: Server;
let url = '';
const received: string[] = [];

const change = (i: number): AlertChange => ({
  type: 'opened', at: 1_764_900_000_000 + i,
  alert: { id: `m-${i}`, deviceId: `g-${i}`, kind: 'flood', rule: 'flood_level', severity: 'siaga', state: 'open', value: 170 + i, message: '', openedAt: 1_764_900_000_000 + i, acknowledgedAt: null, resolvedAt: null },
});

function outputs(published: string[]): OwnerOutputs {
  return {
    writeLines: async () => undefined,
    uniqueTs: (_s, at) => at,
    publish: async (_topic, payload) => void published.push(payload),
    webhook: new WebhookSender({ url, secret: 'marks-secret', log, baseDelayMs: 20 }),
  };
}

beforeAll(async () => {
  server = await startPostgres();
  conn = new PgConnection(server.url, log);
  await conn.migrate();
  receiver = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      received.push(raw);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
}, 60_000);

afterAll(async () => {
  await new Promise((r) => receiver?.close(r));
  await conn?.close();
  await server?.stop();
});

describe('alert owner delivery marks', () => {
  it('are written within milliseconds of the deliveries while the cycle is busy; a successor then sends nothing again', async () => {
    const published: string[] = [];
    let cycleWakes = 0;
    const owner = new OwnerPublisher(outputs(published), log, () => void cycleWakes++, conn.pool);
    owner.hold(Array.from({ length: 40 }, (_, i) => change(i)));
    const client = conn.newClient();
    await client.connect();
    await client.query('BEGIN');
    const events = await owner.store(client, owner.take().pending);
    await client.query('COMMIT');
    owner.deliverCommitted(events, []);
    await eventually(() => received.length === 40 && published.length === 40, 5000);
    // no cycle ran (nobody called flushMarks): the marks came through the pool
    await eventually(async () => (await server.sql('SELECT count(*) FROM alert_events WHERE published AND webhooked')).trim() === '40', 2000);
    expect(cycleWakes).toBe(0);

    // the owner dies here; the next one redelivers what is not recorded: nothing
    const successorPublished: string[] = [];
    const before = received.length;
    const successor = new OwnerPublisher(outputs(successorPublished), log, () => undefined, conn.pool);
    await successor.redeliver(client);
    await new Promise((r) => setTimeout(r, 300));
    expect(successorPublished).toEqual([]);
    expect(received.length).toBe(before);
    await client.end();
  });

  it('marks that cannot be written (PostgreSQL down) are kept and the cycle is asked to write them', async () => {
    const published: string[] = [];
    let cycleWakes = 0;
    const owner = new OwnerPublisher(outputs(published), log, () => void cycleWakes++, conn.pool);
    owner.hold([change(100)]);
    const client = conn.newClient();
    await client.connect();
    await client.query('BEGIN');
    const events = await owner.store(client, owner.take().pending);
    await client.query('COMMIT');
    await client.end();
    await server.down();
    try {
      owner.deliverCommitted(events, []);
      await eventually(() => cycleWakes > 0, 15_000);
    } finally {
      await server.start();
    }
    // the owner's next cycle writes them on its own connection
    const again = await eventually(async () => {
      const c = conn.newClient();
      try {
        await c.connect();
        return c;
      } catch {
        return null;
      }
    }, 15_000);
    await owner.flushMarks(again);
    expect((await server.sql(`SELECT published AND webhooked FROM alert_events WHERE seq = ${events[0]!.seq}`)).trim()).toBe('t');
    await again.end();
  }, 60_000);
});
