// The hand-written RFC 3339 parser (ingest/rfc3339.ts) against what ingest used before it: zod's
// `z.iso.datetime({ offset: true, local: false })` decides what is accepted, `Date.parse` what it means. Over
// 200,000 generated strings — valid ones across the calendar and mutations of them, one character at a time.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseRfc3339 } from '../../ingest/rfc3339.js';

const zodDatetime = z.iso.datetime({ offset: true, local: false });

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');
const ALPHABET = '0123456789-:T.Z+ztx Ｔ٣\u0000e';

function agree(s: string): void {
  const ours = parseRfc3339(s);
  const zodOk = zodDatetime.safeParse(s).success;
  expect(ours !== undefined, JSON.stringify(s)).toBe(zodOk);
  if (ours !== undefined) expect(ours, JSON.stringify(s)).toBe(Date.parse(s));
}

describe('RFC 3339 parser', () => {
  it('accepts and reads exactly what zod accepts and Date.parse reads, over 200,000 generated strings', () => {
    const r = rng(3339);
    const int = (n: number) => Math.floor(r() * n);
    let accepted = 0;
    for (let i = 0; i < 100_000; i++) {
      // mostly plausible fields, sometimes one step outside their range
      const year = r() < 0.1 ? pick([0, 1, 99, 100, 400, 1600, 1900, 2000, 2100, 2400, 9999]) : 1900 + int(300);
      const month = r() < 0.05 ? pick([0, 13]) : 1 + int(12);
      const day = r() < 0.2 ? pick([0, 28, 29, 30, 31, 32]) : 1 + int(28);
      const hour = r() < 0.05 ? 24 : int(24);
      const minute = r() < 0.05 ? 60 : int(60);
      const second = r() < 0.05 ? pick([60, 61]) : int(60);
      const frac = r() < 0.5 ? '' : r() < 0.1 ? '.' : `.${Array.from({ length: 1 + int(20) }, () => (r() < 0.3 ? 0 : int(10))).join('')}`;
      const zone = r() < 0.4 ? 'Z' : r() < 0.05 ? pick(['z', '', '+0800', '+08', '+24:00', '-00:60', '+08:00:00', 'UTC']) : `${r() < 0.5 ? '+' : '-'}${pad(int(24), 2)}:${pad(int(60), 2)}`;
      const s = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}${frac}${zone}`;
      agree(s);
      if (parseRfc3339(s) !== undefined) accepted++;
      // the same string with one character replaced, inserted or removed
      const at = int(s.length + 1);
      const c = ALPHABET[int(ALPHABET.length)]!;
      const mutated = r() < 0.4 ? s.slice(0, at) + c + s.slice(at + 1) : r() < 0.5 ? s.slice(0, at) + c + s.slice(at) : s.slice(0, at) + s.slice(at + 1);
      agree(mutated);
    }
    expect(accepted).toBeGreaterThan(30_000);

    function pick<T>(xs: readonly T[]): T {
      return xs[int(xs.length)]!;
    }
  });

  it('agrees on the edge cases named in the contract', () => {
    for (const s of [
      '2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z', '1900-02-29T00:00:00Z', '2000-02-29T12:00:00+07:00', '2024-04-31T00:00:00Z',
      '2024-06-01T23:59:59.999999999-23:59', '2024-06-01T24:00:00Z', '2024-06-01t00:00:00Z', '2024-06-01T00:00Z', '2024-06-01 00:00:00Z',
      '2024-06-01T00:00:00.Z', '+02024-06-01T00:00:00Z', '2024-06-01T00:00:00', '2024-06-01T00:00:00+08:00\n', '', 'x',
      '0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z', '2024-1-01T00:00:00Z', '２０２４-06-01T00:00:00Z',
    ]) agree(s);
  });
});
