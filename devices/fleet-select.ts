// Which devices a run simulates: a kind filter, a count spread fairly over cities and kinds, and — when more
// devices are asked for than the fleet has — clones of real devices at jittered nearby positions.
import type { Kind } from '../catalog/index.js';
import { CITIES } from './fleet.js';
import type { FleetDevice } from './fleet-schema.js';
import { clamp, hash01, hashString, round } from './models/random.js';

export interface FleetSelection {
  /** Number of devices; undefined = every fleet device of the chosen kinds. */
  count?: number;
  kinds: readonly Kind[];
  seed: number;
}

/** About ±250 m: close enough to read as "the same street", far enough to be told apart on a map. */
const JITTER_DEGREES = 0.0045;

export function selectFleet(fleet: readonly FleetDevice[], selection: FleetSelection): FleetDevice[] {
  const pool = fleet.filter((device) => selection.kinds.includes(device.kind));
  if (pool.length === 0) throw new Error(`the fleet has no devices of kind ${selection.kinds.join(', ')}`);
  const count = selection.count ?? pool.length;
  if (count <= pool.length) return spread(pool, count);

  const devices = [...pool];
  for (let n = 1; devices.length < count; n++) {
    for (const base of pool) {
      if (devices.length >= count) break;
      devices.push(cloneDevice(base, n, selection.seed));
    }
  }
  return devices;
}

/** Take `count` devices round-robin over (city, kind) groups, so a small run still shows every city and kind. */
function spread(pool: readonly FleetDevice[], count: number): FleetDevice[] {
  const groups = new Map<string, FleetDevice[]>();
  for (const device of pool) {
    const key = `${device.city}/${device.kind}`;
    const group = groups.get(key) ?? [];
    group.push(device);
    groups.set(key, group);
  }
  const picked: FleetDevice[] = [];
  for (let i = 0; picked.length < count; i++) {
    for (const group of groups.values()) {
      const device = group[i];
      if (device && picked.length < count) picked.push(device);
    }
  }
  // Keep fleet order, which groups a city's devices together in logs.
  const chosen = new Set(picked);
  return pool.filter((device) => chosen.has(device));
}

export function cloneId(baseId: string, n: number): string {
  const suffix = `-c${n}`;
  return baseId.slice(0, 63 - suffix.length) + suffix;
}

function cloneDevice(base: FleetDevice, n: number, seed: number): FleetDevice {
  const id = cloneId(base.id, n);
  const key = hashString(id);
  const bounds = CITIES[base.city].bounds;
  const lat = clamp(base.location.lat + (hash01(seed, key, 1) - 0.5) * 2 * JITTER_DEGREES, bounds.south, bounds.north);
  const lon = clamp(base.location.lon + (hash01(seed, key, 2) - 0.5) * 2 * JITTER_DEGREES, bounds.west, bounds.east);
  return {
    ...base,
    id,
    name: `${base.name} #${n + 1}`,
    location: { lat: round(lat, 5), lon: round(lon, 5) },
  } as FleetDevice;
}
