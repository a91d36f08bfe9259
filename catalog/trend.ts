// The trend of a river gauge for notifications (issue "Round 3 · 2 of 6"): how fast the water rose or fell over the
// last 30 minutes, and — while it rises — about when it reaches the next threshold. A pure function of the readings
// so the words people act on ("naik 24 cm/jam, Siaga ±40 menit lagi") are tested on known series.
import type { FloodThresholds } from './index.js';

export const TREND_WINDOW_MS = 30 * 60_000;

/** Levels in the order the water reaches them. */
const LEVELS = ['waspada', 'siaga', 'awas'] as const;
type Level = (typeof LEVELS)[number];

export interface RiverTrend {
  /** cm per hour over the window (least squares; negative = falling); null with fewer than two readings. */
  rateCmPerHour: number | null;
  /** The next threshold above the last level and the minutes until the water reaches it at this rate; null when not rising or none above. */
  next: { level: Level; minutes: number } | null;
}

/**
 * Readings `{ts, cm}` in any order; only the last 30 min before the newest one count. The rate is the least-squares
 * slope, so one noisy reading does not swing it; a rate under 1 cm/h is taken as steady (a gauge's own noise).
 */
export function riverTrend(readings: ReadonlyArray<{ ts: number; cm: number }>, thresholds: FloodThresholds): RiverTrend {
  if (readings.length < 2) return { rateCmPerHour: null, next: null };
  const sorted = [...readings].sort((a, b) => a.ts - b.ts);
  const last = sorted[sorted.length - 1]!;
  const window = sorted.filter((r) => r.ts >= last.ts - TREND_WINDOW_MS);
  if (window.length < 2 || window[0]!.ts === last.ts) return { rateCmPerHour: null, next: null };
  const n = window.length;
  const mt = window.reduce((s, r) => s + r.ts, 0) / n;
  const mc = window.reduce((s, r) => s + r.cm, 0) / n;
  let num = 0;
  let den = 0;
  for (const r of window) {
    num += (r.ts - mt) * (r.cm - mc);
    den += (r.ts - mt) ** 2;
  }
  const rate = Math.round((num / den) * 3_600_000 * 10) / 10;
  if (rate < 1) return { rateCmPerHour: Math.abs(rate) < 1 ? 0 : rate, next: null };
  const level = LEVELS.find((l) => thresholds[l] !== undefined && thresholds[l]! > last.cm);
  if (!level) return { rateCmPerHour: rate, next: null };
  const minutes = Math.max(1, Math.round(((thresholds[level]! - last.cm) / rate) * 60));
  return { rateCmPerHour: rate, next: { level, minutes } };
}

const WORDS: Record<'id' | 'en', Record<Level, string>> = {
  id: { waspada: 'Waspada', siaga: 'Siaga', awas: 'Awas' },
  en: { waspada: 'Watch', siaga: 'Warning', awas: 'Danger' },
};

/** "naik 24 cm/jam, Siaga ±40 menit lagi" / "rising 24 cm/h, Warning in about 40 min"; null without a rate. */
export function describeTrend(trend: RiverTrend, language: 'id' | 'en'): string | null {
  const r = trend.rateCmPerHour;
  if (r === null) return null;
  const abs = Math.round(Math.abs(r));
  let text = language === 'id'
    ? (r > 0 ? `naik ${abs} cm/jam` : r < 0 ? `turun ${abs} cm/jam` : 'stabil')
    : (r > 0 ? `rising ${abs} cm/h` : r < 0 ? `falling ${abs} cm/h` : 'steady');
  if (trend.next) {
    const word = WORDS[language][trend.next.level];
    text += language === 'id' ? `, ${word} ±${trend.next.minutes} menit lagi` : `, ${word} in about ${trend.next.minutes} min`;
  }
  return text;
}
