// An air-quality station: particulates and gases follow the city's traffic and the height of the mixing layer
// (night inversions trap exhaust, afternoon convection dilutes it), rain washes particles out, ozone is cooked by
// the midday sun, and regional haze from forest and peat fires can push PM2.5 far into "Tidak Sehat" for days.
import { z } from 'zod';
import { HOUR_MS, hourlyProfile, wita } from './clock.js';
import { clamp, type Rng, round, smoothNoise } from './random.js';
import { trafficActivity } from './traffic.js';
import { seasonalWetness, type Weather } from './weather.js';

export const AIR_STATION_TYPES = ['aqms', 'lowcost', 'industrial'] as const;

export const AirModelSchema = z.object({
  /**
   * aqms: a reference station (KLHK AQMS) measuring all seven ISPU pollutants; lowcost: a PM/CO/NO2/O3 sensor
   * box; industrial: an AQMS beside a refinery or fertiliser plant, with SO2/HC plumes.
   */
  station: z.enum(AIR_STATION_TYPES).default('lowcost'),
  /** PM2.5 urban background without haze, µg/m³. */
  background: z.number().min(0).max(60).default(10),
  /** PM2.5 added by traffic at a weekday peak, µg/m³ (a kerbside box at a big junction ≈ 25–35). */
  trafficExposure: z.number().min(0).max(80).default(15),
  /** Typical PM10 ÷ PM2.5 here (1.3 – 1.8; dusty roads higher). */
  pm10Ratio: z.number().min(1.3).max(1.8).default(1.5),
  /** Local temperature bias, °C (urban heat island, shade, sea breeze). */
  temperatureOffset: z.number().min(-5).max(5).default(0),
});
export type AirModel = z.infer<typeof AirModelSchema>;

export interface AirValues {
  pm25: number;
  pm10: number;
  co?: number;
  no2?: number;
  so2?: number;
  o3?: number;
  hc?: number;
  temperature: number;
  humidity: number;
}

// Diurnal temperature shape (0 = dawn minimum ≈ 05:30, 1 = early-afternoon maximum ≈ 13:30), per WITA hour.
const TEMPERATURE_SHAPE = [
  0.22, 0.17, 0.13, 0.09, 0.05, 0.02, 0.02, 0.12, 0.33, 0.55, 0.74, 0.88, 0.97, 1.0, 0.97, 0.88, 0.74, 0.58, 0.46, 0.39,
  0.34, 0.3, 0.27, 0.24,
];

/** Dilution by the mixing layer: ≈1.27 before dawn, ≈0.63 mid-afternoon. */
function stagnation(hour: number): number {
  return 0.95 + 0.32 * Math.cos((2 * Math.PI * (hour - 3)) / 24);
}

/** Sunlight for photochemistry, 0–1, peaking around 13:30 WITA. */
function sunshine(hour: number): number {
  if (hour < 7.5 || hour > 19.5) return 0;
  return Math.sin((Math.PI * (hour - 7.5)) / 12) ** 1.3;
}

export function airReading(
  t: number,
  station: AirModel,
  ctx: { rng: Rng; key: number; weather: Weather },
): AirValues {
  const { rng, key, weather } = ctx;
  const hour = wita(t).hour;
  const activity = trafficActivity(t);
  const mix = stagnation(hour);
  const wetness = seasonalWetness(t);
  const rainNow = weather.rainfall(t);
  const recentRain = weather.rainDepth(t, 3) / 3; // mean mm/h over three hours
  const washout = 1 / (1 + recentRain / 4);
  const haze = weather.haze(t);
  // Smoke is worst in the morning under the night's inversion, thinnest in the late afternoon.
  const hazeDiurnal = 1 + 0.3 * Math.cos((2 * Math.PI * (hour - 7)) / 24);
  const exposure = station.trafficExposure / 25;
  const drift = 1 + 0.12 * smoothNoise(key, t, 20 * 60_000);

  const local = (station.background * (1 + 0.15 * (1 - wetness)) + station.trafficExposure * activity) * mix * washout;
  const smoke = 210 * haze * hazeDiurnal * Math.sqrt(washout);
  const pm25 = clamp((local + smoke) * drift * (1 + rng.normal(0, 0.04)), 0.5, 990);
  // Fresh smoke is mostly fine particles: the PM10/PM2.5 ratio drops towards 1.3 in haze.
  const ratio = clamp(
    station.pm10Ratio - 0.25 * Math.min(1, haze) + 0.1 * smoothNoise(key + 3, t, 3 * HOUR_MS) + rng.normal(0, 0.02),
    1.3,
    1.8,
  );
  const pm10 = Math.min(pm25 * ratio, 1990);

  const cloud = Math.min(0.85, rainNow / 4 + 0.35 * Math.min(1, haze));
  const sun = sunshine(hour);
  const co = (350 + 2600 * exposure * activity) * mix * drift + 3500 * haze * hazeDiurnal;
  const no2 = (12 + 75 * exposure * activity) * (0.8 + 0.2 * mix) * drift;
  const o3 = 18 + 95 * sun * (1 - cloud) * (1 - 0.25 * Math.min(1, exposure * activity)) + 25 * Math.min(1, haze) * sun;
  // Industrial plumes: the wind turns the stack's plume over the station some of the time.
  const plume = station.station === 'industrial' ? Math.max(0, smoothNoise(key + 5, t, 45 * 60_000) - 0.35) / 0.65 : 0;
  const so2 = station.station === 'industrial' ? 12 + 180 * plume + 6 * activity : 5 + 6 * activity * mix;
  const hc = (station.station === 'industrial' ? 45 + 90 * plume : 22) + 35 * exposure * activity * mix;

  const shape = hourlyProfile(TEMPERATURE_SHAPE, hour);
  const rainCooling = Math.min(5, 4.5 * (1 - Math.exp(-recentRain / 4)));
  const temperature =
    23.8 +
    8.2 * shape * (1 - 0.5 * cloud) -
    rainCooling -
    1.2 * Math.min(1, haze) +
    0.8 * (1 - wetness) +
    station.temperatureOffset +
    0.6 * smoothNoise(key + 7, t, 24 * HOUR_MS) +
    rng.normal(0, 0.15);
  const humidity = clamp(
    96 - 34 * shape * (1 - 0.4 * cloud) + 10 * Math.min(1, recentRain / 3) + 4 * wetness - 6 * Math.min(1, haze) +
      rng.normal(0, 0.8),
    35,
    100,
  );

  const noisy = (value: number, sd: number, max: number) => clamp(value * (1 + rng.normal(0, sd)), 0, max);
  const values: AirValues = {
    pm25: round(pm25, 1),
    pm10: round(pm10, 1),
    temperature: round(temperature, 1),
    humidity: round(humidity, 1),
  };
  values.co = round(noisy(co, 0.05, 99_000), 0);
  values.no2 = round(noisy(no2, 0.06, 4_900), 1);
  values.o3 = round(noisy(o3, 0.05, 1_990), 1);
  if (station.station !== 'lowcost') {
    values.so2 = round(noisy(so2, 0.06, 4_900), 1);
    values.hc = round(noisy(hc, 0.06, 9_900), 1);
  }
  return values;
}
