// CAP 1.2 (OASIS Common Alerting Protocol) messages of flood and air-quality alerts, for warning systems that take
// CAP (BMKG/BPBD aggregators, Google Public Alerts, sirens). Pure: built from an alert's stored events
// (alerts/store.ts `alert_events`) and its device, so the same change always yields the same identifier and the same
// bytes on every node and after every restart. The mapping and its reasons: docs/cap.md.
//
// Which changes are messages: opened → Alert; escalated and de-escalated → Update; resolved → Cancel. An
// acknowledgement is not: it tells operators someone is on it, and says nothing new to the public about the hazard.
import { GLOSSARY } from '../catalog/glossary.js';
import { ISPU_CATEGORIES, ispuCategory, type IspuCategory } from '../catalog/ispu.js';
import { regionOfCity } from '../catalog/regions.js';
import type { AlertChange } from './engine.js';
import { ruleFamily, type Severity } from './rules.js';
import type { StoredEvent } from './store.js';

/** The rule families that have CAP messages: hazards to the public, not the state of sensors or streets. */
export const CAP_FAMILIES = ['flood_level', 'ispu'] as const;
export type CapFamily = (typeof CAP_FAMILIES)[number];

/** Default radius (km) of a message's `circle` when the device's `capRadiusKm` is unset (catalog/thresholds.ts). */
export const CAP_DEFAULT_RADIUS_KM: Readonly<Record<CapFamily, number>> = { flood_level: 2, ispu: 5 };

/** How long a message stays in force after it is sent (`expires`); a later Update or Cancel supersedes it sooner. */
export const CAP_EXPIRES_MS = 24 * 3_600_000;

/** The `geocode` valueName of the Kemendagri region code (catalog/regions.ts). */
export const CAP_GEOCODE_NAME = 'KEMENDAGRI';

export type CapUrgency = 'Immediate' | 'Expected' | 'Future' | 'Past' | 'Unknown';
export type CapSeverity = 'Extreme' | 'Severe' | 'Moderate' | 'Minor' | 'Unknown';
export type CapCertainty = 'Observed' | 'Likely' | 'Possible' | 'Unlikely' | 'Unknown';

export interface CapGrade {
  urgency: CapUrgency;
  severity: CapSeverity;
  certainty: CapCertainty;
}

/**
 * Flood level → CAP grade. The level is measured at the gauge (Observed); how soon people must act rises with it:
 * Waspada is a watch (Future), Siaga a warning (Expected), Awas means prepare to evacuate now (Immediate).
 */
export const FLOOD_CAP: Readonly<Record<'waspada' | 'siaga' | 'awas', CapGrade>> = {
  waspada: { urgency: 'Future', severity: 'Moderate', certainty: 'Observed' },
  siaga: { urgency: 'Expected', severity: 'Severe', certainty: 'Observed' },
  awas: { urgency: 'Immediate', severity: 'Extreme', certainty: 'Observed' },
};

/**
 * ISPU category → CAP grade, by the alert's value (the engine's own warning/critical split is a setting; the
 * category is the regulation's). Only the categories an air alert can carry; below Tidak Sehat there is no alert.
 */
export const ISPU_CAP: Readonly<Record<IspuCategory, CapGrade>> = {
  Baik: { urgency: 'Past', severity: 'Minor', certainty: 'Observed' },
  Sedang: { urgency: 'Expected', severity: 'Minor', certainty: 'Observed' },
  'Tidak Sehat': { urgency: 'Expected', severity: 'Moderate', certainty: 'Observed' },
  'Sangat Tidak Sehat': { urgency: 'Immediate', severity: 'Severe', certainty: 'Observed' },
  Berbahaya: { urgency: 'Immediate', severity: 'Extreme', certainty: 'Observed' },
};

/** A Cancel: the hazard is over. */
export const CANCEL_CAP: CapGrade = { urgency: 'Past', severity: 'Minor', certainty: 'Observed' };

/** CAP `category` per family: "Met" covers floods in CAP 1.2 ("Meteorological (inc. flood)"); air is "Env". */
export const CAP_CATEGORY: Readonly<Record<CapFamily, string>> = { flood_level: 'Met', ispu: 'Env' };

/** What a message says of the device: the place. */
export interface CapDevice {
  name: string;
  district: string;
  city: string;
  lat: number;
  lon: number;
  thresholds?: object | null;
}

export interface CapContext {
  /** `sender` (PANTAU_CAP_SENDER). */
  sender: string;
  /** Base of the console's address (PANTAU_PUBLIC_URL, or the request's origin); the `web` link points into it. */
  baseUrl: string;
  /** The alert's device; undefined once it is deleted (the message then names the device id only). */
  device: CapDevice | undefined;
}

export interface CapMessage {
  identifier: string;
  alertId: string;
  deviceId: string;
  seq: number;
  msgType: 'Alert' | 'Update' | 'Cancel';
  /** `sent`, `YYYY-MM-DDThh:mm:ss+08:00`. */
  sent: string;
  sentMs: number;
  headline: { id: string; en: string };
  xml: string;
}

const MESSAGE_CHANGES = new Set<AlertChange['type']>(['opened', 'escalated', 'de-escalated', 'resolved']);

export function isCapRule(rule: string): boolean {
  return (CAP_FAMILIES as readonly string[]).includes(ruleFamily(rule));
}

/** A CAP `dateTime` in WITA: seconds precision and a numeric offset (CAP 1.2 forbids `Z` and fractions). */
export function witaTime(ms: number): string {
  const wita = new Date(Math.floor(ms / 1000) * 1000 + 8 * 3_600_000);
  return `${wita.toISOString().slice(0, 19)}+08:00`;
}

/** CAP 1.2 §3.2.1: identifier and sender carry no spaces, commas, `<` or `&`. */
export function capSafe(value: string): string {
  return value.replace(/[\s,<&]/g, '_');
}

export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** The alert id and event sequence an identifier names, or null when it is not one of ours. */
export function parseCapIdentifier(identifier: string): { alertId: string; seq: number } | null {
  const m = /\.([A-Za-z0-9-]{1,64})\.(\d{1,15})$/.exec(identifier);
  return m ? { alertId: m[1]!, seq: Number(m[2]) } : null;
}

function grade(change: AlertChange): CapGrade {
  const a = change.alert;
  if (change.type === 'resolved') return CANCEL_CAP;
  if (ruleFamily(a.rule) === 'flood_level') return FLOOD_CAP[a.severity as keyof typeof FLOOD_CAP] ?? FLOOD_CAP.waspada;
  return ISPU_CAP[ispuCategory(a.value)];
}

const round1 = (v: number) => Math.round(v * 10) / 10;

function radiusKm(family: CapFamily, device: CapDevice | undefined): number {
  const own = (device?.thresholds as { capRadiusKm?: unknown } | null | undefined)?.capRadiusKm;
  return typeof own === 'number' && own > 0 ? own : CAP_DEFAULT_RADIUS_KM[family];
}

interface Words {
  event: string;
  headline: string;
  description: string;
  instruction?: string;
}

/** Headline and description in the glossary's words, one language. */
function words(change: AlertChange, place: string, lang: 'id' | 'en'): Words {
  const a = change.alert;
  const v = round1(a.value);
  const resolved = GLOSSARY.alertState.resolved[lang];
  if (ruleFamily(a.rule) === 'flood_level') {
    const level = GLOSSARY.floodLevel[a.severity as 'waspada' | 'siaga' | 'awas'] ?? GLOSSARY.alertSeverity[a.severity as Severity];
    const levelWord = level[lang];
    const note = 'note' in level && level.note ? level.note[lang] : '';
    const event = lang === 'id' ? 'Banjir' : 'Flood';
    if (change.type === 'resolved') {
      return lang === 'id'
        ? { event, headline: `${resolved}: status banjir ${place}`, description: `Peringatan banjir di ${place} selesai; tinggi muka air terakhir ${v} cm.` }
        : { event, headline: `${resolved}: flood level at ${place}`, description: `The flood alert at ${place} has ended; last water level ${v} cm.` };
    }
    return lang === 'id'
      ? { event, headline: `${levelWord}: tinggi muka air ${v} cm, ${place}`, description: `Status banjir ${levelWord} (${note}): tinggi muka air ${v} cm di ${place}.` }
      : { event, headline: `${levelWord}: water level ${v} cm, ${place}`, description: `Flood level ${levelWord} (${note}): water level ${v} cm at ${place}.` };
  }
  const category = ispuCategory(a.value);
  const label = ISPU_CATEGORIES.find((c) => c.category === category)!.label[lang];
  const event = lang === 'id' ? 'Kualitas udara' : 'Air quality';
  if (change.type === 'resolved') {
    return lang === 'id'
      ? { event, headline: `${resolved}: kualitas udara ${place}`, description: `Peringatan kualitas udara di ${place} selesai; ISPU terakhir ${v} (${label}).` }
      : { event, headline: `${resolved}: air quality at ${place}`, description: `The air quality alert at ${place} has ended; last ISPU ${v} (${label.toLowerCase()}).` };
  }
  return lang === 'id'
    ? { event, headline: `Kualitas udara ${label} (ISPU ${v}), ${place}`, description: `Kualitas udara ${label}: ISPU ${v} di ${place} (rata-rata 24 jam).` }
    : { event, headline: `Air quality ${label.toLowerCase()} (ISPU ${v}), ${place}`, description: `Air quality ${label.toLowerCase()}: ISPU ${v} at ${place} (24-hour means).` };
}

const el = (name: string, value: string, indent: string) => `${indent}<${name}>${escapeXml(value)}</${name}>\n`;

/**
 * The CAP messages of one alert, oldest first: one per message-worthy change among `events` (the alert's stored
 * events, any order). Empty for an alert of a rule without CAP messages.
 */
export function capMessages(events: readonly StoredEvent[], ctx: CapContext): CapMessage[] {
  const sorted = [...events].sort((x, y) => x.seq - y.seq).filter((e) => MESSAGE_CHANGES.has(e.change.type) && isCapRule(e.change.alert.rule));
  const out: CapMessage[] = [];
  const sender = capSafe(ctx.sender);
  for (const { seq, change } of sorted) {
    const a = change.alert;
    const family = ruleFamily(a.rule) as CapFamily;
    const previous = out[out.length - 1];
    const msgType = change.type === 'resolved' ? 'Cancel' : previous ? 'Update' : 'Alert';
    const identifier = `${sender}.${capSafe(a.id)}.${seq}`;
    const sent = witaTime(change.at);
    const d = ctx.device;
    const place = d ? `${d.name}, ${d.district}, ${d.city}` : a.deviceId;
    const region = d ? regionOfCity(d.city) : undefined;
    const g = grade(change);
    const web = `${ctx.baseUrl}/alerts?alert=${encodeURIComponent(a.id)}`;
    const id = words(change, place, 'id');
    const en = words(change, place, 'en');
    const info = (lang: string, w: Words) =>
      '  <info>\n' +
      el('language', lang, '    ') +
      el('category', CAP_CATEGORY[family], '    ') +
      el('event', w.event, '    ') +
      el('urgency', g.urgency, '    ') +
      el('severity', g.severity, '    ') +
      el('certainty', g.certainty, '    ') +
      el('effective', sent, '    ') +
      el('expires', witaTime(change.at + CAP_EXPIRES_MS), '    ') +
      el('senderName', 'Pantau', '    ') +
      el('headline', w.headline, '    ') +
      el('description', w.description, '    ') +
      el('web', web, '    ') +
      '    <parameter>\n' +
      el('valueName', family === 'flood_level' ? 'waterLevelCm' : 'ispu', '      ') +
      el('value', String(round1(a.value)), '      ') +
      '    </parameter>\n' +
      '    <area>\n' +
      el('areaDesc', place, '      ') +
      (d ? el('circle', `${d.lat},${d.lon} ${radiusKm(family, d)}`, '      ') : '') +
      (region
        ? '      <geocode>\n' + el('valueName', CAP_GEOCODE_NAME, '        ') + el('value', region.code, '        ') + '      </geocode>\n'
        : '') +
      '    </area>\n' +
      '  </info>\n';
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">\n' +
      el('identifier', identifier, '  ') +
      el('sender', sender, '  ') +
      el('sent', sent, '  ') +
      el('status', 'Actual', '  ') +
      el('msgType', msgType, '  ') +
      el('scope', 'Public', '  ') +
      (previous ? el('references', `${sender},${previous.identifier},${previous.sent}`, '  ') : '') +
      el('incidents', `${sender}.${capSafe(a.id)}`, '  ') +
      info('id-ID', id) +
      info('en-US', en) +
      '</alert>\n';
    out.push({ identifier, alertId: a.id, deviceId: a.deviceId, seq, msgType, sent, sentMs: change.at, headline: { id: id.headline, en: en.headline }, xml });
  }
  return out;
}
