// What one alert change means for the outbox (docs/notifications.md, "Sending"): the pure part of sending by rules,
// so that it is tested on its own (test/unit/notify-plan.test.ts) and both backends (SQLite in one process, the
// alert owner's PostgreSQL transaction in a cluster) plan alike.
//
// - opened / escalated: every matching rule's channels get a row now (or, held by quiet hours, at their end), and
//   each escalation tier's channels one `after` the change (a `tier` row due then);
// - acknowledged: the tier rows not sent yet are cancelled;
// - de-escalated / resolved: the same, and every channel that was told (or is still to be told) of this alert gets
//   a `fell` / `resolved` row — held as long as that channel's first message is held, so the morning brings both.
// A row's key is (alert, change, channel): one message per channel and change, however many rules name it, and
// planning the same change again (a replay after a crash) adds nothing.
import { createHash } from 'node:crypto';
import type { AlertChange, AlertChangeType } from '../alerts/engine.js';
import type { DeviceRecord } from '../registry/registry.js';
import { breaksQuietHours, inQuietHours, quietHoursEnd, ruleMatches } from './message.js';
import { durationMs, type StoredRule } from './rules.js';

export const REASONS = ['opened', 'escalated', 'tier', 'fell', 'resolved'] as const;
export type Reason = (typeof REASONS)[number];
export const STATUSES = ['held', 'queued', 'sending', 'sent', 'failed', 'expired', 'cancelled'] as const;
export type DeliveryStatus = (typeof STATUSES)[number];

export interface PlannedRow {
  id: string;
  alertId: string;
  changeKey: string;
  channelId: string;
  ruleId: string | null;
  reason: Reason;
  changeAt: number;
  language: 'id' | 'en';
  /** The message text, fixed when planned (what the change said). */
  body: string;
  /** Carries an acknowledgement link (signed when sent). */
  ack: boolean;
  status: 'queued' | 'held';
  dueAt: number;
}

/** What the outbox already holds for the alert (the planner's memory of whom it told). */
export interface ExistingRow {
  channelId: string;
  reason: Reason;
  status: DeliveryStatus;
  language: 'id' | 'en';
  ruleId: string | null;
  dueAt: number;
}

export interface PlanInput {
  change: AlertChange;
  device: Pick<DeviceRecord, 'id' | 'city' | 'kind'> | undefined;
  rules: StoredRule[];
  /** Channels that exist (a rule may still name a deleted one for a moment). */
  channelIds: Set<string>;
  existing: ExistingRow[];
  /** The message text of this change in a language (`as` = the type the text is headed with). */
  text: (as: AlertChangeType, language: 'id' | 'en') => string;
  /**
   * When it is planned. Messages are due from the later of this and the change's time: a reading that arrives late
   * (a gauge back from a dead spot with its buffer) does not shorten the escalation delay or skip quiet hours.
   */
  now?: number;
}

export interface Plan {
  rows: PlannedRow[];
  /** Cancel the alert's tier rows not sent yet (acknowledged, fell, resolved). */
  cancelTiers: boolean;
}

/** The row id: a hash of its key, stable across replays and nodes — also the idempotency key sent to providers. */
export function rowId(alertId: string, changeKey: string, channelId: string): string {
  return `dl-${createHash('sha256').update(`${alertId}\u0000${changeKey}\u0000${channelId}`).digest('base64url').slice(0, 24)}`;
}

const PENDING_TIER: DeliveryStatus[] = ['queued', 'held', 'failed'];

export function planChange(input: PlanInput): Plan {
  const { change, device } = input;
  const a = change.alert;
  const start = Math.max(change.at, input.now ?? change.at);
  const rows = new Map<string, PlannedRow>();
  const add = (row: Omit<PlannedRow, 'id' | 'alertId' | 'changeAt'>) => {
    const id = rowId(a.id, row.changeKey, row.channelId);
    const had = rows.get(id);
    // two rules naming one channel: the earlier message wins
    if (!had || row.dueAt < had.dueAt) rows.set(id, { ...row, id, alertId: a.id, changeAt: change.at });
  };
  /** Held until the quiet hours of the rule end, unless the alert breaks them. */
  const timing = (rule: StoredRule, due: number): { status: 'queued' | 'held'; dueAt: number } =>
    inQuietHours(rule.quietHours, due) && !breaksQuietHours(a) ? { status: 'held', dueAt: quietHoursEnd(rule.quietHours!, due) } : { status: 'queued', dueAt: due };

  if (change.type === 'opened' || change.type === 'escalated') {
    if (!device) return { rows: [], cancelTiers: false };
    for (const rule of input.rules.filter((r) => ruleMatches(r, a, device))) {
      const now = timing(rule, start);
      for (const channelId of rule.channels.filter((c) => input.channelIds.has(c))) {
        add({ changeKey: `${change.type}@${change.at}`, channelId, ruleId: rule.id, reason: change.type, language: rule.language, body: input.text(change.type, rule.language), ack: true, ...now });
      }
      for (const tier of rule.escalation) {
        const t = timing(rule, start + durationMs(tier.after));
        for (const channelId of tier.channels.filter((c) => input.channelIds.has(c))) {
          add({ changeKey: `tier@${change.at}`, channelId, ruleId: rule.id, reason: 'tier', language: rule.language, body: input.text('escalated', rule.language), ack: true, ...t });
        }
      }
    }
    return { rows: [...rows.values()], cancelTiers: false };
  }
  if (change.type === 'acknowledged') return { rows: [], cancelTiers: true };

  // fell or resolved: those told hear so (tier rows about to be cancelled were never told)
  const told = new Map<string, { language: 'id' | 'en'; ruleId: string | null; heldUntil: number | null }>();
  for (const r of input.existing) {
    if (r.status === 'cancelled' || r.reason === 'fell' || r.reason === 'resolved') continue;
    if (r.reason === 'tier' && PENDING_TIER.includes(r.status)) continue;
    if (!input.channelIds.has(r.channelId)) continue;
    const t = told.get(r.channelId) ?? { language: r.language, ruleId: r.ruleId, heldUntil: null };
    if (r.status === 'held') t.heldUntil = Math.max(t.heldUntil ?? 0, r.dueAt);
    told.set(r.channelId, t);
  }
  const reason: Reason = change.type === 'resolved' ? 'resolved' : 'fell';
  for (const [channelId, t] of told) {
    add({
      changeKey: `${change.type}@${change.at}`, channelId, ruleId: t.ruleId, reason, language: t.language,
      body: input.text(change.type, t.language), ack: false,
      ...(t.heldUntil !== null ? { status: 'held' as const, dueAt: Math.max(start, t.heldUntil) } : { status: 'queued' as const, dueAt: start }),
    });
  }
  return { rows: [...rows.values()], cancelTiers: true };
}

/** Exponential backoff after `attempts` failed attempts: 1 s, 2 s, 4 s … at most 30 minutes. */
export function backoffMs(attempts: number, baseMs = 1000): number {
  return Math.min(1_800_000, baseMs * 2 ** Math.max(0, attempts - 1));
}
