// Notification channels (issue "Round 3 · 2 of 6") against local servers that answer as the Telegram Bot API and
// the WhatsApp Cloud API document it: a test message reaches them in the providers' request shapes, the answer
// says what the provider said, secrets are masked in every answer (the creating one too) and kept through a PATCH
// that sends them back masked, bad input is a 400 problem, and a scoped admin neither sees nor changes a channel
// outside its scope.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';

interface Received { path: string; headers: IncomingMessage['headers']; body: any }

/** A local HTTP server; `answer` decides status and body per request. */
async function provider(answer: (r: Received) => { status: number; body: unknown }) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const r = { path: req.url ?? '', headers: req.headers, body: raw ? JSON.parse(raw) : null };
      received.push(r);
      const a = answer(r);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const BOT_TOKEN = '7123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';
const WA_TOKEN = 'EAAJB3pQ0zCkBO0secretaccesstoken9876';

describe('notification channels', () => {
  let tp: TestPlatform;
  let telegram: Awaited<ReturnType<typeof provider>>;
  let whatsapp: Awaited<ReturnType<typeof provider>>;
  let waStatus = 200;

  beforeAll(async () => {
    // Bot API sendMessage: {"ok":true,"result":<Message>}; an unknown chat: {"ok":false,"error_code":400,…}
    telegram = await provider((r) => (r.body?.chat_id === -1001234567890
      ? { status: 200, body: { ok: true, result: { message_id: 42, from: { id: 7123456789, is_bot: true, first_name: 'Pantau', username: 'pantau_bot' }, chat: { id: -1001234567890, title: 'BPBD Samarinda', type: 'supergroup' }, date: 1764902400, text: r.body.text } } }
      : { status: 400, body: { ok: false, error_code: 400, description: 'Bad Request: chat not found' } }));
    // Cloud API messages: {"messaging_product":"whatsapp","contacts":[…],"messages":[{"id":"wamid…"}]}
    whatsapp = await provider((r) => (waStatus === 200
      ? { status: 200, body: { messaging_product: 'whatsapp', contacts: [{ input: r.body.to, wa_id: String(r.body.to).replace('+', '') }], messages: [{ id: 'wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA' }] } }
      : { status: 500, body: { error: { message: 'An unknown error has occurred.', type: 'OAuthException', code: 1, fbtrace_id: 'Az8or2yhqkZfEZ-_4Qn_Bam' } } }));
    tp = await startTestPlatform({ PANTAU_TELEGRAM_API_URL: telegram.url, PANTAU_WHATSAPP_API_URL: whatsapp.url });
  }, 60_000);

  afterAll(async () => {
    await tp?.stop();
    await telegram?.close();
    await whatsapp?.close();
  });

  it('a Telegram channel: created with its token masked, a test message reaches sendMessage, the provider\'s answer comes back', async () => {
    const created = await tp.api('POST', '/api/v1/channels', { body: { name: 'BPBD Samarinda', type: 'telegram', config: { botToken: BOT_TOKEN, chatId: -1001234567890 } } });
    expect(created.status).toBe(201);
    expect(created.body.config).toEqual({ botToken: '••••Dsaw', chatId: -1001234567890 });
    expect(created.text).not.toContain(BOT_TOKEN);
    const listed = await tp.api('GET', '/api/v1/channels');
    expect(listed.text).not.toContain(BOT_TOKEN);
    expect(listed.body.items.map((c: any) => c.id)).toContain(created.body.id);

    const test = await tp.api('POST', `/api/v1/channels/${created.body.id}/test`);
    expect(test.status).toBe(200);
    expect(test.body).toMatchObject({ ok: true, status: 200 });
    expect(JSON.parse(test.body.body)).toMatchObject({ ok: true, result: { message_id: 42 } });
    const got = telegram.received.at(-1)!;
    expect(got.path).toBe(`/bot${BOT_TOKEN}/sendMessage`);
    expect(got.body).toMatchObject({ chat_id: -1001234567890 });
    expect(got.body.text).toContain('BPBD Samarinda');

    // a PATCH that sends the masked token back keeps the stored one; a new chat id is used
    const patched = await tp.api('PATCH', `/api/v1/channels/${created.body.id}`, { body: { config: { botToken: '••••Dsaw', chatId: -1009 } } });
    expect(patched.status).toBe(200);
    expect(patched.body.config).toEqual({ botToken: '••••Dsaw', chatId: -1009 });
    const refused = await tp.api('POST', `/api/v1/channels/${created.body.id}/test`);
    expect(refused.body).toMatchObject({ ok: false, status: 400 });
    expect(refused.body.body).toContain('chat not found');
    expect(telegram.received.at(-1)!.path).toBe(`/bot${BOT_TOKEN}/sendMessage`);

    const metrics = await (await fetch(`${tp.platform.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/pantau_notify_sends_total\{type="telegram",outcome="sent"\} 1/);
    expect(metrics).toMatch(/pantau_notify_sends_total\{type="telegram",outcome="failed"\} 1/);
  });

  it('a WhatsApp channel: Cloud API messages with the bearer token; a 500 is reported as the provider said it', async () => {
    const created = await tp.api('POST', '/api/v1/channels', { body: { name: 'Lurah Sempaja', type: 'whatsapp', config: { accessToken: WA_TOKEN, phoneNumberId: '106540352242922', to: '+6281234567890' } } });
    expect(created.status).toBe(201);
    expect(created.body.config.accessToken).toBe('••••9876');
    waStatus = 200;
    const ok = await tp.api('POST', `/api/v1/channels/${created.body.id}/test`);
    expect(ok.body).toMatchObject({ ok: true, status: 200 });
    expect(ok.body.body).toContain('wamid.');
    const got = whatsapp.received.at(-1)!;
    expect(got.path).toBe('/106540352242922/messages');
    expect(got.headers.authorization).toBe(`Bearer ${WA_TOKEN}`);
    expect(got.body).toMatchObject({ messaging_product: 'whatsapp', to: '+6281234567890', type: 'text' });
    waStatus = 500;
    const failed = await tp.api('POST', `/api/v1/channels/${created.body.id}/test`);
    expect(failed.body).toMatchObject({ ok: false, status: 500 });
    expect(failed.body.body).toContain('OAuthException');
  });

  it('an HTTP channel: header values masked, the URL\'s credential hidden; placeholders filled', async () => {
    const sms = await provider(() => ({ status: 202, body: { queued: true } }));
    try {
      const created = await tp.api('POST', '/api/v1/channels', {
        body: { name: 'SMS gateway', type: 'http', config: { method: 'POST', url: `${sms.url}/send?apikey=s3cr3t-gateway-key`, headers: { 'X-Api-Key': 'header-secret-value-1234' }, body: '{"to":"+628111","message":"{{text}}"}' } },
      });
      expect(created.status).toBe(201);
      expect(created.text).not.toContain('s3cr3t-gateway-key');
      expect(created.text).not.toContain('header-secret-value-1234');
      const test = await tp.api('POST', `/api/v1/channels/${created.body.id}/test`);
      expect(test.body).toMatchObject({ ok: true, status: 202 });
      expect(sms.received[0]!.headers['x-api-key']).toBe('header-secret-value-1234');
      expect(sms.received[0]!.body.message).toContain('SMS gateway');
    } finally {
      await sms.close();
    }
  });

  it('bad input is a 400 problem, never a 5xx', async () => {
    for (const body of [
      { name: 'x', type: 'pager', config: {} },
      { name: 'x', type: 'telegram', config: { chatId: 1 } },
      { name: 'x', type: 'whatsapp', config: { accessToken: 'abc', phoneNumberId: 'not-a-number', to: '+62811' } },
      { name: 'x', type: 'http', config: { method: 'POST', url: 'ftp://example.org' } },
    ]) {
      const res = await tp.api('POST', '/api/v1/channels', { body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    const list = await tp.api('GET', '/api/v1/channels');
    const id = list.body.items[0].id;
    const bad = await tp.api('PATCH', `/api/v1/channels/${id}`, { body: { config: { chatId: { nested: true } } } });
    expect(bad.status).toBe(400);
  });

  it('a scoped admin sees, tests and changes only the channels of its scope', async () => {
    const key = await tp.api('POST', '/api/v1/keys', { body: { name: 'Samarinda flood admin', role: 'admin', scope: { cities: ['Samarinda'], kinds: ['flood'] } } });
    const scoped = key.body.key as string;
    const own = await tp.api('POST', '/api/v1/channels', { key: scoped, body: { name: 'Posko Samarinda', type: 'telegram', config: { botToken: BOT_TOKEN, chatId: -1001234567890 } } });
    expect(own.status).toBe(201);
    expect(own.body.scope).toEqual({ cities: ['Samarinda'], kinds: ['flood'] });
    const wider = await tp.api('POST', '/api/v1/channels', { key: scoped, body: { name: 'Balikpapan', scope: { cities: ['Balikpapan'] }, type: 'telegram', config: { botToken: BOT_TOKEN, chatId: 1 } } });
    expect(wider.status).toBe(403);
    const seen = await tp.api('GET', '/api/v1/channels', { key: scoped });
    expect(seen.body.items.map((c: any) => c.id)).toEqual([own.body.id]);
    const all = await tp.api('GET', '/api/v1/channels');
    const other = all.body.items.find((c: any) => c.id !== own.body.id).id;
    for (const [method, path, body] of [['GET', `/api/v1/channels/${other}`], ['PATCH', `/api/v1/channels/${other}`, { name: 'taken' }], ['DELETE', `/api/v1/channels/${other}`], ['POST', `/api/v1/channels/${other}/test`]] as const) {
      const res = await tp.api(method, path, { key: scoped, ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    expect((await tp.api('GET', `/api/v1/channels/${other}`)).status).toBe(200);

    // rules: scope inside the owner's, channels the caller sees, durations as in the contract
    const rule = await tp.api('POST', '/api/v1/notification-rules', { key: scoped, body: { name: 'Banjir Samarinda', minSeverity: 'siaga', channels: [own.body.id], quietHours: { from: '22:00', to: '06:00' }, escalation: [{ after: '15m', channels: [own.body.id] }] } });
    expect(rule.status).toBe(201);
    expect(rule.body).toMatchObject({ scope: { cities: ['Samarinda'], kinds: ['flood'], deviceIds: [] }, language: 'id', minSeverity: 'siaga' });
    expect((await tp.api('POST', '/api/v1/notification-rules', { key: scoped, body: { name: 'x', minSeverity: 'siaga', channels: [other] } })).status).toBe(400);
    expect((await tp.api('POST', '/api/v1/notification-rules', { key: scoped, body: { name: 'x', scope: { cities: ['Balikpapan'] }, minSeverity: 'siaga', channels: [own.body.id] } })).status).toBe(403);
    expect((await tp.api('POST', '/api/v1/notification-rules', { key: scoped, body: { name: 'x', minSeverity: 'siaga', channels: [own.body.id], escalation: [{ after: 'soon', channels: [own.body.id] }] } })).status).toBe(400);
    expect((await tp.api('PATCH', `/api/v1/notification-rules/${rule.body.id}`, { key: scoped, body: { quietHours: { from: '25:00', to: '06:00' } } })).status).toBe(400);
    const patched = await tp.api('PATCH', `/api/v1/notification-rules/${rule.body.id}`, { key: scoped, body: { language: 'en' } });
    expect(patched.body.language).toBe('en');
    const wideRule = await tp.api('POST', '/api/v1/notification-rules', { body: { name: 'Province', minSeverity: 'awas', channels: [other] } });
    expect(wideRule.status).toBe(201);
    expect((await tp.api('GET', '/api/v1/notification-rules', { key: scoped })).body.items.map((r: any) => r.id)).toEqual([rule.body.id]);
    expect((await tp.api('GET', `/api/v1/notification-rules/${wideRule.body.id}`, { key: scoped })).status).toBe(404);
    expect((await tp.api('DELETE', `/api/v1/notification-rules/${wideRule.body.id}`, { key: scoped })).status).toBe(404);

    // a deleted channel leaves the rules that named it
    expect((await tp.api('DELETE', `/api/v1/channels/${own.body.id}`, { key: scoped })).status).toBe(204);
    expect((await tp.api('GET', `/api/v1/notification-rules/${rule.body.id}`)).body).toMatchObject({ channels: [], escalation: [] });
  });

  it('sending by rules: an opened alert tells the rule\'s channels once; a 500 then 200 delivers one message; the tier after 2s', async () => {
    let smsCalls = 0;
    const sms = await provider(() => (++smsCalls === 1 ? { status: 500, body: { error: 'busy' } } : { status: 200, body: { queued: true } }));
    try {
      const tg = await tp.api('POST', '/api/v1/channels', { body: { name: 'Posko Karang Mumus', type: 'telegram', config: { botToken: BOT_TOKEN, chatId: -1001234567890 } } });
      const http = await tp.api('POST', '/api/v1/channels', { body: { name: 'SMS Lurah', type: 'http', config: { method: 'POST', url: `${sms.url}/sms`, headers: {}, body: '{"text":"{{text}}"}' } } });
      waStatus = 200;
      const wa = await tp.api('POST', '/api/v1/channels', { body: { name: 'Kepala BPBD', type: 'whatsapp', config: { accessToken: WA_TOKEN, phoneNumberId: '106540352242922', to: '+6281200000001' } } });
      const rule = await tp.api('POST', '/api/v1/notification-rules', {
        body: { name: 'Karang Mumus', scope: { deviceIds: ['smd-km-1'] }, minSeverity: 'waspada', channels: [tg.body.id, http.body.id], language: 'id', escalation: [{ after: '2s', channels: [wa.body.id] }] },
      });
      expect(rule.status).toBe(201);
      const gauge = await tp.register('flood', 'smd-km-1', { name: 'Pos Karang Mumus', district: 'Sungai Pinang', thresholds: { waspada: 80, siaga: 150, awas: 200 } });
      const client = await tp.connect(gauge.id, gauge.token);
      const tgBefore = telegram.received.length;
      const waBefore = whatsapp.received.length;
      const opened = Date.now();
      await client.publishAsync(`sensors/flood/${gauge.id}/telemetry`, JSON.stringify({ ts: Date.now(), waterLevel: 170, rainfall: 5 }), { qos: 1 });
      await eventually(() => telegram.received.length > tgBefore);
      const msg = telegram.received.at(-1)!.body.text as string;
      expect(msg).toContain('Siaga');
      expect(msg).toContain('Pos Karang Mumus, Sungai Pinang, Samarinda');
      expect(msg).toContain('170 cm');
      expect(msg).toMatch(/WITA/);
      // the SMS gateway refused the first attempt: one message arrives after the retry
      await eventually(() => smsCalls >= 2, 10_000);
      // the escalation tier after 2 s (nobody acknowledged)
      await eventually(() => whatsapp.received.length > waBefore, 10_000);
      expect(Date.now() - opened).toBeGreaterThanOrEqual(2000);
      expect(whatsapp.received.at(-1)!.body.text.body).toContain('Siaga');
      await new Promise((r) => setTimeout(r, 1500));
      expect(telegram.received.length).toBe(tgBefore + 1);
      expect(smsCalls).toBe(2);
      expect(whatsapp.received.length).toBe(waBefore + 1);

      // the acknowledgement link of the Telegram button: a GET only shows the confirm page, a POST acknowledges once
      const button = telegram.received[tgBefore]!.body.reply_markup.inline_keyboard[0][0];
      expect(button.text).toBe('Akui');
      const linkPath = new URL(button.url).pathname;
      const page = await tp.api('GET', linkPath, { key: null });
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(page.text).toContain('<form method="post">');
      const [alert] = (await tp.api('GET', `/api/v1/alerts?deviceId=${gauge.id}&state=open`)).body.items;
      expect(alert.severity).toBe('siaga');
      const acked = await tp.api('POST', linkPath, { key: null });
      expect(acked.status).toBe(200);
      expect(acked.body).toEqual({ alertId: alert.id, acknowledged: true, by: `channel:${tg.body.id} (Posko Karang Mumus)` });
      expect((await tp.api('GET', `/api/v1/alerts?deviceId=${gauge.id}`)).body.items[0].state).toBe('acknowledged');
      const again = await tp.api('POST', linkPath, { key: null });
      expect(again.status).toBe(410);
      expect(again.body.type).toContain('link-used');
      expect((await tp.api('GET', linkPath, { key: null })).status).toBe(410);
      const forged = await tp.api('POST', `${linkPath.slice(0, -3)}AAA`, { key: null });
      expect(forged.status).toBe(400);
      const audit = (await tp.api('GET', '/api/v1/audit?limit=50')).body.items;
      expect(audit.some((e: any) => e.action === 'alert.acknowledged' && e.actor === `channel:${tg.body.id} (Posko Karang Mumus)`)).toBe(true);
      await client.endAsync();
    } finally {
      await sms.close();
    }
  }, 30_000);
});
