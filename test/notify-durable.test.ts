// Exactly once per channel and change across crashes (docs/notifications.md, "Exactly once"): Pantau as a child
// process (the compiled platform), SIGKILLed while a message is on its way, restarted on the same data dir.
// - killed while one provider held the request unanswered and another was unreachable: after the restart each
//   channel has one message (the HTTP gateway gets the same Idempotency-Key again and counts it once);
// - killed after the change was stored but before it was planned into the outbox (that state made by hand from a
//   real crash's files): the start plans it and sends it once;
// - an escalation tier due 5 s after the change, the platform killed and restarted meanwhile: sent once, on time.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { eventually } from './support/platform.js';
import { freePort } from './support/ports.js';
import { spawnPlatform, type PlatformProcess } from './support/process.js';

const ADMIN = 'notify-durable-admin-key-01';
const BOT_TOKEN = '7123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
const running: PlatformProcess[] = [];
const dirs: string[] = [];
const servers: Server[] = [];

afterEach(async () => {
  for (const p of running.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL');
      await p.exited;
    }
  }
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A local server on `port` (0: any); `handle` answers or holds the request. */
async function serve(port: number, handle: (req: IncomingMessage, body: any, res: ServerResponse) => void) {
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => handle(req, raw ? JSON.parse(raw) : null, res));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** A Bot API server: every sendMessage answered as the documentation shows, recorded by chat. */
async function botApi(port: number, got: Array<{ chat: number; text: string }>) {
  return serve(port, (_req, body, res) => {
    got.push({ chat: body.chat_id, text: body.text });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, result: { message_id: got.length, chat: { id: body.chat_id, type: 'group' }, date: Math.floor(Date.now() / 1000), text: body.text } }));
  });
}

async function spawn(dataDir: string, env: Record<string, string>) {
  const p = await spawnPlatform({
    PANTAU_INFLUX_URL: inject('influxUrl'), PANTAU_INFLUX_DB: `nd_${dataDir.slice(-6).replace(/[^a-z0-9]/gi, '')}`, PANTAU_DATA_DIR: dataDir, PANTAU_ADMIN_KEY: ADMIN,
    PANTAU_DEVICE_RATE_LIMIT: '0', PANTAU_LOG_LEVEL: 'warn', ...env,
  });
  running.push(p);
  return p;
}

async function api(p: PlatformProcess, method: string, path: string, body?: unknown) {
  const res = await fetch(`${p.httpUrl}${path}`, { method, headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** A flood gauge at siaga: registered, one reading of 170 cm; answers the alert's id. */
async function siaga(p: PlatformProcess, id: string): Promise<string> {
  const reg = await api(p, 'POST', '/api/v1/devices', { id, kind: 'flood', name: `Pos ${id}`, city: 'Samarinda', district: 'Sungai Pinang', location: { lat: -0.49, lon: 117.15 }, thresholds: { waspada: 80, siaga: 150, awas: 200 } });
  expect(reg.status).toBe(201);
  const client = await mqtt.connectAsync(p.mqttUrl, { username: id, password: reg.body.token, clientId: `${id}-c`, reconnectPeriod: 0 });
  await client.publishAsync(`sensors/flood/${id}/telemetry`, JSON.stringify({ ts: Date.now(), waterLevel: 170 }), { qos: 1 });
  await client.endAsync();
  const alert = await eventually(async () => (await api(p, 'GET', `/api/v1/alerts?deviceId=${id}`)).body.items[0]);
  return alert.id as string;
}

const deliveries = async (p: PlatformProcess, alertId: string) => (await api(p, 'GET', `/api/v1/alerts/${alertId}/deliveries`)).body.deliveries as any[];

async function kill(p: PlatformProcess) {
  p.child.kill('SIGKILL');
  await p.exited;
}

describe('notifications survive a crash', () => {
  it('SIGKILL while one provider holds the request and another is unreachable: one message per channel after the restart', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pantau-nd-'));
    dirs.push(dataDir);
    const tgPort = await freePort();
    // the SMS gateway holds the first request (no answer: not accepted), answers the others; it counts a key once
    let hold = true;
    const accepted = new Map<string, number>();
    const keys: string[] = [];
    const gw = await serve(0, (req, _body, res) => {
      const key = String(req.headers['idempotency-key']);
      keys.push(key);
      if (hold) return;
      accepted.set(key, (accepted.get(key) ?? 0) + 1);
      res.writeHead(accepted.get(key) === 1 ? 200 : 409, { 'content-type': 'application/json' }).end('{"queued":true}');
    });
    const env = { PANTAU_TELEGRAM_API_URL: `http://127.0.0.1:${tgPort}` };
    const a = await spawn(dataDir, env);
    const sms = await api(a, 'POST', '/api/v1/channels', { name: 'SMS', type: 'http', config: { method: 'POST', url: `${gw}/sms`, headers: {}, body: '{"text":"{{text}}"}' } });
    const tg = await api(a, 'POST', '/api/v1/channels', { name: 'Posko', type: 'telegram', config: { botToken: BOT_TOKEN, chatId: -100 } });
    await api(a, 'POST', '/api/v1/notification-rules', { name: 'r', minSeverity: 'siaga', channels: [sms.body.id, tg.body.id] });
    const alertId = await siaga(a, 'smd-kill-1');
    // the gateway holds the request; Telegram was tried and could not be reached
    await eventually(() => keys.length >= 1);
    await eventually(async () => (await deliveries(a, alertId)).find((d) => d.channel.type === 'telegram' && d.attempts.length > 0));
    await new Promise((r) => setTimeout(r, 1200)); // the alert engine's snapshot is saved within a second
    await kill(a);
    expect(accepted.size).toBe(0);

    hold = false;
    const got: Array<{ chat: number; text: string }> = [];
    await botApi(tgPort, got);
    const b = await spawn(dataDir, env);
    await eventually(() => got.length >= 1 && accepted.size >= 1, 20_000);
    await eventually(async () => (await deliveries(b, alertId)).every((d) => d.status === 'sent'));
    await new Promise((r) => setTimeout(r, 2000));
    expect(got).toHaveLength(1);
    expect(got[0]!.text).toContain('Siaga');
    // the gateway: the held request and the resend carried one key, accepted once
    const ds = await deliveries(b, alertId);
    const smsRow = ds.find((d) => d.channel.type === 'http');
    expect(new Set(keys)).toEqual(new Set([smsRow.id]));
    expect([...accepted.values()]).toEqual([1]);
    expect(ds).toHaveLength(2);
  }, 120_000);

  it('a change stored but not yet planned when the process died is planned and sent once at the next start', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pantau-nd-'));
    dirs.push(dataDir);
    const tgPort = await freePort();
    const env = { PANTAU_TELEGRAM_API_URL: `http://127.0.0.1:${tgPort}` };
    const a = await spawn(dataDir, env);
    const tg = await api(a, 'POST', '/api/v1/channels', { name: 'Posko', type: 'telegram', config: { botToken: BOT_TOKEN, chatId: -200 } });
    await api(a, 'POST', '/api/v1/notification-rules', { name: 'r', minSeverity: 'siaga', channels: [tg.body.id] });
    const alertId = await siaga(a, 'smd-replay-1');
    await eventually(async () => (await deliveries(a, alertId)).length === 1);
    await new Promise((r) => setTimeout(r, 1200));
    await kill(a);
    // what the files hold after a crash between storing the change and planning it: the change, no row, the mark before it
    const db = new Database(join(dataDir, 'registry.sqlite'));
    const seq = (db.prepare("SELECT seq FROM alert_events WHERE json_extract(change, '$.alert.id') = ?").get(alertId) as { seq: number }).seq;
    db.prepare('DELETE FROM notify_outbox').run();
    db.prepare("UPDATE notify_meta SET value = ? WHERE key = 'planned-seq'").run(String(seq - 1));
    db.close();

    const got: Array<{ chat: number; text: string }> = [];
    await botApi(tgPort, got);
    const b = await spawn(dataDir, env);
    await eventually(() => got.length >= 1, 20_000);
    await new Promise((r) => setTimeout(r, 2000));
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ chat: -200 });
    expect((await deliveries(b, alertId)).map((d) => [d.reason, d.status])).toEqual([['opened', 'sent']]);
  }, 120_000);

  it('an escalation tier due 5 s after the change survives a SIGKILL and restart: sent once, not before its time', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pantau-nd-'));
    dirs.push(dataDir);
    const got: Array<{ chat: number; text: string; at?: number }> = [];
    const url = await botApi(0, got);
    const env = { PANTAU_TELEGRAM_API_URL: url };
    const a = await spawn(dataDir, env);
    const first = await api(a, 'POST', '/api/v1/channels', { name: 'Posko', type: 'telegram', config: { botToken: BOT_TOKEN, chatId: -301 } });
    const boss = await api(a, 'POST', '/api/v1/channels', { name: 'Kepala', type: 'telegram', config: { botToken: BOT_TOKEN, chatId: -302 } });
    await api(a, 'POST', '/api/v1/notification-rules', { name: 'r', minSeverity: 'siaga', channels: [first.body.id], escalation: [{ after: '5s', channels: [boss.body.id] }] });
    const alertId = await siaga(a, 'smd-tier-1');
    await eventually(() => got.length >= 1);
    const tier = (await deliveries(a, alertId)).find((d) => d.reason === 'tier');
    expect(tier).toMatchObject({ channel: { id: boss.body.id }, status: 'queued' });
    const dueAt = Date.parse(tier.nextAttemptAt);
    // 5 s after the change was planned: the reading's time, or a little later when planned after it arrived
    expect(dueAt - Date.parse(tier.changeAt)).toBeGreaterThanOrEqual(5000);
    expect(dueAt - Date.parse(tier.changeAt)).toBeLessThan(6000);
    await new Promise((r) => setTimeout(r, 1200));
    await kill(a);

    const b = await spawn(dataDir, env);
    await eventually(() => got.some((m) => m.chat === -302), 20_000);
    const when = Date.now();
    expect(when).toBeGreaterThanOrEqual(dueAt);
    await new Promise((r) => setTimeout(r, 2000));
    expect(got.map((m) => m.chat)).toEqual([-301, -302]);
    expect((await deliveries(b, alertId)).map((d) => [d.reason, d.status])).toEqual([['opened', 'sent'], ['tier', 'sent']]);
  }, 120_000);
});
