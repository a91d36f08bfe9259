// Times in WITA (Asia/Makassar, UTC+8), always with the zone written out; numbers in the language's style.
import { lang } from './i18n.js';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(kind: 'full' | 'short'): Intl.DateTimeFormat {
  const key = `${lang()}:${kind}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(lang() === 'id' ? 'id-ID' : 'en-GB', {
      timeZone: 'Asia/Makassar',
      ...(kind === 'full' ? { day: 'numeric', month: 'short', year: 'numeric' } : {}),
      hour: '2-digit',
      minute: '2-digit',
      ...(kind === 'full' ? { second: '2-digit' } : {}),
      hourCycle: 'h23',
    });
    formatters.set(key, f);
  }
  return f;
}

/** "28 Nov 2026 14.05.09 WITA" */
export function time(iso: string | number | null | undefined): string {
  if (iso === null || iso === undefined) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : `${formatter('full').format(d)} WITA`;
}

/** "14.05" in WITA, for chart axes. */
export function clock(ms: number): string {
  return formatter('short').format(new Date(ms));
}

export function num(v: number | null | undefined, digits = 1): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return new Intl.NumberFormat(lang() === 'id' ? 'id-ID' : 'en-GB', { maximumFractionDigits: digits }).format(v);
}
