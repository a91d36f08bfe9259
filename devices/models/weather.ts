// City weather for the simulator: rain storms tuned to Samarinda's monthly rainfall (devices/README.md cites the
// figures), and regional haze from forest and peat fires — only in dry, El Niño-like years (about one year in three,
// chosen by the seed), mostly August–October. Every value is a pure function of time, the seed and the city, so all
// gauges of a city see the same storm and a restarted simulator sees the same sky.
import { DAY_MS, HOUR_MS, hourlyProfile, wita } from './clock.js';
import { clamp, hash01, hashString, smoothNoise } from './random.js';

/**
 * Samarinda's rainfall by month (Jan … Dec), mm: about 2,300 mm a year, wettest March–April, driest August–September
 * (devices/README.md: where these figures come from). A city's `rainFactor` scales it.
 */
export const MONTHLY_RAIN_MM = [230, 220, 260, 250, 220, 170, 140, 120, 120, 150, 200, 230] as const;
/** Chance per day that a regional haze episode starts, by month — in a dry (El Niño-like) year only. */
const HAZE_STARTS_PER_DAY = [0, 0, 0.003, 0, 0, 0.006, 0.02, 0.06, 0.09, 0.06, 0.012, 0];
/** Share of years that are dry, El Niño-like years with a fire and haze season (2015, 2019, 2023 …). */
export const DRY_YEAR_SHARE = 1 / 3;
/** Rain in July–October of a dry year, relative to the normal. */
const DRY_YEAR_LATE_RAIN = 0.6;
/**
 * Mean depth (mm) of one storm at wetness 0, from the storm model below: E[peak] 17 mm/h × 1.056 (cloudbursts)
 * × E[duration] 1.796 h × ∫shape 0.576. Storms in the wet season are larger by (0.8 + 0.3 × wetness) / 0.8.
 */
const STORM_DEPTH_MM = 17 * 1.056 * 1.796 * 0.576;
/** When storms start: convective afternoon–evening storms, and a smaller pre-dawn maximum. Mean ≈ 1. */
const STORM_HOURS = [
  0.7, 0.8, 0.9, 0.9, 0.8, 0.6, 0.4, 0.3, 0.3, 0.3, 0.4, 0.6, 0.9, 1.3, 1.7, 2.0, 2.1, 2.0, 1.7, 1.4, 1.1, 0.9, 0.8, 0.7,
];

const MAX_STORM_HOURS = 5;
const MAX_EPISODE_DAYS = 16;
const RAIN_GRID_MS = 15 * 60_000;
const HAZE_REGION = hashString('kaltim-haze');

export interface Storm {
  /** Epoch ms the rain begins. */
  start: number;
  durationHours: number;
  /** Peak intensity, mm/h. */
  peak: number;
}

export interface HazeEpisode {
  start: number;
  /** Hours from clear air to full intensity. */
  rampHours: number;
  /** Hours at full intensity. */
  durationHours: number;
  fadeHours: number;
  /** 0 – ~1: 1 ≈ PM2.5 daily means deep in "Sangat Tidak Sehat" for the most exposed city. */
  intensity: number;
}

export interface WeatherOptions {
  seed: number;
  city: string;
  /** Multiplies how often storms come (1 = Samarinda). */
  rainFactor?: number;
  /** How strongly the regional smoke reaches this city (1 = Samarinda). */
  hazeFactor?: number;
  /** Random storms and haze episodes on (default) or off (tests, controlled demos). */
  randomEvents?: boolean;
  /** Extra events, e.g. `--haze` and `--storm` for a demo. */
  storms?: readonly Storm[];
  hazeEpisodes?: readonly HazeEpisode[];
}

/** 0 in the driest month, 1 in the wettest, interpolated through the year. */
export function seasonalWetness(t: number): number {
  return wetnessAt(wita(t).monthPosition);
}

const DRIEST_MM = Math.min(...MONTHLY_RAIN_MM);
const WETTEST_MM = Math.max(...MONTHLY_RAIN_MM);

function wetnessAt(monthPosition: number): number {
  return (monthlyValue(MONTHLY_RAIN_MM, monthPosition) - DRIEST_MM) / (WETTEST_MM - DRIEST_MM);
}

/** Storms per day that give the month's normal rainfall, at a fractional month position. */
function stormsPerDay(monthPosition: number): number {
  const mmPerDay = (monthlyValue(MONTHLY_RAIN_MM, monthPosition) * 12) / 365.25;
  return mmPerDay / (STORM_DEPTH_MM * (0.8 + 0.3 * wetnessAt(monthPosition)));
}

function monthlyValue(table: readonly number[], monthPosition: number): number {
  // Values sit at mid-month; interpolate between neighbours, wrapping at the year's end.
  const x = monthPosition - 0.5;
  const i = Math.floor(x);
  const frac = x - i;
  const a = table[(i + 12) % 12] as number;
  const b = table[(i + 13) % 12] as number;
  return a + (b - a) * frac;
}

function stormShape(x: number): number {
  // Quick build-up, longer tail: tropical convective rain.
  if (x < 0 || x > 1) return 0;
  if (x < 0.25) return Math.sin((Math.PI / 2) * (x / 0.25));
  return Math.cos((Math.PI / 2) * ((x - 0.25) / 0.75)) ** 1.5;
}

function stormRain(storm: Storm, t: number): number {
  const x = (t - storm.start) / (storm.durationHours * HOUR_MS);
  return storm.peak * stormShape(x);
}

function hazeEnvelope(episode: HazeEpisode, t: number): number {
  const h = (t - episode.start) / HOUR_MS;
  if (h <= 0) return 0;
  if (h < episode.rampHours) return episode.intensity * (h / episode.rampHours);
  const plateauEnd = episode.rampHours + episode.durationHours;
  if (h <= plateauEnd) return episode.intensity;
  const fade = (h - plateauEnd) / episode.fadeHours;
  return fade >= 1 ? 0 : episode.intensity * (1 - fade);
}

export class Weather {
  readonly city: string;
  private readonly key: number;
  private readonly seed: number;
  private readonly rainFactor: number;
  private readonly hazeFactor: number;
  private readonly randomEvents: boolean;
  private readonly extraStorms: readonly Storm[];
  private readonly extraHaze: readonly HazeEpisode[];
  private readonly rainCache = new Map<number, number>();

  constructor(options: WeatherOptions) {
    this.city = options.city;
    this.seed = options.seed >>> 0;
    this.key = hashString(options.city);
    this.rainFactor = options.rainFactor ?? 1;
    this.hazeFactor = options.hazeFactor ?? 1;
    this.randomEvents = options.randomEvents ?? true;
    this.extraStorms = options.storms ?? [];
    this.extraHaze = options.hazeEpisodes ?? [];
  }

  /** The storm (if any) that starts in a given hour slot — decided by hashing, so nothing needs remembering. */
  private stormInSlot(slot: number): Storm | null {
    const slotStart = slot * HOUR_MS;
    const w = wita(slotStart);
    // Smoke episodes happen in dry spells: fewer storms while the region is hazy, and fewer late in a dry year.
    const dryness = 1 - 0.85 * clamp(this.regionalHaze(slotStart), 0, 1);
    const lateDrySeason = w.month >= 7 && w.month <= 10 && this.dryYear(w.year) ? DRY_YEAR_LATE_RAIN : 1;
    const perDay = stormsPerDay(w.monthPosition) * this.rainFactor * dryness * lateDrySeason;
    const p = (perDay / 24) * hourlyProfile(STORM_HOURS, w.hour);
    if (hash01(this.seed, this.key, slot, 1) >= p) return null;
    const wetness = seasonalWetness(slotStart);
    let peak = (2 + 48 * hash01(this.seed, this.key, slot, 4) ** 2.2) * (0.8 + 0.3 * wetness);
    if (hash01(this.seed, this.key, slot, 5) < 0.07) peak *= 1.8; // the occasional cloudburst
    return {
      start: slotStart + hash01(this.seed, this.key, slot, 2) * HOUR_MS,
      durationHours: 0.5 + (MAX_STORM_HOURS - 1.5) * hash01(this.seed, this.key, slot, 3) ** 1.7,
      peak,
    };
  }

  /** Storms raining at `t` (random and forced). */
  stormsAt(t: number): Storm[] {
    const storms: Storm[] = [];
    if (this.randomEvents && this.rainFactor > 0) {
      const slot = Math.floor(t / HOUR_MS);
      for (let s = slot - MAX_STORM_HOURS; s <= slot; s++) {
        const storm = this.stormInSlot(s);
        if (storm && t >= storm.start && t < storm.start + storm.durationHours * HOUR_MS) storms.push(storm);
      }
    }
    for (const storm of this.extraStorms) {
      if (t >= storm.start && t < storm.start + storm.durationHours * HOUR_MS) storms.push(storm);
    }
    return storms;
  }

  /** City-wide rain intensity, mm/h. */
  rainfall(t: number): number {
    let rain = 0;
    for (const storm of this.stormsAt(t)) rain += stormRain(storm, t);
    if (rain === 0) return 0;
    // Cells drift over the city: the intensity flickers within a storm.
    return rain * (1 + 0.25 * smoothNoise(this.key ^ this.seed, t, 10 * 60_000));
  }

  /** Rain on a fixed 15-minute grid, memoised: river models integrate many hours of it per reading. */
  private gridRain(gridIndex: number): number {
    let value = this.rainCache.get(gridIndex);
    if (value === undefined) {
      value = this.rainfall(gridIndex * RAIN_GRID_MS);
      if (this.rainCache.size > 20_000) this.rainCache.clear();
      this.rainCache.set(gridIndex, value);
    }
    return value;
  }

  /**
   * Σ rain(t − τ) · weight(τ) · Δτ over the past `hours`, on the 15-minute grid (Δτ in hours).
   * With weight ≡ 1 this is the rain depth in mm.
   */
  integrateRain(t: number, hours: number, weight: (lagHours: number) => number = () => 1): number {
    const stepHours = RAIN_GRID_MS / HOUR_MS;
    const last = Math.floor(t / RAIN_GRID_MS);
    const steps = Math.ceil(hours / stepHours);
    let sum = 0;
    for (let k = 0; k <= steps; k++) {
      const index = last - k;
      const rain = this.gridRain(index);
      if (rain === 0) continue;
      const lag = (t - index * RAIN_GRID_MS) / HOUR_MS;
      sum += rain * weight(lag) * stepHours;
    }
    return sum;
  }

  /** Rain depth (mm) over the past `hours`. */
  rainDepth(t: number, hours: number): number {
    return this.integrateRain(t, hours);
  }

  /**
   * Whether the year of `t` (WITA) is a dry, El Niño-like year: decided by the seed and the year, the same for every
   * city, about `DRY_YEAR_SHARE` of years. Only dry years have a haze season.
   */
  isDryYear(t: number): boolean {
    return this.dryYear(wita(t).year);
  }

  private dryYear(year: number): boolean {
    return hash01(this.seed, HAZE_REGION, year, 9) < DRY_YEAR_SHARE;
  }

  private episodeOnDay(day: number): HazeEpisode | null {
    const dayStart = day * DAY_MS;
    const w = wita(dayStart);
    if (!this.dryYear(w.year)) return null;
    const p = monthlyValue(HAZE_STARTS_PER_DAY, w.monthPosition);
    if (hash01(this.seed, HAZE_REGION, day, 1) >= p) return null;
    return {
      start: dayStart + hash01(this.seed, HAZE_REGION, day, 2) * DAY_MS,
      rampHours: 12 + 24 * hash01(this.seed, HAZE_REGION, day, 3),
      durationHours: 24 * (2 + 9 * hash01(this.seed, HAZE_REGION, day, 4)),
      fadeHours: 18 + 30 * hash01(this.seed, HAZE_REGION, day, 5),
      intensity: 0.45 + 0.55 * hash01(this.seed, HAZE_REGION, day, 6),
    };
  }

  /** Regional smoke envelope (0–1), before the city's exposure and day-to-day variation. */
  regionalHaze(t: number): number {
    let level = 0;
    if (this.randomEvents) {
      const day = Math.floor(t / DAY_MS);
      for (let d = day - MAX_EPISODE_DAYS; d <= day; d++) {
        const episode = this.episodeOnDay(d);
        if (episode) level = Math.max(level, hazeEnvelope(episode, t));
      }
    }
    for (const episode of this.extraHaze) level = Math.max(level, hazeEnvelope(episode, t));
    return level;
  }

  /** Smoke reaching this city at `t`: 0 (clear) to about 1.2 (worst days). */
  haze(t: number): number {
    const regional = this.regionalHaze(t);
    if (regional === 0) return 0;
    // Wind shifts from day to day bring more or less smoke.
    const variation = 1 + 0.2 * smoothNoise(this.key ^ HAZE_REGION, t, 0.5 * DAY_MS);
    return clamp(regional * this.hazeFactor * variation, 0, 1.2);
  }
}
