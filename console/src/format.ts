// Times in WITA (Asia/Makassar, UTC+8), always with the zone written out; relative times, spans of time, sizes and
// numbers in the language's style.
import { lang, type Lang } from './i18n.js';

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

const LOCALES = { id: 'id-ID', en: 'en-GB' } as const;

/** The unit a span of time is said in: seconds under a minute, minutes under an hour, hours under a day, days. */
function unitOf(seconds: number): [number, Intl.RelativeTimeFormatUnit] {
  const s = Math.abs(seconds);
  if (s < 60) return [1, 'second'];
  if (s < 3600) return [60, 'minute'];
  if (s < 86_400) return [3600, 'hour'];
  return [86_400, 'day'];
}

/**
 * A time relative to now, in whole units (`seconds` < 0 is past): "3 detik yang lalu" / "3 seconds ago", "dalam
 * 12 detik" / "in 12 seconds", "sekarang" / "now". The plural is CLDR's (Intl.RelativeTimeFormat): "1 second ago",
 * and Indonesian, which has no plural, "1 detik yang lalu" as "3 detik yang lalu".
 */
export function relative(seconds: number, language: Lang = lang()): string {
  const [size, unit] = unitOf(seconds);
  // whole units toward zero: a heartbeat 119 s ago is "1 minute ago", not "2 minutes ago"
  const n = Math.trunc(seconds / size);
  // "now" for nothing, but never "yesterday" for 36 hours ago: numbers otherwise
  return new Intl.RelativeTimeFormat(LOCALES[language], { numeric: n === 0 ? 'auto' : 'always' }).format(n === 0 ? 0 : n, unit);
}

/** A span of time: "0 detik", "1 second", "3,1 menit" / "3.1 minutes" (one decimal from a minute on). */
export function duration(seconds: number, language: Lang = lang()): string {
  const [size, unit] = unitOf(seconds);
  const n = size === 1 ? Math.round(seconds) : Math.round((seconds / size) * 10) / 10;
  return new Intl.NumberFormat(LOCALES[language], { style: 'unit', unit, unitDisplay: 'long', maximumFractionDigits: 1 }).format(n);
}

/** A size in bytes: "0 B", "512 B", "1,8 MiB" / "1.8 MiB". */
export function bytes(n: number, language: Lang = lang()): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${new Intl.NumberFormat(LOCALES[language], { maximumFractionDigits: i === 0 ? 0 : 1 }).format(v)} ${units[i]}`;
}
