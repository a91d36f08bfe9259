// A flood on the Karang Mumus, end to end (docs/cap.md "A flood, end to end"; issue "Round 3 · 2 of 6"): the fleet
// simulator's Bendung Benanga gauge (devices/flood-scenario.ts — registered, connected and publishing as `npm run
// simulate` does) rises under a cloudburst through Siaga to Awas and falls back, then rises to Siaga again in a
// second storm. A real platform with a local server answering as the Telegram Bot API, one rule: the duty post is
// told at once, the head of BPBD after 3 s when nobody has acknowledged. Asserted: the messages in order (opened
// Siaga, escalation to the head after the delay, raised to Awas and its escalation, falling, the all-clear), the
// river trend on the alert while it rises, an acknowledgement through the signed link of the second flood's message
// that stops its escalation, and a valid CAP 1.2 message for every change: Alert, Updates with references, Cancel.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trendOf } from '../api/alert-trend.js';
import { describeTrend, riverTrend } from '../catalog/trend.js';
import { DeviceClient } from '../devices/device-client.js';
import { FileStore } from '../devices/file-store.js';
import { FloodScenario, type ScenarioReading } from '../devices/flood-scenario.js';
import { SimStats } from '../devices/progress.js';
import { PantauApi, registerFleet } from '../devices/registration.js';
import { CAP_XSD, tag, xmllint } from './support/cap.js';
import { ADMIN_KEY, eventually, startTestPlatform, type TestPlatform } from './support/platform.js';

const BOT_TOKEN = '7123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
const POSKO = -1001000000001; // the duty post, told at once
const KEPALA = -1001000000002; // the head of BPBD, the escalation tier
const TIER_MS = 3000;
const SENDER = 'bpbd-samarinda@pantau.test';

interface Sent { chatId: number; text: string; at: number; ackUrl?: string }

/** A local server answering sendMessage as the Bot API documents it. */
async function botApi() {
  const sent: Sent[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = JSON.parse(raw || '{}');
      if (!req.url?.endsWith('/sendMessage')) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"ok":false,"error_code":404,"description":"Not Found"}');
      sent.push({ chatId: body.chat_id, text: body.text, at: Date.now(), ackUrl: body.reply_markup?.inline_keyboard?.[0]?.[0]?.url });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        ok: true, result: { message_id: sent.length, from: { id: 7123456789, is_bot: true, first_name: 'Pantau', username: 'pantau_bot' }, chat: { id: body.chat_id, type: 'supergroup', title: 'BPBD' }, date: Math.floor(Date.now() / 1000), text: body.text },
      }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, sent, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const heads = (list: Sent[]) => list.map((m) => m.text.split('\n')[0]);
const alertIdOf = (m: Sent) => /#\/alerts\/([A-Za-z0-9-]+)/.exec(m.text)![1]!;

let tp: TestPlatform;
let bot: Awaited<ReturnType<typeof botApi>>;
let device: DeviceClient;
let stateDir: string;
const scenario = new FloodScenario();
const readings = [...scenario.readings()];
const published: ScenarioReading[] = [];
/** Rejections and refused CONNECTs: none expected. */
const problems: string[] = [];
const posko = () => bot.sent.filter((m) => m.chatId === POSKO);
const kepala = () => bot.sent.filter((m) => m.chatId === KEPALA);

/** Publishes the scenario's readings up to and including index `last`, in order, as the simulator's device. */
async function publishThrough(last: number): Promise<void> {
  while (published.length <= last) {
    const r = readings[published.length]!;
    device.publishReading({ ...r.values, ts: r.ts });
    published.push(r);
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

const firstAtOrAbove = (cm: number, from = 0) => readings.findIndex((r, i) => i >= from && r.values.waterLevel! >= cm);

beforeAll(async () => {
  bot = await botApi();
  tp = await startTestPlatform({ PANTAU_TELEGRAM_API_URL: bot.url, PANTAU_CAP_SENDER: SENDER });
  // registered as the simulator registers its fleet: the gauge's own thresholds (Siaga 775, Awas 825 cm)
  const api = new PantauApi({ apiUrl: tp.platform.httpUrl, adminKey: () => ADMIN_KEY, waitSeconds: 5, log: () => undefined });
  const { tokens } = await registerFleet(api, [scenario.device]);
  stateDir = mkdtempSync(join(tmpdir(), 'pantau-flood-'));
  device = new DeviceClient(scenario.device, {
    mqttUrl: tp.platform.mqttUrl!,
    qos: 1,
    token: tokens.get(scenario.device.id)!,
    store: new FileStore(join(stateDir, 'outbox', `${scenario.device.id}.jsonl`)),
    stats: new SimStats(),
    onRejection: (_d, r) => void problems.push(`rejected: ${r.reason} ${r.detail}`),
    onRefused: (_c, code) => void problems.push(`CONNECT refused: ${code}`),
  });
  device.start();
  await eventually(() => device.connected);

  const channel = async (name: string, chatId: number) => (await tp.api('POST', '/api/v1/channels', { body: { name, type: 'telegram', config: { botToken: BOT_TOKEN, chatId } } })).body.id as string;
  const posko = await channel('Posko BPBD Samarinda', POSKO);
  const kepala = await channel('Kepala BPBD', KEPALA);
  const rule = await tp.api('POST', '/api/v1/notification-rules', {
    body: { name: 'Banjir Karang Mumus', scope: { deviceIds: [scenario.device.id] }, minSeverity: 'siaga', channels: [posko], language: 'id', escalation: [{ after: `${TIER_MS / 1000}s`, channels: [kepala] }] },
  });
  expect(rule.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await device?.shutdown(2000);
  await tp?.stop();
  await bot?.close();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe('a flood on the Karang Mumus, from the fleet simulator to phones and CAP', () => {
  const ids = { first: '', second: '' };

  it('the scenario is a flood: Siaga, Awas, back below Siaga, and a second rise to Siaga only', () => {
    expect(scenario.device).toMatchObject({ name: 'Bendung Benanga, Lempake', city: 'Samarinda', thresholds: { siaga: 775, awas: 825 } });
    const levels = readings.map((r) => r.values.waterLevel!);
    const awas = firstAtOrAbove(825);
    const fallen = levels.findIndex((l, i) => i > awas && l < 760);
    const second = firstAtOrAbove(775, fallen);
    expect(firstAtOrAbove(775)).toBeGreaterThan(0);
    expect(awas).toBeGreaterThan(firstAtOrAbove(775));
    expect(second).toBeGreaterThan(fallen);
    expect(Math.max(...levels.slice(second))).toBeLessThan(825);
    expect(levels.at(-1)).toBeLessThan(760);
    // it rains before the river rises
    expect(readings.slice(0, firstAtOrAbove(775)).some((r) => r.values.rainfall! > 20)).toBe(true);
  });

  it('Siaga: the duty post is told at once, with the trend on the alert; the head of BPBD after the tier delay', async () => {
    const siaga = firstAtOrAbove(775);
    await publishThrough(siaga - 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(bot.sent).toEqual([]);
    const before = Date.now();
    await publishThrough(siaga);
    await eventually(() => posko().length === 1);
    const opened = posko()[0]!;
    expect(heads([opened])).toEqual(['PERINGATAN · Siaga']);
    expect(opened.text).toContain('Bendung Benanga, Lempake, Samarinda Utara, Samarinda');
    expect(opened.text).toContain(`${Math.round(readings[siaga]!.values.waterLevel! * 10) / 10} cm`);
    expect(opened.ackUrl).toMatch(/\/api\/v1\/ack\//);
    // the trend in the message's words, from the 30 minutes up to the reading that reached Siaga
    const trend = riverTrend(published.map((r) => ({ ts: r.ts, cm: r.values.waterLevel! })), { siaga: 775, awas: 825 });
    expect(trend.next?.level).toBe('awas');
    expect(opened.text).toContain(`(${describeTrend(trend, 'id')})`);
    expect(opened.text).toMatch(/\(naik \d+ cm\/jam, Awas ±\d+ menit lagi\)/);
    ids.first = alertIdOf(opened);

    // the river's trend on the alert: the 30 minutes before its newest reading, exactly as computed from them
    await tp.drained();
    const alert = (await tp.api('GET', `/api/v1/alerts/${ids.first}`)).body;
    expect(alert).toMatchObject({ severity: 'siaga', state: 'open', trend: { direction: 'rising', next: { level: 'awas' } } });
    const asOf = Date.parse(alert.trend.asOf);
    expect(asOf).toBe(readings[siaga]!.ts);
    expect(alert.trend).toEqual(trendOf(published.map((r) => ({ ts: r.ts, cm: r.values.waterLevel! })), { siaga: 775, awas: 825 }));

    await eventually(() => kepala().length === 1, 10_000);
    expect(kepala()[0]!.at - before).toBeGreaterThanOrEqual(TIER_MS);
    expect(heads(kepala())).toEqual(['NAIK · Siaga']);
    expect(alertIdOf(kepala()[0]!)).toBe(ids.first);
  }, 30_000);

  it('Awas: the duty post hears it has risen, the head of BPBD again after the delay', async () => {
    const awas = firstAtOrAbove(825);
    const before = Date.now();
    await publishThrough(awas);
    await eventually(() => posko().length === 2);
    expect(heads(posko())).toEqual(['PERINGATAN · Siaga', 'NAIK · Awas']);
    await eventually(() => kepala().length === 2, 10_000);
    expect(kepala()[1]!.at - before).toBeGreaterThanOrEqual(TIER_MS);
    expect(heads(kepala())).toEqual(['NAIK · Siaga', 'NAIK · Awas']);
  }, 30_000);

  it('the fall: both are told it eases to Siaga, then the all-clear', async () => {
    const awas = firstAtOrAbove(825);
    const fallen = readings.findIndex((r, i) => i > awas && r.values.waterLevel! < 760);
    await publishThrough(fallen + 1);
    await eventually(() => posko().length === 4 && kepala().length === 4, 10_000);
    expect(heads(posko()).slice(2)).toEqual(['TURUN · Siaga', 'SELESAI · Siaga']);
    expect(heads(kepala()).slice(2)).toEqual(['TURUN · Siaga', 'SELESAI · Siaga']);
    // the falling and all-clear messages carry no acknowledgement link: there is nothing left to acknowledge
    expect(posko().slice(2).every((m) => m.ackUrl === undefined)).toBe(true);
    expect((await tp.api('GET', `/api/v1/alerts/${ids.first}`)).body.state).toBe('resolved');
  }, 30_000);

  it('the second flood: acknowledged through the link in the message, so its escalation never reaches the head', async () => {
    const awas = firstAtOrAbove(825);
    const fallen = readings.findIndex((r, i) => i > awas && r.values.waterLevel! < 760);
    await publishThrough(firstAtOrAbove(775, fallen));
    await eventually(() => posko().length === 5);
    const opened = posko()[4]!;
    expect(heads([opened])).toEqual(['PERINGATAN · Siaga']);
    ids.second = alertIdOf(opened);
    expect(ids.second).not.toBe(ids.first);
    const link = new URL(opened.ackUrl!).pathname;
    const acked = await tp.api('POST', link, { key: null });
    expect(acked.status).toBe(200);
    expect(acked.body).toMatchObject({ alertId: ids.second, acknowledged: true });
    expect(acked.body.by).toMatch(/^channel:.+ \(Posko BPBD Samarinda\)$/);
    expect((await tp.api('GET', `/api/v1/alerts/${ids.second}`)).body.state).toBe('acknowledged');
    // well past the tier's delay: nothing more for the head of BPBD
    await new Promise((resolve) => setTimeout(resolve, TIER_MS + 1500));
    expect(kepala()).toHaveLength(4);

    await publishThrough(readings.length - 1);
    await eventually(() => posko().length === 6, 10_000);
    expect(heads(posko()).slice(4)).toEqual(['PERINGATAN · Siaga', 'SELESAI · Siaga']);
    expect(kepala()).toHaveLength(4);
  }, 30_000);

  it('every change is a CAP 1.2 message valid against the schema: Alert, Update, Update, Cancel; Alert, Cancel', async () => {
    const atom = (await tp.api('GET', '/cap/feed.atom')).text;
    const links = [...atom.matchAll(/<link rel="alternate" type="application\/cap\+xml" href="([^"]+)"\/>/g)].map((m) => new URL(m[1]!).pathname);
    const messagesOf = async (alertId: string) => {
      const own = links.filter((l) => l.includes(`.${alertId}.`));
      const xmls = await Promise.all(own.map(async (l) => (await tp.api('GET', l)).text));
      // oldest first, by the sequence number ending the identifier
      return xmls.sort((a, b) => Number(tag(a, 'identifier')!.split('.').at(-1)) - Number(tag(b, 'identifier')!.split('.').at(-1)));
    };
    const first = await messagesOf(ids.first);
    const second = await messagesOf(ids.second);
    for (const xml of [...first, ...second]) expect(xmllint(xml, CAP_XSD)).toBe('');
    expect(first.map((m) => tag(m, 'msgType'))).toEqual(['Alert', 'Update', 'Update', 'Cancel']);
    expect(first.map((m) => tag(m, 'severity'))).toEqual(['Severe', 'Extreme', 'Severe', 'Minor']);
    // the acknowledgement is no message to the public
    expect(second.map((m) => tag(m, 'msgType'))).toEqual(['Alert', 'Cancel']);
    for (const chain of [first, second]) {
      expect(tag(chain[0]!, 'references')).toBeUndefined();
      for (let i = 1; i < chain.length; i++) {
        const prev = chain[i - 1]!;
        expect(tag(chain[i]!, 'references')).toBe(`${SENDER},${tag(prev, 'identifier')},${tag(prev, 'sent')}`);
      }
      expect(new Set(chain.map((m) => tag(m, 'incidents')))).toEqual(new Set([`${SENDER}.${chain === first ? ids.first : ids.second}`]));
    }
    // sent: the river's own time (the reading's), in WITA
    expect(tag(first[0]!, 'sent')).toBe(new Date(readings[firstAtOrAbove(775)]!.ts + 8 * 3_600_000).toISOString().replace(/\.\d{3}Z$/, '+08:00'));
    expect((await tp.api('GET', `/api/v1/alerts/${ids.first}/cap`)).text).toBe(first.at(-1));
    expect(problems).toEqual([]);
  });
});
