// Acknowledgement links in messages (docs/notifications.md, "Acknowledgement links"): `/api/v1/ack/<token>`, the
// token an HMAC-SHA256-signed `{alert, channel, expiry, nonce}`, so it cannot be forged or pointed at another
// alert; it expires (PANTAU_ACK_LINK_TTL) and works once (its hash is remembered until it would have expired).
// Key and used links live in the notification tables (`notify_meta`, notify/store.ts): one key for every node of a
// cluster — the alert owner signs, any node checks — and a link used through one node is used on all. The key is
// made by the first node to start (a key kept in the registry's state by an earlier release is adopted).
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Registry } from '../registry/registry.js';
import type { NotifyStore } from './store.js';

const LEGACY_SECRET_KEY = 'notify-ack-secret';
const SECRET = 'ack-secret';
const USED = 'ack-used:';

export type AckCheck = { ok: true; alertId: string; channelId: string } | { ok: false; reason: 'invalid' | 'expired' | 'used' };

export class AckLinks {
  private key: Buffer | undefined;
  private lastPrune = 0;

  constructor(private readonly store: NotifyStore, private readonly ttlMs: number, private readonly registry?: Pick<Registry, 'getState'>) {}

  /** The signing key, shared through the database (the first node's wins when several start together). */
  async load(): Promise<void> {
    const candidate = this.registry?.getState<string>(LEGACY_SECRET_KEY) ?? randomBytes(32).toString('base64url');
    await this.store.sql.run('INSERT INTO notify_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', [SECRET, candidate]);
    this.key = Buffer.from((await this.store.getMeta(SECRET))!, 'base64url');
  }

  private secret(): Buffer {
    if (!this.key) throw new Error('acknowledgement links: the key is not loaded (AckLinks.load)');
    return this.key;
  }

  sign(alertId: string, channelId: string, now = Date.now()): string {
    const payload = Buffer.from(JSON.stringify({ a: alertId, c: channelId, e: now + this.ttlMs, n: randomBytes(6).toString('base64url') })).toString('base64url');
    return `${payload}.${createHmac('sha256', this.secret()).update(payload).digest('base64url')}`;
  }

  async check(token: string, now = Date.now()): Promise<AckCheck> {
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
    if ((await this.store.getMeta(USED + hash(token))) !== undefined) return { ok: false, reason: 'used' };
    if (now > p.e) return { ok: false, reason: 'expired' };
    return { ok: true, alertId: p.a, channelId: p.c };
  }

  /** Marks the link used; false when it was used meanwhile (two clicks at once: one wins). */
  async consume(token: string, now = Date.now()): Promise<boolean> {
    if (now - this.lastPrune > 3_600_000) {
      this.lastPrune = now;
      const used = await this.store.sql.all<{ key: string; value: string }>(`SELECT key, value FROM notify_meta WHERE key LIKE '${USED}%'`);
      for (const u of used) if (Number(u.value) < now) await this.store.sql.run('DELETE FROM notify_meta WHERE key = ?', [u.key]);
    }
    const n = await this.store.sql.run('INSERT INTO notify_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING', [USED + hash(token), String(now + this.ttlMs)]);
    return n > 0;
  }
}

const hash = (token: string) => createHash('sha256').update(token).digest('base64url');
