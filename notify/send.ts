// One message to one channel through its provider: SMTP (nodemailer), the Telegram Bot API's sendMessage (with an
// inline button to the acknowledgement link), the WhatsApp Cloud API's messages endpoint, or an HTTP request with
// `{{placeholders}}`.
// The answer is what the provider said (status and a body excerpt), scrubbed of the channel's secrets — the bot token
// is in Telegram's URL path, so an error that names the URL would otherwise carry it.
import nodemailer from 'nodemailer';
import { redactUrlsIn } from '../lib/redact.js';
import { scrub, secretsOf, type StoredChannel } from './channels.js';

export interface OutgoingMessage {
  text: string;
  /** The acknowledgement link; absent for test messages and digests. */
  ackUrl?: string;
  /** Words of the ack button in the rule's language. */
  ackLabel?: string;
  /**
   * Sent as Idempotency-Key to HTTP channels (an SMS gateway that honours it sends one SMS for retries) and as the
   * Message-ID of an email (a mail system that has seen it once may drop the copy). The outbox row's id.
   */
  idempotencyKey?: string;
}

export interface ProviderAnswer {
  ok: boolean;
  /** HTTP status (SMTP reply code for email); null when no answer came (timeout, refused connection). */
  status: number | null;
  /** First 500 characters of the answer, or the error. */
  body: string;
}

export interface ProviderUrls {
  telegram: string;
  whatsapp: string;
}

export const DEFAULT_PROVIDER_URLS: ProviderUrls = { telegram: 'https://api.telegram.org', whatsapp: 'https://graph.facebook.com/v20.0' };

const EXCERPT = 500;

/** `{{text}}`, `{{ackUrl}}`: percent-encoded in the URL, JSON-string-escaped (without quotes) in the body. */
function fill(template: string, values: Record<string, string>, encode: (s: string) => string): string {
  return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (m, name: string) => (name in values ? encode(values[name]!) : m));
}

export async function sendToChannel(channel: StoredChannel, message: OutgoingMessage, urls: ProviderUrls, timeoutMs = 10_000): Promise<ProviderAnswer> {
  const cfg = channel.config;
  if (channel.type === 'email') return sendMail(channel, message, timeoutMs);
  let url: string;
  let init: RequestInit;
  if (channel.type === 'telegram') {
    url = `${urls.telegram.replace(/\/$/, '')}/bot${String(cfg.botToken)}/sendMessage`;
    const body: Record<string, unknown> = { chat_id: cfg.chatId, text: message.text, link_preview_options: { is_disabled: true } };
    if (message.ackUrl) body.reply_markup = { inline_keyboard: [[{ text: message.ackLabel ?? 'Acknowledge', url: message.ackUrl }]] };
    init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  } else if (channel.type === 'whatsapp') {
    url = `${urls.whatsapp.replace(/\/$/, '')}/${String(cfg.phoneNumberId)}/messages`;
    const template = cfg.template as { name: string; language: string } | undefined;
    const text = message.ackUrl ? `${message.text}\n${message.ackLabel ?? 'Acknowledge'}: ${message.ackUrl}` : message.text;
    const body = template
      ? { messaging_product: 'whatsapp', recipient_type: 'individual', to: cfg.to, type: 'template', template: { name: template.name, language: { code: template.language }, components: [{ type: 'body', parameters: [{ type: 'text', text }] }] } }
      : { messaging_product: 'whatsapp', recipient_type: 'individual', to: cfg.to, type: 'text', text: { preview_url: false, body: text } };
    init = { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${String(cfg.accessToken)}` }, body: JSON.stringify(body) };
  } else {
    const values = { text: message.text, ackUrl: message.ackUrl ?? '' };
    url = fill(String(cfg.url), values, encodeURIComponent);
    const headers: Record<string, string> = { ...(cfg.headers as Record<string, string>) };
    if (message.idempotencyKey) headers['idempotency-key'] = message.idempotencyKey;
    const method = String(cfg.method);
    init = { method, headers, ...(method === 'GET' ? {} : { body: fill(String(cfg.body), values, (s) => JSON.stringify(s).slice(1, -1)) }) };
  }
  const secrets = secretsOf(channel);
  try {
    const res = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    const text = (await res.text()).slice(0, EXCERPT);
    let ok = res.ok;
    // the Bot API says so in the body too; a 200 with ok:false is a refusal
    if (ok && channel.type === 'telegram') ok = /"ok"\s*:\s*true/.test(text);
    return { ok, status: res.status, body: scrub(text, secrets) };
  } catch (err) {
    const e = err as Error & { cause?: { message?: string } };
    const detail = `${e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : e.message}${e.cause?.message ? ` (${e.cause.message})` : ''}`;
    return { ok: false, status: null, body: scrub(redactUrlsIn(detail), secrets).slice(0, EXCERPT) };
  }
}

/**
 * An email through the channel's SMTP server: subject = the message's first two lines (head and place), the text,
 * and the acknowledgement link on a line of its own. The answer is the server's reply ("250 …").
 */
async function sendMail(channel: StoredChannel, message: OutgoingMessage, timeoutMs: number): Promise<ProviderAnswer> {
  const cfg = channel.config as { smtpUrl: string; from: string; to: string[] };
  const secrets = secretsOf(channel);
  const transport = nodemailer.createTransport(cfg.smtpUrl, { connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs } as never);
  const lines = message.text.split('\n');
  const subject = lines.slice(0, 2).join(' — ').slice(0, 200);
  const text = message.ackUrl ? `${message.text}\n\n${message.ackLabel ?? 'Acknowledge'}: ${message.ackUrl}\n` : `${message.text}\n`;
  try {
    const info = await transport.sendMail({
      from: cfg.from,
      to: cfg.to,
      subject: `Pantau: ${subject}`,
      text,
      ...(message.idempotencyKey ? { messageId: `<${message.idempotencyKey}@pantau>` } : {}),
    });
    const reply = String(info.response ?? '');
    return { ok: true, status: Number(/^\d{3}/.exec(reply)?.[0] ?? 250), body: scrub(reply, secrets).slice(0, EXCERPT) };
  } catch (err) {
    const e = err as Error & { responseCode?: number; code?: string };
    const detail = `${e.code ? `${e.code}: ` : ''}${e.message}`;
    return { ok: false, status: e.responseCode ?? null, body: scrub(redactUrlsIn(detail), secrets).slice(0, EXCERPT) };
  } finally {
    transport.close();
  }
}
