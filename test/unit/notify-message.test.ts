// The pure parts of sending by rules: message text in both languages, the rule match, quiet hours in WITA.
import { describe, expect, it } from 'vitest';
import { breaksQuietHours, inQuietHours, messageText, ruleMatches, witaTime } from '../../notify/message.js';
import type { StoredRule } from '../../notify/rules.js';
import { describeTrend, riverTrend } from '../../catalog/trend.js';

// 2026-12-05 02:32 UTC = 10:32 WITA
const AT = Date.UTC(2026, 11, 5, 2, 32);
const GAUGE = { id: 'smd-karangmumus-1', name: 'Pos Karang Mumus', district: 'Sungai Pinang', city: 'Samarinda', kind: 'flood' as const };

const rule = (over: Partial<StoredRule> = {}): StoredRule => ({
  id: 'nr-1', name: 'r', scope: { cities: ['Samarinda'], kinds: ['flood'], deviceIds: [] }, owner: { cities: [], kinds: [] }, minSeverity: 'siaga',
  channels: ['ch-1'], language: 'id', quietHours: { from: '22:00', to: '06:00' }, escalation: [], createdAt: 0, ...over,
});

describe('notification message', () => {
  it('says place, the glossary\'s level word, value with unit, trend, WITA time and the console link', () => {
    const trend = describeTrend(riverTrend([122, 124, 126, 128, 130, 132, 134].map((cm, i) => ({ ts: AT - (6 - i) * 300_000, cm })), { waspada: 80, siaga: 150, awas: 200 }), 'id');
    const text = messageText({ change: 'opened', alert: { id: 'a-1', severity: 'waspada', rule: 'flood_level', value: 134, kind: 'flood' }, device: GAUGE, unit: 'cm', at: AT, trend, consoleUrl: 'https://pantau.example/', language: 'id' });
    expect(text).toBe([
      'PERINGATAN · Waspada',
      'Pos Karang Mumus, Sungai Pinang, Samarinda',
      'Nilai: 134 cm (naik 24 cm/jam, Siaga ±40 menit lagi)',
      '05 Des 2026 10.32 WITA',
      'https://pantau.example/#/alerts/a-1',
    ].join('\n'));
    const en = messageText({ change: 'resolved', alert: { id: 'a-1', severity: 'critical', rule: 'ispu', value: 312.4, kind: 'air' }, device: GAUGE, unit: '', at: AT, consoleUrl: 'https://pantau.example', language: 'en' });
    expect(en.split('\n')[0]).toBe('RESOLVED · Critical');
    expect(en).toContain('Value: 312.4\n05 Dec 2026 10:32 WITA');
  });

  it('WITA is UTC+8 across the date line', () => {
    expect(witaTime(Date.UTC(2026, 11, 31, 17, 5), 'en')).toBe('01 Jan 2027 01:05 WITA');
  });

  it('a rule takes alerts in its scope at or above its minimum severity', () => {
    expect(ruleMatches(rule(), { severity: 'siaga', deviceId: GAUGE.id }, GAUGE)).toBe(true);
    expect(ruleMatches(rule(), { severity: 'awas', deviceId: GAUGE.id }, GAUGE)).toBe(true);
    expect(ruleMatches(rule(), { severity: 'waspada', deviceId: GAUGE.id }, GAUGE)).toBe(false);
    expect(ruleMatches(rule(), { severity: 'awas', deviceId: 'x' }, { ...GAUGE, id: 'x', city: 'Balikpapan' })).toBe(false);
    expect(ruleMatches(rule({ scope: { cities: [], kinds: [], deviceIds: ['other'] } }), { severity: 'awas', deviceId: GAUGE.id }, GAUGE)).toBe(false);
  });

  it('quiet hours (WITA, across midnight) hold back all but awas, critical and ISPU Sangat Tidak Sehat / Berbahaya', () => {
    const q = { from: '22:00', to: '06:00' };
    expect(inQuietHours(q, Date.UTC(2026, 11, 5, 15, 0))).toBe(true); // 23:00 WITA
    expect(inQuietHours(q, Date.UTC(2026, 11, 5, 21, 59))).toBe(true); // 05:59 WITA
    expect(inQuietHours(q, Date.UTC(2026, 11, 5, 22, 0))).toBe(false); // 06:00 WITA
    expect(inQuietHours(q, AT)).toBe(false);
    expect(inQuietHours(null, Date.UTC(2026, 11, 5, 15, 0))).toBe(false);
    expect(inQuietHours({ from: '12:00', to: '13:00' }, Date.UTC(2026, 11, 5, 4, 30))).toBe(true);
    expect(breaksQuietHours({ severity: 'awas', rule: 'flood_level', value: 250 })).toBe(true);
    expect(breaksQuietHours({ severity: 'critical', rule: 'stuck', value: 1 })).toBe(true);
    expect(breaksQuietHours({ severity: 'siaga', rule: 'flood_level', value: 160 })).toBe(false);
    expect(breaksQuietHours({ severity: 'warning', rule: 'ispu', value: 250 })).toBe(true);
    expect(breaksQuietHours({ severity: 'warning', rule: 'ispu', value: 150 })).toBe(false);
  });
});
