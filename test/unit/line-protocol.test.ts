import { describe, expect, it } from 'vitest';
import { describeLine, line, seriesKey, stringField } from '../../influx/line-protocol.js';

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
});
