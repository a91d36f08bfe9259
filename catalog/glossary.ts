// Pantau's glossary: the one place where every word a person reads for a code is chosen, in Indonesian (`id`, the
// default) and English (`en`). Dashboards, alert messages, the console and `docs/glossary.md` take their words from
// here, so one concept has one term and one term means one concept ("Peringatan" is an alert, nothing else).
//
// The object is plain data, keyed by the codes the API and InfluxDB use (`siaga`, `warning`, `never_seen`, `B` …):
//   GLOSSARY.floodLevel.siaga  → { id: 'Siaga', en: 'Warning' }
//   GLOSSARY.alertSeverity.warning → { id: 'Perhatian', en: 'Caution' }
// Keys and shapes are a contract for other programs (the console imports this file): add, never rename.
import type { FloodLevel, IspuCategory } from './codes.js';
import { CATALOG, type Kind } from './kinds.js';
import type { Los } from './traffic-los.js';

export interface Term {
  /** Bahasa Indonesia, the default language of every screen. */
  readonly id: string;
  /** English. */
  readonly en: string;
}

/** A term with a short explanation in both languages (shown in docs/glossary.md and as tooltips). */
export interface DefinedTerm extends Term {
  readonly note?: Term;
}

const FLOOD_LEVEL = {
  normal: { id: 'Normal', en: 'Normal', note: { id: 'di bawah ambang waspada', en: 'below the watch threshold' } },
  waspada: { id: 'Waspada', en: 'Watch', note: { id: 'ambang waspada tercapai', en: 'watch threshold reached' } },
  siaga: { id: 'Siaga', en: 'Warning', note: { id: 'ambang siaga tercapai', en: 'warning threshold reached' } },
  awas: { id: 'Awas', en: 'Danger', note: { id: 'ambang awas tercapai; bersiap mengungsi', en: 'danger threshold reached; prepare to evacuate' } },
} as const satisfies Record<FloodLevel, DefinedTerm>;

const ALERT_SEVERITY = {
  // Flood alerts carry the gauge's level: the same words as the levels themselves.
  waspada: FLOOD_LEVEL.waspada,
  siaga: FLOOD_LEVEL.siaga,
  awas: FLOOD_LEVEL.awas,
  warning: { id: 'Perhatian', en: 'Caution', note: { id: 'tingkat pertama aturan non-banjir', en: 'first grade of the non-flood rules' } },
  critical: { id: 'Kritis', en: 'Critical', note: { id: 'tingkat tertinggi aturan non-banjir', en: 'highest grade of the non-flood rules' } },
} as const satisfies Record<'waspada' | 'siaga' | 'awas' | 'warning' | 'critical', DefinedTerm>;

const ALERT_STATE = {
  open: { id: 'Terbuka', en: 'Open', note: { id: 'belum ditangani operator', en: 'not yet handled by an operator' } },
  acknowledged: { id: 'Diakui', en: 'Acknowledged', note: { id: 'operator sudah menanganinya', en: 'an operator has taken it on' } },
  resolved: { id: 'Selesai', en: 'Resolved', note: { id: 'kondisinya sudah berakhir', en: 'its condition has ended' } },
} as const satisfies Record<'open' | 'acknowledged' | 'resolved', DefinedTerm>;

const ISPU_CATEGORY = {
  Baik: { id: 'Baik', en: 'Good', note: { id: 'ISPU 0–50', en: 'ISPU 0–50' } },
  Sedang: { id: 'Sedang', en: 'Moderate', note: { id: 'ISPU 51–100', en: 'ISPU 51–100' } },
  'Tidak Sehat': { id: 'Tidak Sehat', en: 'Unhealthy', note: { id: 'ISPU 101–200', en: 'ISPU 101–200' } },
  'Sangat Tidak Sehat': { id: 'Sangat Tidak Sehat', en: 'Very unhealthy', note: { id: 'ISPU 201–300', en: 'ISPU 201–300' } },
  Berbahaya: { id: 'Berbahaya', en: 'Hazardous', note: { id: 'ISPU di atas 300', en: 'ISPU above 300' } },
} as const satisfies Record<IspuCategory, DefinedTerm>;

const LOS = {
  A: { id: 'Arus bebas', en: 'Free flow' },
  B: { id: 'Arus stabil', en: 'Stable flow' },
  C: { id: 'Stabil, mulai terbatas', en: 'Stable, restricted' },
  D: { id: 'Mendekati tidak stabil', en: 'Approaching unstable' },
  E: { id: 'Tidak stabil', en: 'Unstable' },
  F: { id: 'Macet', en: 'Forced flow' },
} as const satisfies Record<Los, DefinedTerm>;

const DEVICE_STATUS = {
  online: { id: 'Daring', en: 'Online' },
  offline: { id: 'Luring', en: 'Offline' },
  never_seen: { id: 'Belum pernah terhubung', en: 'Never seen' },
} as const satisfies Record<'online' | 'offline' | 'never_seen', DefinedTerm>;

const KIND = {
  air: CATALOG.air.label,
  flood: CATALOG.flood.label,
  traffic: CATALOG.traffic.label,
} as const satisfies Record<Kind, Term>;

/** Names of the concepts themselves (panel titles, column headers, menu entries). */
const CONCEPT = {
  alert: { id: 'Peringatan', en: 'Alert', note: { id: 'satu kejadian dari aturan peringatan', en: 'one occurrence of an alert rule' } },
  alertSeverity: { id: 'Tingkat peringatan', en: 'Alert severity' },
  alertState: { id: 'Status peringatan', en: 'Alert state' },
  acknowledge: { id: 'Akui', en: 'Acknowledge' },
  floodLevel: { id: 'Status banjir', en: 'Flood level', note: { id: 'Normal → Waspada → Siaga → Awas, menurut ambang pos pantau', en: "Normal → Watch → Warning → Danger, by the gauge's own thresholds" } },
  threshold: { id: 'Ambang batas', en: 'Threshold' },
  noThresholds: { id: 'Tanpa ambang batas', en: 'No thresholds', note: { id: 'status banjir tidak dapat dinilai', en: 'the flood level cannot be judged' } },
  ispu: { id: 'ISPU', en: 'Air pollution standard index (ISPU)', note: { id: 'Indeks Standar Pencemar Udara, Permen LHK P.14/2020', en: 'Indonesian air quality index, KLHK regulation P.14/2020' } },
  ispuCategory: { id: 'Kategori ISPU', en: 'ISPU category' },
  los: { id: 'Tingkat pelayanan jalan', en: 'Level of service', note: { id: 'A–F, dari arus 15 menit terakhir', en: 'A–F, from the last 15 minutes of traffic' } },
  device: { id: 'Perangkat', en: 'Device' },
  deviceStatus: { id: 'Status perangkat', en: 'Device status' },
  kind: { id: 'Jenis', en: 'Kind' },
  city: { id: 'Kota', en: 'City' },
  district: { id: 'Kecamatan', en: 'District' },
  reading: { id: 'Bacaan', en: 'Reading' },
  rejection: { id: 'Penolakan', en: 'Rejection' },
  summary: { id: 'Ringkasan', en: 'Summary' },
} as const satisfies Record<string, DefinedTerm>;

/** Every term Pantau shows, by concept and code. */
export const GLOSSARY = {
  floodLevel: FLOOD_LEVEL,
  alertSeverity: ALERT_SEVERITY,
  alertState: ALERT_STATE,
  ispuCategory: ISPU_CATEGORY,
  los: LOS,
  deviceStatus: DEVICE_STATUS,
  kind: KIND,
  concept: CONCEPT,
} as const;

export type GlossarySection = keyof typeof GLOSSARY;

/** Headings of the sections, for docs/glossary.md and any screen that lists them. */
export const GLOSSARY_SECTIONS: Readonly<Record<GlossarySection, Term>> = {
  concept: { id: 'Istilah umum', en: 'General terms' },
  floodLevel: CONCEPT.floodLevel,
  alertSeverity: CONCEPT.alertSeverity,
  alertState: CONCEPT.alertState,
  ispuCategory: CONCEPT.ispuCategory,
  los: CONCEPT.los,
  deviceStatus: CONCEPT.deviceStatus,
  kind: CONCEPT.kind,
};

/** "Siaga (warning)": the Indonesian term with the English in brackets (just "Normal" when both are the same). */
export function bilingual(term: Term): string {
  return term.id.toLowerCase() === term.en.toLowerCase() ? term.id : `${term.id} (${term.en.toLowerCase()})`;
}
