// A flood on the Karang Mumus, scripted: one gauge of the fleet (Bendung Benanga by default, the dam on the upper
// Karang Mumus in Lempake, Samarinda) under a cloudburst that takes it through Siaga to Awas and back, then a
// smaller storm that reaches Siaga only. The weather has no random events, so the river is the same every run;
// values come from the fleet's own models (devices/models/flood.ts) through SimulatedSensor, as in `npm run
// simulate`. Readings carry their simulated time as `ts`, which lies in the past (up to 26 hours before now): the
// platform takes them as a gateway's backlog would arrive, and every rate and time derived from them (the 30-minute
// trend, clear times, CAP `sent`) is the river's own rather than one compressed by a speed factor.
// `test/flood-scenario.test.ts` drives it against a real platform (docs/cap.md, "A flood, end to end").
import { FLEET } from './fleet.js';
import type { FleetDevice } from './fleet-schema.js';
import { HOUR_MS } from './models/clock.js';
import { Weather, type Storm } from './models/weather.js';
import { type Reading, SimulatedSensor } from './sensor.js';

export const FLOOD_SCENARIO_GAUGE = 'smd-flood-01';

export interface FloodScenarioOptions {
  /** Fleet device id of the gauge (a flood gauge). */
  deviceId?: string;
  /** Simulated time of the first reading (epoch ms); default: `hours` before now (on the minute), so the last reading is about now. */
  start?: number;
  /** Simulated minutes between readings (default 10). */
  stepMinutes?: number;
  /** How long the scenario runs, simulated hours (default 26). */
  hours?: number;
  /** The storms, as hours after `start` (default: a 90 mm/h cloudburst of 3 h at 1 h, 40 mm/h for 2 h at 14 h). */
  storms?: Array<{ atHours: number; durationHours: number; peak: number }>;
  seed?: number;
}

export const FLOOD_SCENARIO_STORMS = [
  { atHours: 1, durationHours: 3, peak: 90 },
  { atHours: 14, durationHours: 2, peak: 40 },
] as const;

export interface ScenarioReading {
  /** Simulated time, epoch ms (in the past). */
  ts: number;
  values: Reading;
}

export class FloodScenario {
  readonly device: FleetDevice;
  readonly start: number;
  readonly end: number;
  readonly stepMs: number;
  readonly storms: readonly Storm[];
  private readonly sensor: SimulatedSensor;

  constructor(options: FloodScenarioOptions = {}) {
    const id = options.deviceId ?? FLOOD_SCENARIO_GAUGE;
    const device = FLEET.find((d) => d.id === id);
    if (!device || device.kind !== 'flood') throw new Error(`${id} is not a flood gauge of the fleet`);
    this.device = device;
    const hours = options.hours ?? 26;
    this.stepMs = (options.stepMinutes ?? 10) * 60_000;
    // on a whole minute, as a gauge's clock reads
    this.start = options.start ?? Math.floor((Date.now() - hours * HOUR_MS) / 60_000) * 60_000;
    this.end = this.start + hours * HOUR_MS;
    this.storms = (options.storms ?? FLOOD_SCENARIO_STORMS).map((s) => ({ start: this.start + s.atHours * HOUR_MS, durationHours: s.durationHours, peak: s.peak }));
    const weather = new Weather({ seed: options.seed ?? 1, city: device.city, randomEvents: false, storms: this.storms });
    this.sensor = new SimulatedSensor(device, { seed: options.seed ?? 1, weather: () => weather });
  }

  /** The readings in order, one every `stepMinutes` from `start` to `end`. */
  *readings(): Generator<ScenarioReading> {
    for (let ts = this.start; ts <= this.end; ts += this.stepMs) yield { ts, values: this.sensor.read(ts, this.stepMs / 1000) };
  }
}
