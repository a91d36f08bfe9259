// Notification channels (issue "Round 3 · 2 of 6", docs/notifications.md): where alert messages leave the room —
// a mailbox (SMTP), a Telegram chat, a WhatsApp number, or any HTTP endpoint (SMS gateways) with `{{placeholders}}`.
//
// A channel belongs to the scope of the admin who made it: admins whose scope covers it see and change it, others
// do not know it exists (registry/scope.ts). Its secrets (bot token, access token, header values, a credential in the
// URL, the SMTP password) are stored and used but never shown again: every answer carries them masked, and provider
// errors are scrubbed of them before they are logged or stored.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { redactUrl } from '../lib/redact.js';
import { ScopeSchema, normalizeScope, scopeForApi, scopeWithin, type Scope } from '../registry/scope.js';

export const CHANNEL_TYPES = ['email', 'telegram', 'whatsapp', 'http'] as const;
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

const EmailAddress = z.email().max(320);
const EmailConfig = z.strictObject({
  smtpUrl: z.string().max(2000).regex(/^smtps?:\/\/[^\s]+$/, 'must be smtp://[user:password@]host[:port] or smtps://…').refine((v) => URL.canParse(v), 'not a URL'),
  from: EmailAddress,
  to: z.array(EmailAddress).min(1).max(50),
});

export const CONFIG_SCHEMAS = { email: EmailConfig, telegram: TelegramConfig, whatsapp: WhatsappConfig, http: HttpConfig } as const;

export const ChannelInputSchema = z.discriminatedUnion('type', [
  z.strictObject({ name: z.string().trim().min(1).max(100), type: z.literal('email'), config: EmailConfig, scope: ScopeSchema.optional() }),
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
  if (c.type === 'email') {
    const password = passwordOf(String(cfg.smtpUrl));
    if (password) out.push(password);
  }
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

/** The password of a URL's user information, decoded; undefined when it has none. */
function passwordOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.password ? decodeURIComponent(u.password) : undefined;
  } catch {
    return undefined;
  }
}

/** `smtp://pantau:••••@mail.example:587`: the user stays readable, the password does not. */
function maskUrlPassword(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    return `${u.protocol}//${u.username}:${MASK}@${u.host}${u.pathname === '/' ? '' : u.pathname}${u.search}`;
  } catch {
    return MASK;
  }
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
  if (c.type === 'email') cfg.smtpUrl = maskUrlPassword(String(cfg.smtpUrl));
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
    // the SMTP URL sent back with its password masked: the stored password stays (host or user may change)
    if (k === 'smtpUrl' && typeof v === 'string' && v.includes(MASK)) {
      const stored = passwordOf(String(c.config.smtpUrl));
      merged[k] = stored === undefined ? v : v.replace(MASK, encodeURIComponent(stored));
      continue;
    }
    merged[k] = v;
  }
  const parsed = CONFIG_SCHEMAS[c.type].safeParse(merged);
  return parsed.success ? (parsed.data as Record<string, unknown>) : parsed.error;
}

/** Where channels are kept: the table `notify_channels` (NotifyStore in notify/store.ts). */
export interface ChannelRows {
  listChannels(): Promise<StoredChannel[]>;
  getChannel(id: string): Promise<StoredChannel | undefined>;
  insertChannel(c: StoredChannel): Promise<void>;
  updateChannel(c: StoredChannel): Promise<void>;
  deleteChannel(id: string): Promise<void>;
}

/**
 * Channels in the registry's table `notify_channels` (notify/store.ts): SQLite on a single node, PostgreSQL shared by
 * every node of a cluster — each read asks the database, so a change through one node holds at once on all.
 */
export class ChannelStore {
  constructor(private readonly store: ChannelRows) {}

  list(): Promise<StoredChannel[]> {
    return this.store.listChannels();
  }

  get(id: string): Promise<StoredChannel | undefined> {
    return this.store.getChannel(id);
  }

  /** The channels a caller of this scope sees: those whose owner scope lies within its own. */
  async visible(scope: Scope): Promise<StoredChannel[]> {
    return (await this.list()).filter((c) => scopeWithin(c.scope, scope));
  }

  async create(input: z.infer<typeof ChannelInputSchema>, scope: Scope): Promise<StoredChannel> {
    const channel: StoredChannel = { id: `ch-${randomUUID().slice(0, 12)}`, name: input.name, type: input.type, config: input.config as Record<string, unknown>, scope: normalizeScope(scope), createdAt: Date.now() };
    await this.store.insertChannel(channel);
    return channel;
  }

  update(channel: StoredChannel): Promise<void> {
    return this.store.updateChannel(channel);
  }

  /** The channel goes, and with it its place in every rule and tier. */
  remove(id: string): Promise<void> {
    return this.store.deleteChannel(id);
  }
}
