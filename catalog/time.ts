// Bucket boundaries of the rollups (docs/contract.md §4, §9): hours in UTC, days at midnight in PANTAU_TIMEZONE.
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The zone's offset from UTC at instant `t` (ms; +8 h for Asia/Makassar). */
export function zoneOffsetMs(zone: string, t: number): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(t))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const local = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return local - Math.floor(t / 1000) * 1000;
}

export function hourStart(t: number): number {
  return Math.floor(t / HOUR_MS) * HOUR_MS;
}

/** Midnight (in `zone`) of the local day that holds `t`, as epoch ms. */
export function dayStart(zone: string, t: number): number {
  const localMidnight = Math.floor((t + zoneOffsetMs(zone, t)) / DAY_MS) * DAY_MS;
  // the offset at midnight may differ from the offset at t (a DST change during the day)
  let start = localMidnight - zoneOffsetMs(zone, localMidnight - zoneOffsetMs(zone, t));
  if (start > t) start = localMidnight - zoneOffsetMs(zone, start - 1);
  return start;
}

/** Midnight that starts the local day after the one starting at `start`. */
export function nextDayStart(zone: string, start: number): number {
  return dayStart(zone, start + DAY_MS + 12 * HOUR_MS);
}

/** True when every local midnight of [from, to) falls on a whole UTC hour, so days are made of whole hours. */
export function daysAreWholeHours(zone: string, from: number, to: number): boolean {
  for (let t = from; t <= to; t += 30 * DAY_MS) if (zoneOffsetMs(zone, t) % HOUR_MS !== 0) return false;
  return zoneOffsetMs(zone, to) % HOUR_MS === 0;
}
