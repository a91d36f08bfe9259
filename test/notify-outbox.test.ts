// The delivery outbox on a running platform (docs/notifications.md, "Sending"): a provider that answers 500 twice
// and then 200 gets exactly one message and every attempt shows in GET /alerts/{id}/deliveries; an email channel
// delivers real SMTP to a local `smtp-server` (subject, text, acknowledgement link) with its password masked in every
// answer and never logged; quiet hours hold a message and send it when they end (held, not dropped).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';

interface Received { at: number; headers: IncomingMessage['headers']; body: any }

/** A local HTTP endpoint (an SMS gateway); `answer` gives the status of the n-th request. */
async function gateway(answer: (n: number) => number) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      received.push({ at: Date.now(), headers: req.headers, body: raw ? JSON.parse(raw) : null });
      const status = answer(received.length);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(status < 300 ? { queued: true } : { error: 'gateway busy, try again' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const SMTP_PASSWORD = 'smtp-pass-secret-9876';

/** RFC 2047 encoded words and quoted-printable bodies, as nodemailer writes them. */
function decodeMime(raw: string): { subject: string; text: string } {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
  const subjectRaw = /^Subject: (.*)$/im.exec(head)?.[1] ?? '';
  const subject = subjectRaw.replace(/=\?utf-8\?([QB])\?([^?]*)\?=\s*/gi, (_m, enc: string, data: string) =>
    enc.toUpperCase() === 'B' ? Buffer.from(data, 'base64').toString('utf8') : qp(data.replace(/_/g, ' ')));
  let body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  if (/Content-Transfer-Encoding: quoted-printable/i.test(head)) body = qp(body.replace(/=\r\n/g, ''));
  else if (/Content-Transfer-Encoding: base64/i.test(head)) body = Buffer.from(body, 'base64').toString('utf8');
  return { subject, text: body };
}
function qp(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '=' && /^[0-9A-F]{2}$/i.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(s[i]!, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** HH:MM in WITA (UTC+8). */
const wita = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(11, 16);

describe('delivery outbox', () => {
  let tp: TestPlatform;
  let logs = '';
  const mails: Array<{ raw: string; from: string; to: string[] }> = [];
  let smtp: SMTPServer;
  let smtpPort = 0;

  beforeAll(async () => {
    smtp = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      onAuth(auth, _session, cb) {
        if (auth.username === 'pantau' && auth.password === SMTP_PASSWORD) cb(null, { user: 'pantau' });
        else cb(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
      },
      onData(stream, session, cb) {
        let raw = '';
        stream.on('data', (c: Buffer) => (raw += c.toString()));
        stream.on('end', () => {
          mails.push({ raw, from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address) });
          cb();
        });
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
    smtpPort = (smtp.server.address() as AddressInfo).port;
    const sink = new Writable({ write(chunk, _enc, cb) { logs += chunk.toString(); cb(); } });
    tp = await startTestPlatform({}, { logger: pino({ level: 'debug' }, sink) });
  }, 60_000);

  afterAll(async () => {
    await tp?.stop();
    await new Promise<void>((r) => smtp?.close(() => r()));
  });

  it('a provider answering 500 twice and then 200: one message, three attempts in /deliveries, scoped like the alert', async () => {
    const sms = await gateway((n) => (n <= 2 ? 500 : 200));
    try {
      const ch = await tp.api('POST', '/api/v1/channels', { body: { name: 'SMS Lurah', type: 'http', config: { method: 'POST', url: `${sms.url}/sms`, headers: {}, body: '{"text":"{{text}}"}' } } });
      await tp.api('POST', '/api/v1/notification-rules', { body: { name: 'retry', scope: { deviceIds: ['smd-retry-1'] }, minSeverity: 'siaga', channels: [ch.body.id] } });
      const gauge = await tp.register('flood', 'smd-retry-1', { name: 'Pos Retry', district: 'Sungai Pinang', thresholds: { waspada: 80, siaga: 150, awas: 200 } });
      const client = await tp.connect(gauge.id, gauge.token);
      await client.publishAsync(`sensors/flood/${gauge.id}/telemetry`, JSON.stringify({ ts: Date.now(), waterLevel: 170 }), { qos: 1 });
      await eventually(() => sms.received.length >= 3, 15_000);
      const [alert] = (await tp.api('GET', `/api/v1/alerts?deviceId=${gauge.id}`)).body.items;
      const res = await eventually(async () => {
        const r = await tp.api('GET', `/api/v1/alerts/${alert.id}/deliveries`);
        return r.body.deliveries?.[0]?.status === 'sent' ? r : undefined;
      });
      expect(res.status).toBe(200);
      expect(res.body.deliveries).toHaveLength(1);
      const d = res.body.deliveries[0];
      expect(d).toMatchObject({ channel: { id: ch.body.id, name: 'SMS Lurah', type: 'http' }, reason: 'opened', status: 'sent', nextAttemptAt: null });
      expect(new Date(d.changeAt).toISOString()).toBe(d.changeAt);
      expect(d.attempts.map((a: any) => [a.ok, a.status])).toEqual([[false, 500], [false, 500], [true, 200]]);
      expect(d.attempts[0].error).toContain('gateway busy');
      expect(d.attempts[2].error).toBeNull();
      expect(d.sentAt).toBe(d.attempts[2].at);
      // one message: the three requests were one delivery, each with the row's idempotency key
      expect(new Set(sms.received.map((r) => r.headers['idempotency-key']))).toEqual(new Set([d.id]));
      await new Promise((r) => setTimeout(r, 1500));
      expect(sms.received).toHaveLength(3);
      // scoped like the alert: a viewer of another city does not see it
      const key = await tp.api('POST', '/api/v1/keys', { body: { name: 'Balikpapan viewer', role: 'viewer', scope: { cities: ['Balikpapan'] } } });
      expect((await tp.api('GET', `/api/v1/alerts/${alert.id}/deliveries`, { key: key.body.key })).status).toBe(404);
      expect((await tp.api('GET', '/api/v1/alerts/a-does-not-exist/deliveries')).status).toBe(404);
      const metrics = await eventually(async () => {
        const text = await (await fetch(`${tp.platform.httpUrl}/metrics`)).text();
        return /pantau_notify_outbox\{status="sent"\} [1-9]/.test(text) ? text : undefined;
      });
      expect(metrics).toMatch(/pantau_notify_sends_total\{type="http",outcome="failed"\} 2/);
      await client.endAsync();
    } finally {
      await sms.close();
    }
  }, 40_000);

  it('an email channel: real SMTP to smtp-server with subject, text and the acknowledgement link; the password never shown or logged', async () => {
    const created = await tp.api('POST', '/api/v1/channels', {
      body: { name: 'Posko email', type: 'email', config: { smtpUrl: `smtp://pantau:${SMTP_PASSWORD}@127.0.0.1:${smtpPort}`, from: 'pantau@bpbd.example', to: ['piket@bpbd.example', 'kepala@bpbd.example'] } },
    });
    expect(created.status).toBe(201);
    expect(created.body.config.smtpUrl).toBe(`smtp://pantau:••••@127.0.0.1:${smtpPort}`);
    expect(created.text).not.toContain(SMTP_PASSWORD);
    expect((await tp.api('GET', '/api/v1/channels')).text).not.toContain(SMTP_PASSWORD);
    // bad input: not an SMTP URL, not an address
    expect((await tp.api('POST', '/api/v1/channels', { body: { name: 'x', type: 'email', config: { smtpUrl: 'http://mail', from: 'a@b.example', to: ['c@d.example'] } } })).status).toBe(400);
    expect((await tp.api('POST', '/api/v1/channels', { body: { name: 'x', type: 'email', config: { smtpUrl: 'smtp://mail', from: 'a@b.example', to: ['not an address'] } } })).status).toBe(400);

    const test = await tp.api('POST', `/api/v1/channels/${created.body.id}/test`);
    expect(test.body).toMatchObject({ ok: true, status: 250 });
    expect(mails).toHaveLength(1);

    const rule = await tp.api('POST', '/api/v1/notification-rules', { body: { name: 'mail', scope: { deviceIds: ['smd-mail-1'] }, minSeverity: 'siaga', channels: [created.body.id], language: 'en' } });
    expect(rule.status).toBe(201);
    const gauge = await tp.register('flood', 'smd-mail-1', { name: 'Pos Mahakam', district: 'Samarinda Ilir', thresholds: { waspada: 80, siaga: 150, awas: 200 } });
    const client = await tp.connect(gauge.id, gauge.token);
    await client.publishAsync(`sensors/flood/${gauge.id}/telemetry`, JSON.stringify({ ts: Date.now(), waterLevel: 175 }), { qos: 1 });
    await eventually(() => mails.length >= 2, 15_000);
    const mail = mails[1]!;
    expect(mail.from).toBe('pantau@bpbd.example');
    expect(mail.to).toEqual(['piket@bpbd.example', 'kepala@bpbd.example']);
    const { subject, text } = decodeMime(mail.raw);
    expect(subject).toBe('Pantau: ALERT · Warning — Pos Mahakam, Samarinda Ilir, Samarinda');
    expect(text).toContain('Value: 175 cm');
    const link = /Acknowledge: (\S+\/api\/v1\/ack\/\S+)/.exec(text)?.[1];
    expect(link).toBeDefined();
    const [alert] = (await tp.api('GET', `/api/v1/alerts?deviceId=${gauge.id}`)).body.items;
    const deliveries = (await tp.api('GET', `/api/v1/alerts/${alert.id}/deliveries`)).body.deliveries;
    expect(deliveries.map((d: any) => [d.channel.type, d.status, d.attempts[0].status])).toEqual([['email', 'sent', 250]]);
    // the Message-ID is the delivery's id: a mail system that saw it once may drop a resend
    expect(mail.raw).toContain(`Message-ID: <${deliveries[0].id}@pantau>`);
    // the link acknowledges in the channel's name
    const acked = await tp.api('POST', new URL(link!).pathname, { key: null });
    expect(acked.body).toMatchObject({ alertId: alert.id, acknowledged: true });

    // a wrong password: the server's refusal, the password nowhere
    const patched = await tp.api('PATCH', `/api/v1/channels/${created.body.id}`, { body: { config: { smtpUrl: `smtp://pantau:wrong-password-12345@127.0.0.1:${smtpPort}` } } });
    expect(patched.body.config.smtpUrl).toBe(`smtp://pantau:••••@127.0.0.1:${smtpPort}`);
    const refused = await tp.api('POST', `/api/v1/channels/${created.body.id}/test`);
    expect(refused.body).toMatchObject({ ok: false, status: 535 });
    expect(refused.text).not.toContain('wrong-password-12345');
    // sending the masked URL back keeps the stored password (host unchanged, password still the wrong one)
    await tp.api('PATCH', `/api/v1/channels/${created.body.id}`, { body: { config: { smtpUrl: `smtp://pantau:••••@127.0.0.1:${smtpPort}` } } });
    expect((await tp.api('POST', `/api/v1/channels/${created.body.id}/test`)).body.status).toBe(535);
    expect(logs).not.toContain(SMTP_PASSWORD);
    expect(logs).not.toContain('wrong-password-12345');
    await client.endAsync();
  }, 40_000);

  it('quiet hours hold a message and send it when they end', async () => {
    // a window of one minute starting now (WITA), entered with at least 15 s of it left
    if (Date.now() % 60_000 > 45_000) await new Promise((r) => setTimeout(r, 60_000 - (Date.now() % 60_000) + 200));
    const start = Date.now();
    const end = start - (start % 60_000) + 60_000;
    const sms = await gateway(() => 200);
    try {
      const ch = await tp.api('POST', '/api/v1/channels', { body: { name: 'SMS malam', type: 'http', config: { method: 'POST', url: `${sms.url}/sms`, headers: {}, body: '{"text":"{{text}}"}' } } });
      await tp.api('POST', '/api/v1/notification-rules', { body: { name: 'quiet', scope: { deviceIds: ['smd-quiet-1'] }, minSeverity: 'siaga', channels: [ch.body.id], quietHours: { from: wita(start), to: wita(end) } } });
      const gauge = await tp.register('flood', 'smd-quiet-1', { name: 'Pos Malam', district: 'Sungai Pinang', thresholds: { waspada: 80, siaga: 150, awas: 200 } });
      const client = await tp.connect(gauge.id, gauge.token);
      await client.publishAsync(`sensors/flood/${gauge.id}/telemetry`, JSON.stringify({ ts: Date.now(), waterLevel: 170 }), { qos: 1 });
      const alert = await eventually(async () => (await tp.api('GET', `/api/v1/alerts?deviceId=${gauge.id}`)).body.items[0]);
      const held = await eventually(async () => (await tp.api('GET', `/api/v1/alerts/${alert.id}/deliveries`)).body.deliveries[0]);
      expect(held).toMatchObject({ status: 'held', nextAttemptAt: new Date(end).toISOString(), attempts: [], sentAt: null });
      expect(sms.received).toHaveLength(0);
      await eventually(() => sms.received.length > 0, 75_000, 200);
      expect(sms.received[0]!.at).toBeGreaterThanOrEqual(end);
      expect(sms.received[0]!.body.text).toContain('Siaga');
      const sent = (await tp.api('GET', `/api/v1/alerts/${alert.id}/deliveries`)).body.deliveries[0];
      expect(sent.status).toBe('sent');
      await client.endAsync();
    } finally {
      await sms.close();
    }
  }, 120_000);
});
