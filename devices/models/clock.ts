// Time as the simulated sensors see it: East Kalimantan runs on WITA (UTC+8, no daylight saving).

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
export const WITA_OFFSET_MS = 8 * HOUR_MS;

export interface WitaTime {
  /** Fractional hour of the day, 0 ≤ hour < 24. */
  hour: number;
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
  /** Calendar year in WITA. */
  year: number;
  /** 1 = January … 12 = December. */
  month: number;
  /** Fractional month position, 0 = 1 January, 12 = end of December (for smooth seasonal curves). */
  monthPosition: number;
  /** Days since the epoch, counted at WITA midnight. */
  dayIndex: number;
}

export function wita(t: number): WitaTime {
  const local = t + WITA_OFFSET_MS;
  const d = new Date(local);
  const hour = d.getUTCHours() + d.getUTCMinutes() / 60 + d.getUTCSeconds() / 3600;
  const month = d.getUTCMonth() + 1;
  const daysInMonth = new Date(Date.UTC(d.getUTCFullYear(), month, 0)).getUTCDate();
  return {
    hour,
    weekday: d.getUTCDay(),
    year: d.getUTCFullYear(),
    month,
    monthPosition: month - 1 + (d.getUTCDate() - 1 + hour / 24) / daysInMonth,
    dayIndex: Math.floor(local / DAY_MS),
  };
}

/** The epoch milliseconds of a WITA wall-clock time, e.g. `witaTime(2025, 9, 15, 8)` = 15 Sept 2025 08:00 WITA. */
export function witaTime(year: number, month: number, day: number, hour = 0, minute = 0): number {
  return Date.UTC(year, month - 1, day, hour, minute) - WITA_OFFSET_MS;
}

const WEEKDAYS_ID = ['Min', 'Sen', 'Sel', 'Rab', 'Kam', 'Jum', 'Sab'];

/** "Sen 14 Apr 08:05 WITA" — for the progress line. */
export function formatWita(t: number): string {
  const d = new Date(t + WITA_OFFSET_MS);
  const month = d.toLocaleString('en-GB', { month: 'short', timeZone: 'UTC' });
  const hh = String(d.getUTCHours()).padStart(2, '0');
  const mm = String(d.getUTCMinutes()).padStart(2, '0');
  return `${WEEKDAYS_ID[d.getUTCDay()]} ${d.getUTCDate()} ${month} ${hh}:${mm} WITA`;
}

/**
 * Interpolate a 24-point hourly profile at a fractional hour, smoothly (cosine) and wrapping at midnight.
 */
export function hourlyProfile(profile: readonly number[], hour: number): number {
  const n = profile.length;
  const h = ((hour % n) + n) % n;
  const i = Math.floor(h);
  const frac = h - i;
  const a = profile[i] as number;
  const b = profile[(i + 1) % n] as number;
  const w = (1 - Math.cos(Math.PI * frac)) / 2;
  return a + (b - a) * w;
}

/**
 * Simulated time: starts at `simStart` and runs `speed` times faster than the wall clock.
 * Readings carry the real time as `ts` (the platform refuses future timestamps); only their values follow the
 * simulated clock, so a dashboard shows a whole simulated day in 24 minutes at speed 60.
 */
export class SimClock {
  constructor(
    readonly simStart: number,
    readonly speed: number,
    readonly realStart: number = Date.now(),
  ) {}

  at(realNow: number): number {
    return this.simStart + (realNow - this.realStart) * this.speed;
  }

  now(): number {
    return this.at(Date.now());
  }
}
