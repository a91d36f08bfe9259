import { describe, expect, it } from 'vitest';
import { AlertEngine } from '../../alerts/engine.js';
import { ruleConfig } from '../../alerts/rules.js';
import { FLOOD_LEVELS, FLOOD_LEVEL_ORDER, floodLevel, floodThresholdsSchema, thresholdsSchema } from '../../catalog/index.js';

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

  it('judges no level for a gauge without thresholds (null, not "normal")', () => {
    expect(floodLevel(9000, {})).toBeNull();
    expect(floodLevel(9000, null)).toBeNull();
    expect(floodLevel(9000, undefined)).toBeNull();
    expect(floodLevel(9000, { awas: 9500 })).toBe('normal');
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

describe('flood hysteresis never holds a level below the threshold under it', () => {
  const engineDevice = (thresholds: object) => ({ id: 'smd-flood-test', kind: 'flood' as const, thresholds });
  const T0 = Date.UTC(2026, 0, 10, 0, 0);

  it('refuses a hysteresisCm as large as a gap between thresholds, naming the field', () => {
    const result = thresholdsSchema('flood').safeParse({ waspada: 80, siaga: 85, hysteresisCm: 10 });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['hysteresisCm']);
    expect(result.error?.issues[0]?.message).toMatch(/hysteresisCm \(10 cm\) must be smaller than the gap between waspada \(80 cm\) and siaga \(85 cm\), 5 cm/);
    // exactly the gap is refused too; below it is fine; gaps between non-adjacent present levels count
    expect(thresholdsSchema('flood').safeParse({ waspada: 80, siaga: 85, hysteresisCm: 5 }).success).toBe(false);
    expect(thresholdsSchema('flood').safeParse({ waspada: 80, siaga: 85, hysteresisCm: 4.9 }).success).toBe(true);
    expect(thresholdsSchema('flood').safeParse({ siaga: 775, awas: 825, hysteresisCm: 50 }).success).toBe(false);
    expect(thresholdsSchema('flood').safeParse({ waspada: 80.3, siaga: 80.5, hysteresisCm: 0.2 }).success).toBe(false);
  });

  it('with the default hysteresis, waspada 80 / siaga 85 does not keep Siaga at 78 cm', () => {
    const engine = new AlertEngine();
    const device = engineDevice({ waspada: 80, siaga: 85, clearAfterSeconds: 0 });
    const at = (i: number) => T0 + i * 60_000;
    const observe = (i: number, waterLevel: number) =>
      engine.evaluate(device, { deviceId: device.id, kind: 'flood', ts: at(i), values: { waterLevel } }, at(i));
    observe(0, 86);
    expect(engine.activeAlerts()[0]?.severity).toBe('siaga');
    observe(1, 78);
    expect(engine.activeAlerts()[0]?.severity).not.toBe('siaga');
    expect(ruleConfig('flood', device.thresholds).hysteresisCm).toBe(2.5);
  });

  it('a gauge without thresholds raises no flood alert whatever its level', () => {
    const engine = new AlertEngine();
    const device = engineDevice({});
    expect(engine.evaluate(device, { deviceId: device.id, kind: 'flood', ts: T0, values: { waterLevel: 9000 } }, T0)).toEqual([]);
  });
});
