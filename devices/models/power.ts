// Battery and radio of a field device. Solar units top up in the late-morning sun and drain at night and under
// rain clouds; mains units only lose a little to their backup cell. Signal strength wanders around the site's
// link budget and fades in heavy rain.
import { wita } from './clock.js';
import { clamp, type Rng, round } from './random.js';

export interface PowerProfile {
  solar: boolean;
  /** % per simulated hour drawn by the electronics and radio. */
  drainPerHour: number;
  /** % per simulated hour a clear-sky panel puts back at noon. */
  chargePerHour: number;
}

/** Battery after `dtHours` more hours ending at `t` (simulated time). */
export function stepBattery(level: number, dtHours: number, t: number, profile: PowerProfile, rainfall: number): number {
  let delta = -profile.drainPerHour * dtHours;
  if (profile.solar) {
    const hour = wita(t).hour;
    const sun = hour > 7 && hour < 17.5 ? Math.sin((Math.PI * (hour - 7)) / 10.5) : 0;
    const clouds = 1 - Math.min(0.9, rainfall / 5);
    delta += profile.chargePerHour * sun * clouds * dtHours;
  }
  return clamp(level + delta, 2, 100);
}

/** A reported battery percentage (the fuel gauge reads in 0.5 % steps). */
export function batteryReading(level: number): number {
  return clamp(Math.round(level * 2) / 2, 0, 100);
}

/** Received signal strength, dBm (integer, as modems report it). */
export function rssiReading(baseDbm: number, rng: Rng, rainfall: number): number {
  const fade = Math.min(6, rainfall / 10);
  return round(clamp(baseDbm - fade + rng.normal(0, 2.5), -140, -30), 0);
}
