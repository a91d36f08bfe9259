// The pure planning of the outbox (notify/plan.ts): which rows one alert change makes, when they are due, what an
// acknowledgement or the end cancels, and that planning a change again makes the same rows (the replay after a crash).
import { describe, expect, it } from 'vitest';
import type { Alert, AlertChange } from '../../alerts/engine.js';
import { quietHoursEnd } from '../../notify/message.js';
import { backoffMs, planChange, rowId, type ExistingRow, type PlanInput } from '../../notify/plan.js';
import type { StoredRule } from '../../notify/rules.js';

// 2026-12-05 02:32 UTC = 10:32 WITA; 15:30 UTC = 23:30 WITA
const DAY = Date.UTC(2026, 11, 5, 2, 32);
const NIGHT = Date.UTC(2026, 11, 5, 15, 30);
const GAUGE = { id: 'g-1', city: 'Samarinda', kind: 'flood' as const };

const rule = (over: Partial<StoredRule> = {}): StoredRule => ({
  id: 'nr-1', name: 'r', scope: { cities: [], kinds: [], deviceIds: [] }, owner: { cities: [], kinds: [] }, minSeverity: 'siaga',
  channels: ['ch-a', 'ch-b'], language: 'id', quietHours: null, escalation: [{ after: '15m', channels: ['ch-c'] }], createdAt: 0, ...over,
});
const alert = (over: Partial<Alert> = {}): Alert => ({
  id: 'a-1', deviceId: 'g-1', kind: 'flood', rule: 'flood_level', severity: 'siaga', state: 'open', value: 170, message: '', openedAt: DAY, acknowledgedAt: null, resolvedAt: null, ...over,
});
const input = (change: AlertChange, over: Partial<PlanInput> = {}): PlanInput => ({
  change, device: GAUGE, rules: [rule()], channelIds: new Set(['ch-a', 'ch-b', 'ch-c']), existing: [], text: (as, language) => `${as}/${language}`, ...over,
});

describe('outbox planning', () => {
  it('an opened alert: one row per channel now, the tier\'s channel after its delay; the same rows when planned again', () => {
    const change: AlertChange = { type: 'opened', at: DAY, alert: alert() };
    const plan = planChange(input(change));
    expect(plan.cancelTiers).toBe(false);
    expect(plan.rows.map((r) => [r.channelId, r.reason, r.status, r.dueAt - DAY, r.body, r.ack])).toEqual([
      ['ch-a', 'opened', 'queued', 0, 'opened/id', true],
      ['ch-b', 'opened', 'queued', 0, 'opened/id', true],
      ['ch-c', 'tier', 'queued', 15 * 60_000, 'escalated/id', true],
    ]);
    expect(plan.rows[0]!.id).toBe(rowId('a-1', `opened@${DAY}`, 'ch-a'));
    expect(planChange(input(change)).rows.map((r) => r.id)).toEqual(plan.rows.map((r) => r.id));
  });

  it('a reading that arrives late (a buffer uploaded after a dead spot): the tier delay counts from the planning, not the reading', () => {
    const change: AlertChange = { type: 'opened', at: DAY, alert: alert() };
    const later = DAY + 3_600_000;
    const plan = planChange(input(change, { now: later }));
    expect(plan.rows.map((r) => [r.channelId, r.reason, r.dueAt - later])).toEqual([
      ['ch-a', 'opened', 0],
      ['ch-b', 'opened', 0],
      ['ch-c', 'tier', 15 * 60_000],
    ]);
    // the same change keys as when planned in time: a replay does not add rows
    expect(plan.rows.map((r) => r.id)).toEqual(planChange(input(change)).rows.map((r) => r.id));
  });

  it('two rules naming one channel: one row; a rule below the severity or a deleted channel: none', () => {
    const change: AlertChange = { type: 'opened', at: DAY, alert: alert() };
    const plan = planChange(input(change, {
      rules: [rule({ escalation: [] }), rule({ id: 'nr-2', language: 'en', channels: ['ch-a', 'ch-gone'], escalation: [] }), rule({ id: 'nr-3', minSeverity: 'awas', channels: ['ch-c'] })],
    }));
    expect(plan.rows.map((r) => `${r.channelId}:${r.language}`)).toEqual(['ch-a:id', 'ch-b:id']);
  });

  it('quiet hours hold a siaga until they end (not dropped); awas breaks through', () => {
    const quiet = rule({ quietHours: { from: '22:00', to: '06:00' }, escalation: [] });
    const held = planChange(input({ type: 'opened', at: NIGHT, alert: alert() }, { rules: [quiet] }));
    // 06:00 WITA the next morning = 22:00 UTC
    expect(held.rows.map((r) => [r.status, new Date(r.dueAt).toISOString()])).toEqual([
      ['held', '2026-12-05T22:00:00.000Z'],
      ['held', '2026-12-05T22:00:00.000Z'],
    ]);
    const awas = planChange(input({ type: 'opened', at: NIGHT, alert: alert({ severity: 'awas' }) }, { rules: [quiet] }));
    expect(awas.rows.map((r) => [r.status, r.dueAt])).toEqual([['queued', NIGHT], ['queued', NIGHT]]);
  });

  it('a tier that falls into quiet hours waits for their end', () => {
    const q = rule({ quietHours: { from: '11:00', to: '12:00' }, escalation: [{ after: '45m', channels: ['ch-c'] }] });
    const rows = planChange(input({ type: 'opened', at: DAY, alert: alert() }, { rules: [q] })).rows;
    const tier = rows.find((r) => r.reason === 'tier')!;
    expect(tier.status).toBe('held');
    expect(new Date(tier.dueAt).toISOString()).toBe('2026-12-05T04:00:00.000Z');
  });

  it('an acknowledgement cancels tiers; the end tells every channel told (held ones after their first message)', () => {
    expect(planChange(input({ type: 'acknowledged', at: DAY + 1000, alert: alert({ state: 'acknowledged' }) }))).toEqual({ rows: [], cancelTiers: true });
    const existing: ExistingRow[] = [
      { channelId: 'ch-a', reason: 'opened', status: 'sent', language: 'id', ruleId: 'nr-1', dueAt: DAY },
      { channelId: 'ch-b', reason: 'opened', status: 'held', language: 'en', ruleId: 'nr-1', dueAt: DAY + 3_600_000 },
      // a tier not sent yet is cancelled with the end: its channel was never told
      { channelId: 'ch-c', reason: 'tier', status: 'queued', language: 'id', ruleId: 'nr-1', dueAt: DAY + 900_000 },
      { channelId: 'ch-d', reason: 'opened', status: 'cancelled', language: 'id', ruleId: 'nr-1', dueAt: DAY },
    ];
    const plan = planChange(input({ type: 'resolved', at: DAY + 60_000, alert: alert({ state: 'resolved' }) }, { existing, channelIds: new Set(['ch-a', 'ch-b', 'ch-c', 'ch-d']) }));
    expect(plan.cancelTiers).toBe(true);
    expect(plan.rows.map((r) => [r.channelId, r.reason, r.status, r.dueAt - DAY, r.body, r.ack])).toEqual([
      ['ch-a', 'resolved', 'queued', 60_000, 'resolved/id', false],
      ['ch-b', 'resolved', 'held', 3_600_000, 'resolved/en', false],
    ]);
    const fell = planChange(input({ type: 'de-escalated', at: DAY + 60_000, alert: alert({ severity: 'waspada' }) }, { existing }));
    expect(fell.rows.map((r) => r.reason)).toEqual(['fell', 'fell']);
  });

  it('quiet hours end at the next `to` in WITA; backoff doubles up to 30 minutes', () => {
    expect(new Date(quietHoursEnd({ from: '22:00', to: '06:00' }, NIGHT)).toISOString()).toBe('2026-12-05T22:00:00.000Z');
    // 10:32:40 WITA inside 10:32–10:33: ends at 10:33:00
    expect(quietHoursEnd({ from: '10:32', to: '10:33' }, DAY + 40_000)).toBe(DAY + 60_000);
    expect([1, 2, 3, 4].map((n) => backoffMs(n))).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffMs(40)).toBe(1_800_000);
  });
});
