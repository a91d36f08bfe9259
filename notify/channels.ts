// Notification channels (issue "Round 3 · 2 of 6", docs/notifications.md): where alert messages leave the room —
// a Telegram chat, a WhatsApp number, or any HTTP endpoint (SMS gateways) with `{{placeholders}}`.
//
// A channel belongs to the scope of the admin who made it: admins whose scope covers it see and change it, others
// do not know it exists (registry/scope.ts). Its secrets (bot token, access token, header values, a credential in the
// URL) are stored and used but never shown again: every answer carries them masked, and provider errors are scrubbed
// of them before they are logged or stored. Email is not a channel type yet: it needs an SMTP client (nodemailer is
// not a dependency), and a half-made one would be worse than none.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { redactUrl } from '../lib/redact.js';
import type { Registry } from '../registry/registry.js';
import { ScopeSchema, normalizeScope, scopeForApi, scopeFromStored, scopeWithin, type Scope } from '../registry/scope.js';

export const CHANNEL_TYPES = ['telegram', 'whatsapp', 'http'] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

const secret = z.string().trim().min(1).max(500);
const TelegramConfig = z.strictObject({ botToken: secret, chatId: z.union([z.string().trim().min(1).max(100), z.number().int()]) });
const WhatsappConfig = z.strictObject({
  accessToken: secret,
  phoneNumberId: z.string().regex(/^[0-9]{1,30}$/, 'must be the numeric phone number id of the WhatsApp Business account'),
  to: z.string().regex(/^\+?[0-9]{6,20}$/, 'must be a phone number in international format, digits only'),
  template: z.strictObject({ name: z.string().min(1).max(512), language: z.string().min(2).max(15) }).optional(),
});
const HttpConfig = z.strictObject({
  method: z.enum(['GET', 'POST', 'PUT']),
  url: z.url({ protocol: /^https?$/ }).max(2000),
  headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'not a header name'), z.string().max(2000)).default({}),
  body: z.string().max(10_000).default(''),
});

export const CONFIG_SCHEMAS = { telegram: TelegramConfig, whatsapp: WhatsappConfig, http: HttpConfig } as const;

export const ChannelInputSchema = z.discriminatedUnion('type', [
  z.strictObject({ name: z.string().trim().min(1).max(100), type: z.literal('telegram'), config: TelegramConfig, scope: ScopeSchema.optional() }),
  z.strictObject({ name: z.string().trim().min(1).max(100), type: z.literal('whatsapp'), config: WhatsappConfig, scope: ScopeSchema.optional() }),
  z.strictObject({ name: z.string().trim().min(1).max(100), type: z.literal('http'), config: HttpConfig, scope: ScopeSchema.optional() }),
]);

export const ChannelPatchSchema = z.strictObject({
  name: z.string().trim().min(1).max(100).optional(),
  /** Fields to change; a secret left out (or sent back masked) keeps its stored value. */
  config: z.record(z.string(), z.unknown()).optional(),
});

export const ChannelSchema = z
  .object({ id: z.string(), name: z.string(), type: z.enum(CHANNEL_TYPES), config: z.record(z.string(), z.unknown()), scope: ScopeSchema.required(), createdAt: z.string() })
  .meta({ id: 'Channel', description: 'A notification channel; secrets masked (••••1234)' });

export interface StoredChannel {
  id: string;
  name: string;
  type: ChannelType;
  config: Record<string, unknown>;
  scope: Scope;
  createdAt: number;
}

const MASK = '••••';

/** `••••1234`: enough to tell two tokens apart, too little to use one. Short secrets show nothing. */
export function mask(value: string): string {
  return value.length >= 12 ? `${MASK}${value.slice(-4)}` : MASK;
}

const isMasked = (v: unknown) => typeof v === 'string' && v.startsWith(MASK);

/** Every secret value of a channel's config, to scrub from provider answers and errors. */
export function secretsOf(c: Pick<StoredChannel, 'type' | 'config'>): string[] {
  const cfg = c.config;
  const out: string[] = [];
  if (c.type === 'telegram') out.push(String(cfg.botToken));
  if (c.type === 'whatsapp') out.push(String(cfg.accessToken));
  if (c.type === 'http') {
    out.push(...Object.values(cfg.headers as Record<string, string>));
    try {
      const u = new URL(String(cfg.url));
      if (u.password) out.push(decodeURIComponent(u.password));
      for (const [k, v] of u.searchParams) if (redactUrl(`http://x/?${k}=1`)!.includes('redacted')) out.push(v);
    } catch {
      // validated on the way in
    }
  }
  return out.filter((s) => s.length >= 4);
}

/** Text with every secret of the channel replaced by the mask. */
export function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join(MASK);
  for (const s of secrets) out = out.split(encodeURIComponent(s)).join(MASK);
  return out;
}

/** A channel as answers show it: secrets masked, the URL without credentials. */
export function channelForApi(c: StoredChannel) {
  const cfg: Record<string, unknown> = { ...c.config };
  if (c.type === 'telegram') cfg.botToken = mask(String(cfg.botToken));
  if (c.type === 'whatsapp') cfg.accessToken = mask(String(cfg.accessToken));
  if (c.type === 'http') {
    cfg.url = redactUrl(String(cfg.url));
    cfg.headers = Object.fromEntries(Object.entries(cfg.headers as Record<string, string>).map(([k, v]) => [k, mask(v)]));
  }
  return { id: c.id, name: c.name, type: c.type, config: cfg, scope: scopeForApi(c.scope), createdAt: new Date(c.createdAt).toISOString() };
}

/** A patch merged over the stored config: masked or missing secrets keep their stored value; the result is validated again. */
export function mergeConfig(c: StoredChannel, patch: Record<string, unknown>): Record<string, unknown> | z.ZodError {
  const merged: Record<string, unknown> = { ...c.config };
  for (const [k, v] of Object.entries(patch)) {
    if (isMasked(v)) continue;
    if (k === 'headers' && v && typeof v === 'object' && !Array.isArray(v)) {
      const old = c.config.headers as Record<string, string>;
      merged.headers = Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([h, hv]) => [h, isMasked(hv) ? old[h] : hv]).filter(([, hv]) => hv !== undefined));
      continue;
    }
    if (k === 'url' && typeof v === 'string' && v.includes('redacted')) continue;
    merged[k] = v;
  }
  const parsed = CONFIG_SCHEMAS[c.type].safeParse(merged);
  return parsed.success ? (parsed.data as Record<string, unknown>) : parsed.error;
}

const STATE_KEY = 'notify-channels';

/**
 * Channels kept in the registry's state (SQLite on a single node; PostgreSQL's `state` table in a cluster, read at
 * start by each node), as one document: few channels, rarely changed.
 */
export class ChannelStore {
  constructor(private readonly registry: Pick<Registry, 'getState' | 'setState'>) {}

  list(): StoredChannel[] {
    const raw = this.registry.getState<Array<StoredChannel & { scope: unknown }>>(STATE_KEY) ?? [];
    return raw.map((c) => ({ ...c, scope: scopeFromStored(c.scope) }));
  }

  get(id: string): StoredChannel | undefined {
    return this.list().find((c) => c.id === id);
  }

  /** The channels a caller of this scope sees: those whose owner scope lies within its own. */
  visible(scope: Scope): StoredChannel[] {
    return this.list().filter((c) => scopeWithin(c.scope, scope));
  }

  create(input: z.infer<typeof ChannelInputSchema>, scope: Scope): StoredChannel {
    const channel: StoredChannel = { id: `ch-${randomUUID().slice(0, 12)}`, name: input.name, type: input.type, config: input.config as Record<string, unknown>, scope: normalizeScope(scope), createdAt: Date.now() };
    this.save([...this.list(), channel]);
    return channel;
  }

  update(channel: StoredChannel): void {
    this.save(this.list().map((c) => (c.id === channel.id ? channel : c)));
  }

  remove(id: string): void {
    this.save(this.list().filter((c) => c.id !== id));
  }

  private save(channels: StoredChannel[]): void {
    this.registry.setState(STATE_KEY, channels);
  }
}
