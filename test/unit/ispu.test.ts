import { describe, expect, it } from 'vitest';
import {
  CATALOG,
  ISPU_BREAKPOINTS,
  ISPU_CATEGORIES,
  ISPU_COLORS,
  ISPU_LEVELS,
  ISPU_POLLUTANTS,
  ispu,
  ispuCategory,
  subIndex,
  type IspuPollutant,
} from '../../catalog/index.js';

// The regulation's table as DOMAIN.md prints it, row by row, so a typo in the catalog's columns shows up here.
const COLUMNS: IspuPollutant[] = ['pm10', 'pm25', 'so2', 'co', 'o3', 'no2', 'hc'];
const TABLE: [number, ...number[]][] = [
  [0, 0, 0, 0, 0, 0, 0, 0],
  [50, 50, 15.5, 52, 4000, 120, 80, 45],
  [100, 150, 55.4, 180, 8000, 235, 200, 100],
  [200, 350, 150.4, 400, 15000, 400, 1130, 215],
  [300, 420, 250.4, 800, 30000, 800, 2260, 432],
  [500, 500, 500, 1200, 45000, 1000, 3000, 648],
];

describe('ISPU (P.14/2020)', () => {
  it('holds the regulation table exactly', () => {
    expect(ISPU_LEVELS).toEqual(TABLE.map((row) => row[0]));
    COLUMNS.forEach((pollutant, column) => {
      expect(ISPU_BREAKPOINTS[pollutant], pollutant).toEqual(TABLE.map((row) => row[column + 1]));
    });
  });

  it('covers exactly the pollutants an air reading may carry', () => {
    expect([...ISPU_POLLUTANTS].sort()).toEqual([...CATALOG.air.requiredOneOf].sort());
  });

  it.each(COLUMNS.flatMap((p) => TABLE.map((row, i) => [p, row[COLUMNS.indexOf(p) + 1]!, row[0], i] as const)))(
    '%s at %s µg/m³ is ISPU %s',
    (pollutant, concentration, expected) => {
      expect(subIndex(pollutant, concentration)).toBe(expected);
      expect(ispu({ [pollutant]: concentration })?.value).toBe(expected);
    },
  );

  it('interpolates linearly inside a band', () => {
    expect(subIndex('pm10', 100)).toBeCloseTo(75, 10); // halfway from 50 to 150 µg/m³
    expect(subIndex('pm25', (15.5 + 55.4) / 2)).toBeCloseTo(75, 10);
    expect(subIndex('co', 11500)).toBeCloseTo(150, 10);
    expect(subIndex('no2', 2630)).toBeCloseTo(400, 10);
    expect(subIndex('pm25', 35)).toBeCloseTo(((100 - 50) / (55.4 - 15.5)) * (35 - 15.5) + 50, 10);
  });

  it('rounds the index to an integer', () => {
    expect(ispu({ pm10: 101 })?.value).toBe(76); // 75.5
    expect(ispu({ pm10: 100.8 })?.value).toBe(75); // 75.4
  });

  it('is 500 beyond the last breakpoint', () => {
    expect(subIndex('pm25', 500.1)).toBe(500);
    expect(subIndex('pm25', 1000)).toBe(500);
    expect(subIndex('co', 100000)).toBe(500);
    expect(ispu({ hc: 5000 })).toMatchObject({ value: 500, category: 'Berbahaya' });
  });

  it('refuses a negative or non-finite concentration with a reason', () => {
    expect(() => subIndex('pm25', -1)).toThrow(/pm25 concentration/);
    expect(() => subIndex('pm25', Number.NaN)).toThrow(RangeError);
  });

  it.each([
    [0, 'Baik'],
    [50, 'Baik'],
    [50.4, 'Baik'],
    [50.5, 'Sedang'],
    [51, 'Sedang'],
    [100, 'Sedang'],
    [101, 'Tidak Sehat'],
    [200, 'Tidak Sehat'],
    [201, 'Sangat Tidak Sehat'],
    [300, 'Sangat Tidak Sehat'],
    [301, 'Berbahaya'],
    [500, 'Berbahaya'],
  ] as const)('ISPU %d is %s', (value, category) => {
    expect(ispuCategory(value)).toBe(category);
  });

  it('categorises the rounded value of a whole computation', () => {
    // pm25 55.4 µg/m³ is exactly 100 (Sedang); a little more rounds up to 101 (Tidak Sehat).
    expect(ispu({ pm25: 55.4 })?.category).toBe('Sedang');
    expect(ispu({ pm25: 56 })).toMatchObject({ value: 101, category: 'Tidak Sehat' });
  });

  it('is the highest sub-index, naming its pollutant dominant', () => {
    const result = ispu({ pm10: 100, pm25: 100, co: 1000, o3: 300 });
    expect(result?.dominant).toBe('pm25');
    expect(result?.value).toBe(Math.round(subIndex('pm25', 100)));
    expect(result?.subIndices).toEqual({
      pm10: 75,
      pm25: Math.round(subIndex('pm25', 100)),
      co: Math.round(subIndex('co', 1000)),
      o3: Math.round(subIndex('o3', 300)),
    });
    expect(ispu({ so2: 10, no2: 1500 })?.dominant).toBe('no2');
  });

  it('is null when no pollutant is given', () => {
    expect(ispu({})).toBeNull();
    expect(ispu({ pm25: undefined })).toBeNull();
  });

  it('gives every category its colour, green to black', () => {
    expect(ISPU_CATEGORIES.map((c) => c.color)).toEqual([
      ISPU_COLORS.Baik,
      ISPU_COLORS.Sedang,
      ISPU_COLORS['Tidak Sehat'],
      ISPU_COLORS['Sangat Tidak Sehat'],
      ISPU_COLORS.Berbahaya,
    ]);
    for (const color of Object.values(ISPU_COLORS)) expect(color).toMatch(/^#[0-9a-f]{6}$/);
    expect(ISPU_COLORS.Berbahaya).toBe('#000000');
    // Categories tile the scale without gaps.
    ISPU_CATEGORIES.slice(1).forEach((c, i) => expect(c.from).toBe(ISPU_CATEGORIES[i]!.to + 1));
  });
});
