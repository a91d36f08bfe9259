// Per-channel limit under a storm: a Dispatcher (notify/dispatcher.ts) with a 2-per-window limit and a short window
// sends two messages at once to a local Bot API server and the rest as one digest when the window ends.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertChange } from '../alerts/engine.js';
import { ChannelStore } from '../notify/channels.js';
import { Dispatcher } from '../notify/dispatcher.js';
import { RuleStore } from '../notify/rules.js';
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
    const state = new Map<string, unknown>();
    const registry = {
      getState: <T>(k: string) => state.get(k) as T | undefined,
      setState: (k: string, v: unknown) => void state.set(k, v),
      device: (id: string) => ({ id, kind: 'flood' as const, name: `Pos ${id}`, district: 'Sungai Pinang', city: 'Samarinda' }) as never,
    };
    const channels = new ChannelStore(registry);
    const rules = new RuleStore(registry);
    const ch = channels.create({ name: 'Posko', type: 'telegram', config: { botToken: '7123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw', chatId: 1 } }, { cities: [], kinds: [] });
    rules.create({ name: 'all', scope: { cities: [], kinds: [], deviceIds: [] }, owner: { cities: [], kinds: [] }, minSeverity: 'waspada', channels: [ch.id], language: 'id', quietHours: null, escalation: [] });
    const d = new Dispatcher({ registry, channels, rules, providerUrls: { telegram: url, whatsapp: url }, consoleUrl: () => 'http://pantau.test', log: pino({ level: 'silent' }), maxPerWindow: 2, windowMs: 1500 });
    for (let i = 1; i <= 6; i++) {
      const change: AlertChange = { type: 'opened', at: Date.now(), alert: { id: `a-${i}`, deviceId: `g-${i}`, kind: 'flood', rule: 'flood_level', severity: 'siaga', state: 'open', value: 150 + i, message: '', openedAt: Date.now(), acknowledgedAt: null, resolvedAt: null } };
      d.onChange(change);
    }
    await eventually(() => texts.length >= 2);
    await new Promise((r) => setTimeout(r, 500));
    expect(texts.length).toBe(2);
    await eventually(() => texts.length >= 3, 5000);
    const digest = texts[2]!;
    expect(digest).toMatch(/^RINGKASAN: 4 pesan ditahan/);
    for (const i of [3, 4, 5, 6]) expect(digest).toContain(`Pos g-${i}`);
    await new Promise((r) => setTimeout(r, 300));
    expect(texts.length).toBe(3);
    d.close();
  });
});
