// Sending by the rules, on a single node (docs/notifications.md, "Sending"): an alert change that opens or raises
// an alert in a rule's scope at or above its minimum tells the rule's channels once; while it stays open (not
// acknowledged) each escalation tier's channels are told after the tier's delay; when it falls or resolves, the
// channels that were told hear so. Failed sends are retried with exponential backoff.
//
// This is not yet the durable outbox the issue asks for: what is being sent or waiting lives in this process, so a
// crash or restart loses it. In a cluster (an elected alert owner) it is not wired.
import type { Logger } from 'pino';
import type { AlertChange } from '../alerts/engine.js';
import { fieldSpec } from '../catalog/index.js';
import type { Registry } from '../registry/registry.js';
import type { AckLinks } from './ack.js';
import type { ChannelStore } from './channels.js';
import { breaksQuietHours, inQuietHours, messageText, ruleMatches } from './message.js';
import { durationMs, type RuleStore, type StoredRule } from './rules.js';
import { sendToChannel, type ProviderUrls } from './send.js';

export interface DispatcherOptions {
  registry: Pick<Registry, 'device'>;
  channels: ChannelStore;
  rules: RuleStore;
  providerUrls: ProviderUrls;
  consoleUrl: () => string;
  ackLinks?: AckLinks;
  log: Logger;
  counted?: (type: string, ok: boolean) => void;
  maxAttempts?: number;
  baseDelayMs?: number;
  /** Messages per channel per window (PANTAU_NOTIFY_MAX_PER_10M); the rest go out as one digest when it ends. */
  maxPerWindow?: number;
  windowMs?: number;
}

interface Followed {
  /** Channel id → language it was told in. */
  told: Map<string, 'id' | 'en'>;
  timers: NodeJS.Timeout[];
  /** Change and channel pairs already told (kept with the alert, forgotten when it resolves). */
  sent: Set<string>;
}

export class Dispatcher {
  private readonly followed = new Map<string, Followed>();
  private closed = false;

  constructor(private readonly options: DispatcherOptions) {}

  onChange(change: AlertChange): void {
    if (this.closed) return;
    const a = change.alert;
    const device = this.options.registry.device(a.deviceId);
    if (!device) return;
    const f: Followed = this.followed.get(a.id) ?? { told: new Map(), timers: [], sent: new Set() };
    this.followed.set(a.id, f);
    if (change.type === 'opened' || change.type === 'escalated') {
      const rules = this.options.rules.list().filter((r) => ruleMatches(r, a, device));
      for (const rule of rules) {
        if (inQuietHours(rule.quietHours, change.at) && !breaksQuietHours(a)) continue;
        this.tell(rule, rule.channels, change, f);
        for (const tier of rule.escalation) {
          const t = setTimeout(() => {
            if (this.closed) return;
            this.tell(rule, tier.channels, { ...change, type: 'escalated' }, f);
          }, durationMs(tier.after));
          t.unref();
          f.timers.push(t);
        }
      }
      return;
    }
    // acknowledged: the escalation stops; falling or resolved: those told hear so
    for (const t of f.timers) clearTimeout(t);
    f.timers = [];
    if (change.type === 'de-escalated' || change.type === 'resolved') {
      for (const [channelId, language] of f.told) this.send(channelId, language, change);
    }
    if (change.type === 'resolved') this.followed.delete(a.id);
  }

  close(): void {
    this.closed = true;
    for (const f of this.followed.values()) for (const t of f.timers) clearTimeout(t);
    for (const w of this.windows.values()) if (w.timer) clearTimeout(w.timer);
  }

  private tell(rule: StoredRule, channelIds: string[], change: AlertChange, f: Followed): void {
    for (const id of channelIds) {
      // one message per channel and change, however many rules name it
      const key = `${change.type}\u0000${change.alert.severity}\u0000${id}`;
      if (f.sent.has(key)) continue;
      f.sent.add(key);
      f.told.set(id, rule.language);
      this.send(id, rule.language, change);
    }
  }

  /** Per channel: times of the messages sent in the current window, and the texts held for its digest. */
  private readonly windows = new Map<string, { times: number[]; held: string[]; language: 'id' | 'en'; timer?: NodeJS.Timeout }>();

  /** True when the channel may get another message now; otherwise the text waits for the window's digest. */
  private admit(channelId: string, text: string, language: 'id' | 'en'): boolean {
    const max = this.options.maxPerWindow ?? 6;
    const windowMs = this.options.windowMs ?? 600_000;
    const now = Date.now();
    const w = this.windows.get(channelId) ?? { times: [], held: [], language };
    this.windows.set(channelId, w);
    w.times = w.times.filter((t) => t > now - windowMs);
    if (w.times.length < max && w.held.length === 0) {
      w.times.push(now);
      return true;
    }
    w.held.push(text);
    w.language = language;
    if (!w.timer) {
      w.timer = setTimeout(() => {
        w.timer = undefined;
        const held = w.held.splice(0);
        if (held.length === 0 || this.closed) return;
        w.times = [Date.now()];
        const head = w.language === 'id' ? `RINGKASAN: ${held.length} pesan ditahan (batas ${max} per 10 menit)` : `DIGEST: ${held.length} messages held back (limit ${max} per 10 minutes)`;
        this.deliver(channelId, `${head}\n\n${held.join('\n\n')}`, {}, `digest:${channelId}:${Date.now()}`);
      }, Math.max(0, (w.times[0] ?? now) + windowMs - now));
      w.timer.unref();
    }
    return false;
  }

  private send(channelId: string, language: 'id' | 'en', change: AlertChange): void {
    const channel = this.options.channels.get(channelId);
    const device = this.options.registry.device(change.alert.deviceId);
    if (!channel || !device) return;
    const field = change.alert.rule.includes(':') ? change.alert.rule.slice(change.alert.rule.indexOf(':') + 1) : change.alert.kind === 'flood' ? 'waterLevel' : undefined;
    const unit = field && change.alert.rule.startsWith('flood') ? fieldSpec(device.kind, field)?.unit ?? '' : '';
    const text = messageText({ change: change.type, alert: change.alert, device, unit, at: change.at, consoleUrl: this.options.consoleUrl(), language });
    // an open alert's message carries the link that acknowledges it in this channel's name
    const link = this.options.ackLinks && (change.type === 'opened' || change.type === 'escalated') ? this.options.ackLinks.sign(change.alert.id, channel.id) : undefined;
    const ack = link ? { ackUrl: `${this.options.consoleUrl().replace(/\/$/, '')}/api/v1/ack/${link}`, ackLabel: language === 'id' ? 'Akui' : 'Acknowledge' } : {};
    if (!this.admit(channel.id, text, language)) return;
    this.deliver(channel.id, text, ack, `${change.alert.id}:${change.type}:${change.at}:${channel.id}`);
  }

  private deliver(channelId: string, text: string, ack: { ackUrl?: string; ackLabel?: string }, idempotencyKey: string): void {
    const channel = this.options.channels.get(channelId);
    if (!channel) return;
    const max = this.options.maxAttempts ?? 8;
    const base = this.options.baseDelayMs ?? 1000;
    const attempt = async (n: number): Promise<void> => {
      if (this.closed) return;
      const answer = await sendToChannel(channel, { text, ...ack, idempotencyKey }, this.options.providerUrls);
      this.options.counted?.(channel.type, answer.ok);
      if (answer.ok) return;
      this.options.log.warn({ channel: channel.id, type: channel.type, status: answer.status, answer: answer.body, attempt: n }, 'notification not delivered; retrying');
      if (n >= max) return void this.options.log.error({ channel: channel.id, idempotencyKey }, 'notification abandoned after all retries');
      const t = setTimeout(() => void attempt(n + 1), Math.min(3_600_000, base * 2 ** (n - 1)));
      t.unref();
    };
    void attempt(1);
  }
}
