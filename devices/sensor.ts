// One simulated device: its place's models (air, flood, traffic), its battery and radio, and a seeded noise
// stream. `read(t)` gives the reading for simulated time `t`, with the catalog's field names and nothing else.
import { CATALOG, type Kind } from '../catalog/index.js';
import type { CityName, FleetDevice } from './fleet-schema.js';
import { airReading } from './models/air.js';
import { floodReading } from './models/flood.js';
import { batteryReading, type PowerProfile, rssiReading, stepBattery } from './models/power.js';
import { hash01, hashString, Rng } from './models/random.js';
import { trafficReading } from './models/traffic.js';
import type { Weather } from './models/weather.js';

/** A reading as published: catalog field → number (the `ts` is added when it is sent). */
export type Reading = Record<string, number>;

export interface SensorEnvironment {
  seed: number;
  weather(city: CityName): Weather;
}

const HOUR_MS = 3_600_000;

function powerProfile(device: FleetDevice): PowerProfile {
  // Gauges and sensor boxes live on a pole with a panel; counters and reference stations are on mains power.
  const solar = device.kind === 'flood' || (device.kind === 'air' && device.model.station === 'lowcost');
  return solar
    ? { solar: true, drainPerHour: 0.35, chargePerHour: 0.9 }
    : { solar: false, drainPerHour: 0.02, chargePerHour: 0 };
}

/** Keep exactly the catalog's fields of the kind, in catalog order; a model inventing a field is a bug. */
export function toReading(kind: Kind, values: Readonly<Record<string, number | undefined>>): Reading {
  const fields = CATALOG[kind].fields;
  for (const name of Object.keys(values)) {
    if (!fields.some((field) => field.name === name)) throw new Error(`model produced "${name}", not a ${kind} field`);
  }
  const reading: Reading = {};
  for (const field of fields) {
    const value = values[field.name];
    if (value !== undefined) reading[field.name] = value;
  }
  return reading;
}

export class SimulatedSensor {
  readonly device: FleetDevice;
  private readonly env: SensorEnvironment;
  private readonly key: number;
  private readonly rng: Rng;
  private readonly power: PowerProfile;
  private readonly rssiBase: number;
  private battery: number;
  private lastTime: number | undefined;

  constructor(device: FleetDevice, env: SensorEnvironment) {
    this.device = device;
    this.env = env;
    this.key = hashString(device.id) ^ env.seed;
    this.rng = new Rng(this.key);
    this.power = powerProfile(device);
    this.battery = this.power.solar ? 60 + 40 * hash01(this.key, 1) : 95 + 5 * hash01(this.key, 1);
    // Cellular/LoRa link budget of the site: some poles sit in a good spot, some behind buildings.
    this.rssiBase = -62 - 45 * hash01(this.key, 2);
  }

  get weather(): Weather {
    return this.env.weather(this.device.city);
  }

  /** The reading for simulated time `t`; `intervalSeconds` is the real time it covers (traffic counts). */
  read(t: number, intervalSeconds: number): Reading {
    const weather = this.weather;
    const rainfall = weather.rainfall(t);
    const ctx = { rng: this.rng, key: this.key, weather };
    let values: Record<string, number | undefined>;
    switch (this.device.kind) {
      case 'air':
        values = { ...airReading(t, this.device.model, ctx) };
        break;
      case 'flood':
        values = { ...floodReading(t, this.device.model, ctx) };
        break;
      case 'traffic': {
        const road = { ...this.device.model, ...this.device.thresholds };
        values = { ...trafficReading(t, road, { rng: this.rng, key: this.key, rainfall, intervalSeconds }) };
        break;
      }
    }
    this.advanceBattery(t, rainfall);
    values.battery = batteryReading(this.battery);
    values.rssi = rssiReading(this.rssiBase, this.rng, rainfall);
    return toReading(this.device.kind, values);
  }

  private advanceBattery(t: number, rainfall: number): void {
    if (this.lastTime !== undefined && t > this.lastTime) {
      const dtHours = Math.min((t - this.lastTime) / HOUR_MS, 24);
      this.battery = stepBattery(this.battery, dtHours, t, this.power, rainfall);
      // Below 10 % the maintenance crew swaps the battery on its next round.
      if (this.battery < 10) this.battery = 100;
    }
    this.lastTime = t;
  }
}
