// Alert changes POSTed to PANTAU_WEBHOOK_URL, for city systems (sirens, SMS gateways, BPBD dispatch).
// Each delivery is signed: `X-Pantau-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` with
// `X-Pantau-Timestamp` (ms), so a receiver can check origin and reject replays. Failed deliveries are retried with
// exponential backoff and jitter, in order, up to `maxAttempts`; the queue is bounded and drops are logged.
// Redirects are not followed: the signed body goes to PANTAU_WEBHOOK_URL and nowhere else, so a receiver (or whoever
// took over its address) cannot send it on to another host; a 3xx is a failed delivery, retried like the others.
// The URL is logged redacted (a token in its query is a credential of the receiver).
// `Idempotency-Key` is a digest of the body: every attempt of a change, and a new alert owner's redelivery of a change
// its predecessor sent but had not recorded (alerts/owner-publish.ts), carry the same key, so a receiver that keeps the
// keys it has seen acts on each change once.
import { createHash, createHmac } from 'node:crypto';
import type { Logger } from 'pino';
import { redactUrl, redactUrlsIn } from '../lib/redact.js';

/** The key of one alert change's webhook: its body's SHA-256, base64url (bodies are byte for byte stable). */
export function idempotencyKey(body: string): string {
  return createHash('sha256').update(body).digest('base64url');
}

export interface WebhookOptions {
  url: string;
  secret: string;
  log: Logger;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxQueue?: number;
  timeoutMs?: number;
}

export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export class WebhookSender {
  private readonly queue: string[] = [];
  /** Completion callbacks by position in the stream of queued bodies (`shifted` bodies have left the queue). */
  private readonly callbacks = new Map<number, (delivered: boolean) => void>();
  private shifted = 0;
  private sending = false;
  private closed = false;
  private wake: (() => void) | null = null;
  delivered = 0;
  failed = 0;

  /** The URL as logs may show it. */
  private readonly shownUrl: string;

  constructor(private readonly options: WebhookOptions) {
    this.shownUrl = redactUrl(options.url)!;
  }

  /** Queue a delivery; `done` (if given) learns whether it was delivered (false: dropped, gave up or closed). */
  send(payload: unknown, done?: (delivered: boolean) => void): void {
    if (this.closed) return done?.(false);
    if (this.queue.length >= (this.options.maxQueue ?? 10_000)) {
      this.failed++;
      this.options.log.error({ url: this.shownUrl }, 'webhook queue full; an alert change was not delivered');
      return done?.(false);
    }
    this.queue.push(JSON.stringify(payload));
    if (done) this.callbacks.set(this.queue.length - 1 + this.shifted, done);
    if (!this.sending) void this.pump();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
  }

  private async pump(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const body = this.queue[0]!;
        const ok = await this.deliver(body);
        this.queue.shift();
        const done = this.callbacks.get(this.shifted);
        this.callbacks.delete(this.shifted++);
        if (ok) this.delivered++;
        else this.failed++;
        done?.(ok);
      }
    } finally {
      this.sending = false;
    }
  }

  private async deliver(body: string): Promise<boolean> {
    const { url, secret, log } = this.options;
    const shown = this.shownUrl;
    const maxAttempts = this.options.maxAttempts ?? 8;
    const base = this.options.baseDelayMs ?? 500;
    const key = idempotencyKey(body); // the same on every attempt
    for (let attempt = 1; attempt <= maxAttempts && !this.closed; attempt++) {
      const timestamp = String(Date.now());
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'pantau-webhook/1',
            'x-pantau-timestamp': timestamp,
            'x-pantau-signature': signature(secret, timestamp, body),
            'idempotency-key': key,
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 5000),
        });
        await res.body?.cancel();
        if (res.ok) return true;
        if (res.status >= 300 && res.status < 400) {
          const location = res.headers.get('location');
          log.warn({ url: shown, status: res.status, location: location === null ? undefined : redactUrl(URL.canParse(location, url) ? new URL(location, url).href : location), attempt },
            'webhook answered with a redirect, which is not followed (the signed alert goes only to PANTAU_WEBHOOK_URL; set it to the final address); retrying');
        } else log.warn({ url: shown, status: res.status, attempt }, 'webhook refused an alert change; retrying');
      } catch (err) {
        log.warn({ url: shown, err: redactUrlsIn((err as Error).message), attempt }, 'webhook unreachable; retrying');
      }
      const delay = Math.min(60_000, base * 2 ** (attempt - 1));
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay / 2 + Math.random() * (delay / 2));
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    log.error({ url: shown, attempts: maxAttempts }, 'webhook delivery abandoned after all retries');
    return false;
  }
}
