// RFC 3339 timestamps as the contract accepts them (docs/contract.md §3): exactly what zod's
// `z.iso.datetime({ offset: true, local: false })` accepts — `YYYY-MM-DDTHH:MM:SS`, an optional fraction of any
// length, then `Z` or `±HH:MM` (hours 00–23); real calendar dates (leap years by the Gregorian rule); upper-case
// `T` and `Z` only; ASCII digits only. Written by hand because zod's regular expression ran on every such reading
// on the acknowledgement path. test/unit/rfc3339.test.ts compares both over many generated strings.

const ZERO = 48;
const DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digit(s: string, i: number): number {
  const d = s.charCodeAt(i) - ZERO;
  return d >= 0 && d <= 9 ? d : -1;
}

/** Two digits at `i` as a number, or -1. */
function two(s: string, i: number): number {
  const a = digit(s, i);
  const b = digit(s, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

function isLeap(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/** Days from 1970-01-01 to the given civil date (proleptic Gregorian; H. Hinnant's algorithm). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * Epoch milliseconds of an RFC 3339 timestamp with an offset, or undefined when zod's datetime check would refuse
 * it. A fraction finer than a millisecond is cut as `Date.parse` cuts it.
 */
export function parseRfc3339(s: string): number | undefined {
  const n = s.length;
  if (n < 20) return undefined;
  const y1 = two(s, 0);
  const y2 = two(s, 2);
  if (y1 < 0 || y2 < 0 || s.charCodeAt(4) !== 45 /* - */ || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84 /* T */) return undefined;
  const year = y1 * 100 + y2;
  const month = two(s, 5);
  const day = two(s, 8);
  if (month < 1 || month > 12 || day < 1) return undefined;
  if (day > (month === 2 && isLeap(year) ? 29 : DAYS[month]!)) return undefined;
  const hour = two(s, 11);
  const minute = two(s, 14);
  const second = two(s, 17);
  if (s.charCodeAt(13) !== 58 /* : */ || s.charCodeAt(16) !== 58) return undefined;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  let i = 19;
  let ms = 0;
  if (s.charCodeAt(i) === 46 /* . */) {
    i++;
    // As V8's Date.parse reads it (what ingest stored before this parser): the first 9 digits after any leading
    // zeros, scaled by the fraction's length capped at 9 — so a fraction of 10 or more digits with a leading zero
    // does not mean what it says. Compatibility, not correctness, is the point here.
    const start = i;
    let value = 0;
    let significant = 0;
    while (i < n) {
      const d = digit(s, i);
      if (d < 0) break;
      if ((d > 0 || significant > 0) && significant < 9) {
        value = value * 10 + d;
        significant++;
      }
      i++;
    }
    const length = Math.min(i - start, 9);
    if (length === 0) return undefined;
    ms = length < 3 ? value * 10 ** (3 - length) : Math.floor(value / 10 ** (length - 3));
  }
  let offsetMin = 0;
  const c = s.charCodeAt(i);
  if (c === 90 /* Z */) {
    if (i + 1 !== n) return undefined;
  } else if (c === 43 /* + */ || c === 45 /* - */) {
    if (i + 6 !== n || s.charCodeAt(i + 3) !== 58) return undefined;
    const oh = two(s, i + 1);
    const om = two(s, i + 4);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return undefined;
    offsetMin = (c === 45 ? -1 : 1) * (oh * 60 + om);
  } else {
    return undefined;
  }
  return daysFromCivil(year, month, day) * 86_400_000 + hour * 3_600_000 + minute * 60_000 + second * 1000 + ms - offsetMin * 60_000;
}
