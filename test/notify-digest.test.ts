// Per-channel limit under a storm: the outbox (notify/outbox.ts, on a real SQLite database) with a 2-per-window
// limit and a short window sends two messages at once to a local Bot API server and the rest as one digest when
// the window ends — counted from the table, so what a restart would find is what decides.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertChange } from '../alerts/engine.js';
import { ChannelStore } from '../notify/channels.js';
import { Outbox } from '../notify/outbox.js';
import { RuleStore } from '../notify/rules.js';
import { NotifyStore } from '../notify/store.js';
import { eventually } from './support/platform.js';

const texts: string[] = [];
const server = createServer((req, res) => {
  let raw = '';
  req.on('data', (c) => (raw += c));
  req.on('end', () => {
    texts.push(JSON.parse(raw).text);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, result: { message_id: texts.length, chat: { id: 1, type: 'private' }, date: 1764902400 } }));
  });
});

describe('digest under a storm', () => {
  let url = '';
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('two messages in the window, the other four in one digest when it ends', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    const store = NotifyStore.sqlite(db);
    const registry = { device: (id: string) => ({ id, kind: 'flood' as const, name: `Pos ${id}`, district: 'Sungai Pinang', city: 'Samarinda' }) as never };
    const channels = new ChannelStore(store);
    const rules = new RuleStore(store);
    const ch = await channels.create({ name: 'Posko', type: 'telegram', config: { botToken: '7123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw', chatId: 1 } }, { cities: [], kinds: [] });
    await rules.create({ name: 'all', scope: { cities: [], kinds: [], deviceIds: [] }, owner: { cities: [], kinds: [] }, minSeverity: 'waspada', channels: [ch.id], language: 'id', quietHours: null, escalation: [] });
    const d = new Outbox({ store, registry, providerUrls: { telegram: url, whatsapp: url }, consoleUrl: () => 'http://pantau.test', log: pino({ level: 'silent' }), nodeId: 'test', maxPerWindow: 2, windowMs: 1500, pollMs: 100 });
    d.start();
    for (let i = 1; i <= 6; i++) {
      const change: AlertChange = { type: 'opened', at: Date.now(), alert: { id: `a-${i}`, deviceId: `g-${i}`, kind: 'flood', rule: 'flood_level', severity: 'siaga', state: 'open', value: 150 + i, message: '', openedAt: Date.now(), acknowledgedAt: null, resolvedAt: null } };
      d.onChange(change);
    }
    await eventually(() => texts.length >= 2);
    await new Promise((r) => setTimeout(r, 500));
    expect(texts.length).toBe(2);
    await eventually(() => texts.length >= 3, 5000);
    // six changes in one millisecond: which two go first is the order of the outbox's ids, not of the calls
    const alone = texts.slice(0, 2).map((t) => Number(/Pos g-(\d)/.exec(t)?.[1]));
    expect(new Set(alone).size).toBe(2);
    const held = [1, 2, 3, 4, 5, 6].filter((i) => !alone.includes(i));
    const digest = texts[2]!;
    expect(digest).toMatch(/^RINGKASAN: 4 pesan ditahan/);
    for (const i of held) expect(digest).toContain(`Pos g-${i},`);
    for (const i of alone) expect(digest).not.toContain(`Pos g-${i},`);
    await new Promise((r) => setTimeout(r, 300));
    expect(texts.length).toBe(3);
    // the table says the same: two sent on their own, four in one digest (one group), each sent once
    const rows = db.prepare('SELECT alert_id, status, in_digest, group_key FROM notify_outbox ORDER BY alert_id').all() as Array<{ alert_id: string; status: string; in_digest: number; group_key: string | null }>;
    expect(rows.map((r) => r.status)).toEqual(Array(6).fill('sent'));
    expect(rows.filter((r) => r.in_digest === 1).map((r) => r.alert_id)).toEqual(held.map((i) => `a-${i}`));
    expect(new Set(rows.filter((r) => r.in_digest === 1).map((r) => r.group_key)).size).toBe(1);
    expect((db.prepare('SELECT count(*) AS n FROM notify_attempts').get() as { n: number }).n).toBe(6);
    await d.close();
  });
});
