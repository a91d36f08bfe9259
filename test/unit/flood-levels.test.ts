import { describe, expect, it } from 'vitest';
import { FLOOD_LEVELS, FLOOD_LEVEL_ORDER, floodLevel, floodThresholdsSchema } from '../../catalog/index.js';

const KATULAMPA = { waspada: 80, siaga: 150, awas: 200 };
const BENANGA = { siaga: 775, awas: 825 }; // no waspada level

describe('flood alert levels', () => {
  it.each([
    [-20, 'normal'],
    [79.9, 'normal'],
    [80, 'waspada'],
    [149, 'waspada'],
    [150, 'siaga'],
    [199.9, 'siaga'],
    [200, 'awas'],
    [450, 'awas'],
  ] as const)('Katulampa at %d cm is %s', (level, expected) => {
    expect(floodLevel(level, KATULAMPA)).toBe(expected);
  });

  it('skips a level the gauge does not have', () => {
    expect(floodLevel(770, BENANGA)).toBe('normal');
    expect(floodLevel(775, BENANGA)).toBe('siaga');
    expect(floodLevel(825, BENANGA)).toBe('awas');
    expect(floodLevel(300, { awas: 250 })).toBe('awas');
    expect(floodLevel(240, { awas: 250 })).toBe('normal');
  });

  it('reports a gauge without thresholds as normal', () => {
    expect(floodLevel(9000, {})).toBe('normal');
    expect(floodLevel(9000, null)).toBe('normal');
    expect(floodLevel(9000, undefined)).toBe('normal');
  });

  it('orders the levels normal 0 … awas 3', () => {
    expect(FLOOD_LEVELS.map((level) => FLOOD_LEVEL_ORDER[level])).toEqual([0, 1, 2, 3]);
  });

  describe('thresholds schema', () => {
    it('accepts real gauges, and none at all', () => {
      expect(floodThresholdsSchema.parse({ waspada: 750, siaga: 850, awas: 950 })).toEqual({
        waspada: 750,
        siaga: 850,
        awas: 950,
      });
      expect(floodThresholdsSchema.safeParse(BENANGA).success).toBe(true);
      expect(floodThresholdsSchema.safeParse({}).success).toBe(true);
    });

    it.each([
      ['a zero threshold', { waspada: 0 }],
      ['a negative threshold', { siaga: -5 }],
      ['a string', { siaga: '850' }],
      ['levels out of order', { waspada: 850, siaga: 750 }],
      ['two equal levels', { siaga: 800, awas: 800 }],
      ['awas below waspada with siaga missing', { waspada: 500, awas: 400 }],
      ['an unknown key (typo)', { Siaga: 850 }],
    ])('refuses %s', (_, thresholds) => {
      expect(floodThresholdsSchema.safeParse(thresholds).success).toBe(false);
    });

    it('names the offending level', () => {
      const result = floodThresholdsSchema.safeParse({ waspada: 750, siaga: 850, awas: 800 });
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.path).toEqual(['awas']);
      expect(result.error?.issues[0]?.message).toMatch(/awas \(800 cm\) must be higher than siaga \(850 cm\)/);
    });
  });
});
