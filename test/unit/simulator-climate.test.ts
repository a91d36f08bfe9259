// The simulated climate against the figures devices/README.md cites: Samarinda's annual and monthly rainfall, and
// haze seasons only in dry (El Niño-like) years, about one year in three.
import { describe, expect, it } from 'vitest';
import { DAY_MS, wita, witaTime } from '../../devices/models/clock.js';
import { DRY_YEAR_SHARE, MONTHLY_RAIN_MM, Weather } from '../../devices/models/weather.js';
import { parseOptions } from '../../devices/options.js';

const STEP = 30 * 60_000;
const YEARS = 20;
const FIRST = 2030;

/** Rain per calendar month (mm) of each simulated year, and the days with a regional haze. */
function simulate(seed: number) {
  const weather = new Weather({ seed, city: 'Samarinda' });
  return Array.from({ length: YEARS }, (_, k) => {
    const start = witaTime(FIRST + k, 1, 1);
    const end = witaTime(FIRST + k + 1, 1, 1);
    const months = Array<number>(12).fill(0);
    for (let t = start; t < end; t += STEP) months[wita(t).month - 1]! += (weather.rainfall(t) * STEP) / 3_600_000;
    let hazeDays = 0;
    for (let t = start + 8 * 3_600_000; t < end; t += DAY_MS) if (weather.regionalHaze(t) > 0.3) hazeDays++;
    return { dry: weather.isDryYear(start), months, total: months.reduce((a, b) => a + b, 0), hazeDays };
  });
}

describe('simulated Samarinda climate', () => {
  const years = simulate(20261128);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const normal = MONTHLY_RAIN_MM.reduce((a, b) => a + b, 0);

  it(`rains about ${normal} mm a year, within ±20 %, and not 3,700 mm`, () => {
    const annual = mean(years.map((y) => y.total));
    console.log(`simulated annual rainfall over ${YEARS} years: ${Math.round(annual)} mm (normal ${normal} mm); per year ${years.map((y) => Math.round(y.total)).join(', ')}`);
    expect(annual).toBeGreaterThan(0.8 * normal);
    expect(annual).toBeLessThan(1.2 * normal);
  });

  it('the wettest months (March, April) and the driest (August, September) match the normals within ±20 %', () => {
    const monthly = MONTHLY_RAIN_MM.map((_, m) => mean(years.map((y) => y.months[m]!)));
    console.log(`simulated monthly means (mm): ${monthly.map(Math.round).join(' ')}; normals: ${MONTHLY_RAIN_MM.join(' ')}`);
    for (const m of [2, 3, 0, 11]) {
      expect(monthly[m], `month ${m + 1}`).toBeGreaterThan(0.8 * MONTHLY_RAIN_MM[m]!);
      expect(monthly[m], `month ${m + 1}`).toBeLessThan(1.2 * MONTHLY_RAIN_MM[m]!);
    }
    expect(Math.max(...monthly)).toBeLessThan(1.2 * Math.max(...MONTHLY_RAIN_MM));
    // dry years take rain out of the late dry season, so August–September sit a little lower on average
    for (const m of [7, 8]) expect(monthly[m]).toBeGreaterThan(0.6 * MONTHLY_RAIN_MM[m]!);
    expect(mean([monthly[7]!, monthly[8]!])).toBeLessThan(0.6 * mean([monthly[2]!, monthly[3]!]));
  });

  it('haze seasons come only in dry years, about one year in three, chosen by the seed', () => {
    const dry = years.filter((y) => y.dry);
    console.log(`dry years: ${dry.length} of ${YEARS}; haze days per dry year: ${dry.map((y) => y.hazeDays).join(', ')}`);
    expect(dry.length / YEARS).toBeGreaterThan(DRY_YEAR_SHARE - 0.15);
    expect(dry.length / YEARS).toBeLessThan(DRY_YEAR_SHARE + 0.15);
    for (const y of years.filter((y) => !y.dry)) expect(y.hazeDays).toBe(0);
    expect(dry.filter((y) => y.hazeDays > 10).length).toBeGreaterThanOrEqual(Math.ceil(dry.length / 2));
    // another seed, another sequence of dry years
    const other = new Weather({ seed: 7, city: 'Samarinda' });
    const pattern = (w: Weather) => Array.from({ length: YEARS }, (_, k) => w.isDryYear(witaTime(FIRST + k, 6, 1)));
    expect(pattern(other)).not.toEqual(pattern(new Weather({ seed: 20261128, city: 'Samarinda' })));
  });

  it('--haze forces a haze episode in any year', () => {
    expect(parseOptions(['--haze'], {}).haze).toBe(true);
    const t = witaTime(FIRST, 9, 15);
    const seedOfWetYear = [1, 2, 3, 4, 5, 6, 7, 8].find((s) => !new Weather({ seed: s, city: 'Samarinda' }).isDryYear(t))!;
    const forced = new Weather({
      seed: seedOfWetYear,
      city: 'Samarinda',
      hazeEpisodes: [{ start: t, rampHours: 1, durationHours: 48, fadeHours: 12, intensity: 0.9 }],
    });
    expect(new Weather({ seed: seedOfWetYear, city: 'Samarinda' }).haze(t + 6 * 3_600_000)).toBe(0);
    expect(forced.haze(t + 6 * 3_600_000)).toBeGreaterThan(0.5);
  });
});
