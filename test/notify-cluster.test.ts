// Notifications in a cluster (two platforms on one PostgreSQL, docs/notifications.md "Cluster"): a channel made
// through one node is used at once by the alert owner, which plans the messages in the transaction that stores the
// alert change and sends them; when the owner stops, the node that takes over sends what was still pending — an
// escalation tier due after the handover — once; a link the old owner signed acknowledges through the new one.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';

const BOT_TOKEN = '7123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';

describe('notifications in a cluster', () => {
  let pg: PostgresServer;
  let a: TestPlatform;
  let b: TestPlatform;
  let bot: Server;
  const got: Array<{ chat: number; text: string; at: number; button?: string }> = [];

  beforeAll(async () => {
    bot = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const body = JSON.parse(raw);
        got.push({ chat: body.chat_id, text: body.text, at: Date.now(), button: body.reply_markup?.inline_keyboard?.[0]?.[0]?.url });
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, result: { message_id: got.length, chat: { id: body.chat_id, type: 'group' }, date: 1764902400, text: body.text } }));
      });
    });
    await new Promise<void>((r) => bot.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(bot.address() as AddressInfo).port}`;
    pg = await startPostgres();
    a = await startTestPlatform({ PANTAU_REGISTRY_URL: pg.url, PANTAU_TELEGRAM_API_URL: url });
    b = await startTestPlatform({ PANTAU_REGISTRY_URL: pg.url, PANTAU_TELEGRAM_API_URL: url });
  }, 120_000);

  afterAll(async () => {
    await b?.stop();
    await a?.stop().catch(() => undefined);
    await pg?.stop();
    await new Promise<void>((r) => bot?.close(() => r()));
  });

  it('the owner sends what any node configured; after the owner stops, the new owner sends the pending tier once', async () => {
    await eventually(() => a.platform.cluster!.alerts.owner.isOwner || b.platform.cluster!.alerts.owner.isOwner);
    const [owner, other] = a.platform.cluster!.alerts.owner.isOwner ? [a, b] : [b, a];
    // channels through the other node, the rule through the owner: one set of tables
    const first = await other.api('POST', '/api/v1/channels', { body: { name: 'Posko', type: 'telegram', config: { botToken: BOT_TOKEN, chatId: -401 } } });
    const boss = await other.api('POST', '/api/v1/channels', { body: { name: 'Kepala', type: 'telegram', config: { botToken: BOT_TOKEN, chatId: -402 } } });
    expect((await owner.api('GET', `/api/v1/channels/${first.body.id}`)).status).toBe(200);
    const rule = await owner.api('POST', '/api/v1/notification-rules', { body: { name: 'r', minSeverity: 'siaga', channels: [first.body.id], escalation: [{ after: '4s', channels: [boss.body.id] }] } });
    expect(rule.status).toBe(201);
    const gauge = await owner.register('flood', 'smd-cluster-1', { thresholds: { waspada: 80, siaga: 150, awas: 200 } });
    const client = await owner.connect(gauge.id, gauge.token);
    await client.publishAsync(`sensors/flood/${gauge.id}/telemetry`, JSON.stringify({ ts: Date.now(), waterLevel: 170 }), { qos: 1 });
    await eventually(() => got.length >= 1, 15_000);
    expect(got[0]).toMatchObject({ chat: -401 });
    const alert = await eventually(async () => (await other.api('GET', `/api/v1/alerts?deviceId=${gauge.id}`)).body.items[0]);
    const pending = (await other.api('GET', `/api/v1/alerts/${alert.id}/deliveries`)).body.deliveries;
    expect(pending.map((d: any) => [d.reason, d.status])).toEqual([['opened', 'sent'], ['tier', 'queued']]);
    const due = Date.parse(pending[1].nextAttemptAt);

    // the owner goes; the other node takes over the alerts and the outbox
    await client.endAsync();
    await owner.stop();
    await eventually(() => other.platform.cluster!.alerts.owner.isOwner, 15_000);
    await eventually(() => got.some((m) => m.chat === -402), 15_000);
    expect(got.find((m) => m.chat === -402)!.at).toBeGreaterThanOrEqual(due);
    await new Promise((r) => setTimeout(r, 1500));
    expect(got.map((m) => m.chat)).toEqual([-401, -402]);
    const done = (await other.api('GET', `/api/v1/alerts/${alert.id}/deliveries`)).body.deliveries;
    expect(done.map((d: any) => [d.reason, d.status, d.attempts.length])).toEqual([['opened', 'sent', 1], ['tier', 'sent', 1]]);
    // the old owner signed the first message's link; the node left acknowledges with it (one key for the cluster)
    const acked = await other.api('POST', new URL(got[0]!.button!).pathname, { key: null });
    expect(acked.body).toMatchObject({ alertId: alert.id, acknowledged: true });
    expect((await other.api('POST', new URL(got[0]!.button!).pathname, { key: null })).status).toBe(410);
  }, 90_000);
});
