import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineBuffer } from '../../influx/line-buffer.js';
import { describeLine, line, seriesKey, stringField, writeNumberLine } from '../../influx/line-protocol.js';

describe('line protocol', () => {
  it('escapes tag values so spaces, commas and equals signs stay inside the tag', () => {
    const key = seriesKey('air', { device_id: 'smd-air-01', city: 'Samarinda', district: 'Samarinda Ulu, Kota=1' });
    expect(key).toBe('air,city=Samarinda,device_id=smd-air-01,district=Samarinda\\ Ulu\\,\\ Kota\\=1');
    expect(describeLine(line(key, { pm25: 1 }, 5)).tags).toEqual({ city: 'Samarinda', device_id: 'smd-air-01', district: 'Samarinda Ulu, Kota=1' });
  });

  it('never leaves a trailing backslash or a newline in a tag value', () => {
    const key = seriesKey('air', { device_id: 'a', district: 'x\\', city: 'y\nz' });
    expect(key).not.toMatch(/\\$|\n/);
    expect(key).toBe('air,city=y\\ z,device_id=a,district=x/');
  });

  it('quotes string fields with quotes and backslashes escaped and control characters removed', () => {
    expect(stringField('a "b" \\ c\nd\r\te')).toBe('"a \\"b\\" \\\\ c d  e"');
    expect(stringField('x'.repeat(2000)).length).toBe(1026);
  });

  it('writes numbers as floats (no integer suffix) and refuses non-finite ones', () => {
    expect(line('m', { a: 1, b: 2.5, c: -0.001 }, 1700000000000)).toBe('m a=1,b=2.5,c=-0.001 1700000000000');
    expect(() => line('m', { a: Number.NaN }, 1)).toThrow(RangeError);
  });

  it('writes number lines into a buffer byte for byte as line() does, whatever the number', () => {
    const key = seriesKey('air', { device_id: 'aq-1', city: 'Kota Samarinda', district: 'a,b=c' });
    const numbers = [0, -0, 1, -1, 0.1, -30.000000000000004, 1e-7, 5e-324, 1e21, 123456789012345680000, 2 ** 53 - 1, 2 ** 53 + 2, 99999999, 100000000, 1e15 + 0.5, 35.2];
    const out = new LineBuffer();
    const expected: string[] = [];
    for (const [i, n] of numbers.entries()) {
      const fields = { pm25: n, humidity: numbers[(i + 3) % numbers.length]! };
      for (const ts of [0, 7, 100000000, 1700000000001, 1_765_000_000_000.9, 8.64e15]) {
        writeNumberLine(out, Buffer.from(key), fields, ts);
        expected.push(line(key, fields, ts));
      }
    }
    expect(out.view().toString('utf8')).toBe(expected.join('\n'));
  });

  it('writes a value of up to three decimals (written without a string) as String() does, and every other double too', () => {
    const text = (n: number) => {
      const out = new LineBuffer();
      out.float(n);
      return out.view().toString('latin1');
    };
    // decimals of one to three places, small and up to the fast path's bound, and the doubles next to them
    const decimal = fc.tuple(fc.integer({ min: -999_999_999_999_999, max: 999_999_999_999_999 }), fc.integer({ min: 1, max: 3 })).map(([n, k]) => n / 10 ** k);
    const small = fc.tuple(fc.integer({ min: -100_000, max: 100_000 }), fc.integer({ min: 1, max: 3 })).map(([n, k]) => n / 10 ** k);
    const nextTo = fc.tuple(small, fc.constantFrom(-1, 1)).map(([v, d]) => v + d * Number.EPSILON * Math.max(1, Math.abs(v)));
    fc.assert(fc.property(fc.oneof(decimal, small, nextTo, fc.double({ noNaN: true, noDefaultInfinity: true })), (v) => text(v) === String(v)), { numRuns: 50_000 });
    for (const v of [0.001, -0.001, 0.5, -0.5, 1.125, 27.5, 0.35, 0.1 + 0.2, 999_999_999_999.999, 1e12 - 0.001, 1e12 + 0.5, 1e-3 / 3, 0.0005, -0.0005, 1.0005, 5e-324]) {
      expect(text(v)).toBe(String(v));
    }
  });
});
