// What a notification says and whom it concerns: the pure parts of sending by rules, so that the words people act on,
// the rule match and the quiet hours are tested on their own (test/unit/notify-message.test.ts).
import type { Alert, AlertChangeType } from '../alerts/engine.js';
import { SEVERITY_RANK, type Severity } from '../alerts/rules.js';
import { GLOSSARY } from '../catalog/glossary.js';
import { ispuCategory } from '../catalog/index.js';
import type { DeviceRecord } from '../registry/registry.js';
import { scopeAllows } from '../registry/scope.js';
import type { StoredRule } from './rules.js';

/** WITA (UTC+8, no daylight saving): East Kalimantan's clock, in which quiet hours and message times are given. */
const WITA_OFFSET_MS = 8 * 3_600_000;

/** Minutes since midnight WITA. */
function witaMinutes(at: number): number {
  const d = new Date(at + WITA_OFFSET_MS);
  return d.getUTCHours() * 60 + d.getUTCMinutes();
}

/** `05 Des 2026 10.32 WITA` / `05 Dec 2026 10:32 WITA`. */
export function witaTime(at: number, language: 'id' | 'en'): string {
  const d = new Date(at + WITA_OFFSET_MS);
  const months = language === 'id'
    ? ['Jan', 'Feb', 'Mar', 'Apr', 'Mei', 'Jun', 'Jul', 'Agu', 'Sep', 'Okt', 'Nov', 'Des']
    : ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const hh = String(d.getUTCHours()).padStart(2, '0');
  const mm = String(d.getUTCMinutes()).padStart(2, '0');
  return `${String(d.getUTCDate()).padStart(2, '0')} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${hh}${language === 'id' ? '.' : ':'}${mm} WITA`;
}

/** True inside `from`–`to` (WITA); a window across midnight (22:00–06:00) is handled. */
export function inQuietHours(quiet: StoredRule['quietHours'], at: number): boolean {
  if (!quiet) return false;
  const toMin = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3));
  const now = witaMinutes(at);
  const from = toMin(quiet.from);
  const to = toMin(quiet.to);
  return from <= to ? now >= from && now < to : now >= from || now < to;
}

/**
 * When the quiet hours around `at` end: the next `to` (WITA) after `at`. Held messages are sent then — quiet hours
 * hold messages back, they never drop them.
 */
export function quietHoursEnd(quiet: NonNullable<StoredRule['quietHours']>, at: number): number {
  const to = Number(quiet.to.slice(0, 2)) * 60 + Number(quiet.to.slice(3));
  const minuteStart = at - ((at + WITA_OFFSET_MS) % 60_000);
  const ahead = (to - witaMinutes(at) + 1440) % 1440 || 1440;
  return minuteStart + ahead * 60_000;
}

/** What quiet hours do not hold back: awas, critical, and air at ISPU Sangat Tidak Sehat or Berbahaya (ISPU > 200). */
export function breaksQuietHours(alert: Pick<Alert, 'severity' | 'rule' | 'value'>): boolean {
  if (alert.severity === 'awas' || alert.severity === 'critical') return true;
  if (alert.rule.startsWith('ispu')) {
    const c = ispuCategory(alert.value);
    return c === 'Sangat Tidak Sehat' || c === 'Berbahaya';
  }
  return false;
}

/** True when the rule takes this alert: its device in the rule's scope and the severity at or above the minimum. */
export function ruleMatches(rule: StoredRule, alert: Pick<Alert, 'severity' | 'deviceId'>, device: Pick<DeviceRecord, 'id' | 'city' | 'kind'>): boolean {
  if (!scopeAllows(rule.scope, device)) return false;
  if (rule.scope.deviceIds.length > 0 && !rule.scope.deviceIds.includes(device.id)) return false;
  return SEVERITY_RANK[alert.severity] >= SEVERITY_RANK[rule.minSeverity as Severity];
}

const HEAD: Record<'id' | 'en', Partial<Record<AlertChangeType, string>>> = {
  id: { opened: 'PERINGATAN', escalated: 'NAIK', 'de-escalated': 'TURUN', resolved: 'SELESAI', acknowledged: 'DIAKUI' },
  en: { opened: 'ALERT', escalated: 'RISING', 'de-escalated': 'EASING', resolved: 'RESOLVED', acknowledged: 'ACKNOWLEDGED' },
};

export interface MessageInput {
  change: AlertChangeType;
  alert: Pick<Alert, 'id' | 'severity' | 'rule' | 'value' | 'kind'>;
  device: Pick<DeviceRecord, 'name' | 'district' | 'city'>;
  /** Field unit (cm, µg/m³ …); empty for indices. */
  unit: string;
  at: number;
  /** describeTrend's words, for river gauges. */
  trend?: string | null;
  consoleUrl: string;
  language: 'id' | 'en';
}

/**
 * The text of one notification: head and level word (the glossary's), place, value and unit, trend, time in WITA,
 * console link. Plain text, so every channel shows it as is.
 */
export function messageText(m: MessageInput): string {
  const level = GLOSSARY.alertSeverity[m.alert.severity][m.language];
  const place = `${m.device.name}, ${m.device.district}, ${m.device.city}`;
  const value = `${Math.round(m.alert.value * 10) / 10}${m.unit ? ` ${m.unit}` : ''}`;
  const lines = [
    `${HEAD[m.language][m.change] ?? m.change.toUpperCase()} · ${level}`,
    place,
    `${m.language === 'id' ? 'Nilai' : 'Value'}: ${value}${m.trend ? ` (${m.trend})` : ''}`,
    witaTime(m.at, m.language),
    `${m.consoleUrl.replace(/\/$/, '')}/#/alerts/${encodeURIComponent(m.alert.id)}`,
  ];
  return lines.join('\n');
}
