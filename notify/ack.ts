// Acknowledgement links in messages (docs/notifications.md, "Acknowledgement links"): `/api/v1/ack/<token>`, the
// token an HMAC-SHA256-signed `{alert, channel, expiry, nonce}`, so it cannot be forged or pointed at another
// alert; it expires (PANTAU_ACK_LINK_TTL) and works once (its hash is remembered until it would have expired).
// The signing key is made on first use and kept in the registry's state: links survive a restart.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Registry } from '../registry/registry.js';

const SECRET_KEY = 'notify-ack-secret';
const USED_KEY = 'notify-ack-used';

export type AckCheck = { ok: true; alertId: string; channelId: string } | { ok: false; reason: 'invalid' | 'expired' | 'used' };

export class AckLinks {
  constructor(private readonly registry: Pick<Registry, 'getState' | 'setState'>, private readonly ttlMs: number) {}

  private secret(): Buffer {
    let s = this.registry.getState<string>(SECRET_KEY);
    if (!s) {
      s = randomBytes(32).toString('base64url');
      this.registry.setState(SECRET_KEY, s);
    }
    return Buffer.from(s, 'base64url');
  }

  sign(alertId: string, channelId: string, now = Date.now()): string {
    const payload = Buffer.from(JSON.stringify({ a: alertId, c: channelId, e: now + this.ttlMs, n: randomBytes(6).toString('base64url') })).toString('base64url');
    return `${payload}.${createHmac('sha256', this.secret()).update(payload).digest('base64url')}`;
  }

  check(token: string, now = Date.now()): AckCheck {
    const [payload, mac] = token.split('.');
    if (!payload || !mac) return { ok: false, reason: 'invalid' };
    const expected = createHmac('sha256', this.secret()).update(payload).digest();
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'invalid' };
    let p: { a?: unknown; c?: unknown; e?: unknown };
    try {
      p = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return { ok: false, reason: 'invalid' };
    }
    if (typeof p.a !== 'string' || typeof p.c !== 'string' || typeof p.e !== 'number') return { ok: false, reason: 'invalid' };
    if (this.used()[hash(token)] !== undefined) return { ok: false, reason: 'used' };
    if (now > p.e) return { ok: false, reason: 'expired' };
    return { ok: true, alertId: p.a, channelId: p.c };
  }

  /** Marks the link used (expired entries are dropped on the way). */
  consume(token: string, now = Date.now()): void {
    const used = Object.fromEntries(Object.entries(this.used()).filter(([, until]) => until > now));
    used[hash(token)] = now + this.ttlMs;
    this.registry.setState(USED_KEY, used);
  }

  private used(): Record<string, number> {
    return this.registry.getState<Record<string, number>>(USED_KEY) ?? {};
  }
}

const hash = (token: string) => createHash('sha256').update(token).digest('base64url');
