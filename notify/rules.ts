// Notification rules (docs/notifications.md): which alerts go to which channels, in which language, when, and
// whom to tell next when nobody acknowledges. A rule belongs to the scope of the admin who made it (like channels);
// its own `scope` (cities, kinds, device ids) narrows which alerts it takes and must lie inside its owner's.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { KINDS } from '../catalog/index.js';
import { SEVERITIES } from '../alerts/rules.js';
import { normalizeScope, scopeWithin, type Scope } from '../registry/scope.js';

/** `15m`, `2s`, `1h`, `1d` as in the contract's durations (a bare number is not taken: a rule is read by people). */
const DurationSchema = z.string().regex(/^\d{1,6}(s|m|h|d)$/, 'must be a duration like 2s, 15m or 1h');
const Clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (WITA)');
const ChannelIds = z.array(z.string().min(1).max(64).regex(/^[A-Za-z0-9-]+$/, 'not a channel id')).min(1).max(20);

export function durationMs(v: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(v)!;
  return Number(m[1]) * ({ s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as Record<string, number>)[m[2]!]!;
}

export const RuleScopeSchema = z.strictObject({
  cities: z.array(z.string().trim().min(1).max(100)).max(100).optional(),
  kinds: z.array(z.enum(KINDS)).max(KINDS.length).optional(),
  deviceIds: z.array(z.string().min(1).max(64)).max(1000).optional(),
});

export const RuleInputSchema = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scope: RuleScopeSchema.default({}),
  minSeverity: z.enum(SEVERITIES),
  channels: ChannelIds,
  language: z.enum(['id', 'en']).default('id'),
  quietHours: z.strictObject({ from: Clock, to: Clock }).nullable().default(null),
  escalation: z.array(z.strictObject({ after: DurationSchema, channels: ChannelIds })).max(10).default([]),
});
export type RuleInput = z.infer<typeof RuleInputSchema>;

export const RulePatchSchema = RuleInputSchema.partial();

export const RuleSchema = RuleInputSchema.extend({
  id: z.string(),
  scope: z.object({ cities: z.array(z.string()), kinds: z.array(z.enum(KINDS)), deviceIds: z.array(z.string()) }),
  // a deleted channel leaves the lists, which may then be empty (such a rule tells no one until changed)
  channels: z.array(z.string()),
  escalation: z.array(z.object({ after: z.string(), channels: z.array(z.string()) })),
  owner: z.object({ cities: z.array(z.string()), kinds: z.array(z.enum(KINDS)) }),
  createdAt: z.string(),
}).meta({ id: 'NotificationRule' });

export interface StoredRule extends Omit<RuleInput, 'scope'> {
  id: string;
  scope: Scope & { deviceIds: string[] };
  /** The scope of the admin who made it: who sees and changes it. */
  owner: Scope;
  createdAt: number;
}

/** The rule's alert scope, normalized; throws a message when it is wider than the owner's. */
export function ruleScope(input: RuleInput['scope'], owner: Scope): (Scope & { deviceIds: string[] }) | string {
  const s = normalizeScope(input);
  // an empty list means all: inside a scoped owner it means all of the owner's
  const effective = { cities: s.cities.length ? s.cities : owner.cities, kinds: s.kinds.length ? s.kinds : owner.kinds };
  if (!scopeWithin(effective, owner)) return 'the rule\'s scope is wider than your own';
  return { ...effective, deviceIds: [...new Set(input.deviceIds ?? [])].sort() };
}

export function ruleForApi(r: StoredRule) {
  return {
    id: r.id, name: r.name, scope: r.scope, minSeverity: r.minSeverity, channels: r.channels, language: r.language,
    quietHours: r.quietHours, escalation: r.escalation, owner: { cities: r.owner.cities, kinds: r.owner.kinds }, createdAt: new Date(r.createdAt).toISOString(),
  };
}

/** Where rules are kept: the table `notify_rules` (NotifyStore in notify/store.ts). */
export interface RuleRows {
  listRules(): Promise<StoredRule[]>;
  getRule(id: string): Promise<StoredRule | undefined>;
  insertRule(r: StoredRule): Promise<void>;
  updateRule(r: StoredRule): Promise<void>;
  deleteRule(id: string): Promise<void>;
}

/** Rules in the registry's table `notify_rules` beside the channels (notify/channels.ts says what that means in a cluster). */
export class RuleStore {
  constructor(private readonly store: RuleRows) {}

  list(): Promise<StoredRule[]> {
    return this.store.listRules();
  }

  get(id: string): Promise<StoredRule | undefined> {
    return this.store.getRule(id);
  }

  async visible(scope: Scope): Promise<StoredRule[]> {
    return (await this.list()).filter((r) => scopeWithin(r.owner, scope));
  }

  async create(input: Omit<StoredRule, 'id' | 'createdAt'>): Promise<StoredRule> {
    const rule: StoredRule = { ...input, id: `nr-${randomUUID().slice(0, 12)}`, createdAt: Date.now() };
    await this.store.insertRule(rule);
    return rule;
  }

  update(rule: StoredRule): Promise<void> {
    return this.store.updateRule(rule);
  }

  remove(id: string): Promise<void> {
    return this.store.deleteRule(id);
  }
}
