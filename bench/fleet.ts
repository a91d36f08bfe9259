// The benchmark's devices: ids, tokens and registry fields, the fleet file that seeds them at platform start
// (PANTAU_FLEET_FILE), and the readings they send. Kinds rotate air → flood → traffic so every process and every
// measurement gets a share of the load.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { Kind } from '../catalog/index.js';

export interface BenchDevice {
  id: string;
  token: string;
  kind: Kind;
  city: string;
  district: string;
}

export const KIND_CYCLE: readonly Kind[] = ['air', 'flood', 'traffic'];

/** The field every reading of a kind carries; `count(field)` of the measurement is the stored count. */
export const COUNT_FIELD: Record<Kind, string> = { air: 'pm25', flood: 'waterLevel', traffic: 'vehicleCount' };

const PLACES: ReadonlyArray<[string, string]> = [
  ['Samarinda', 'Samarinda Ulu'],
  ['Samarinda', 'Sungai Kunjang'],
  ['Balikpapan', 'Balikpapan Kota'],
  ['Balikpapan', 'Balikpapan Utara'],
  ['Bontang', 'Bontang Selatan'],
];

export function makeFleet(count: number, prefix: string, kinds: readonly Kind[] = KIND_CYCLE): BenchDevice[] {
  const width = String(count - 1).length;
  return Array.from({ length: count }, (_, i) => {
    const kind = kinds[i % kinds.length]!;
    const [city, district] = PLACES[i % PLACES.length]!;
    return { id: `${prefix}-${kind}-${String(i).padStart(width, '0')}`, token: randomBytes(18).toString('base64url'), kind, city, district };
  });
}

/** A fleet file in the shape `PANTAU_FLEET_FILE` takes (docs/contract.md §5 device create shape plus `token`). */
export function writeFleetFile(path: string, devices: BenchDevice[]): void {
  const entries = devices.map((d, i) => ({
    id: d.id,
    kind: d.kind,
    name: `Bench ${d.kind} ${i}`,
    city: d.city,
    district: d.district,
    location: { lat: -0.5 + (i % 100) / 1000, lon: 117.1 + Math.floor(i / 100) / 1000 },
    token: d.token,
  }));
  writeFileSync(path, JSON.stringify(entries));
}

/** Plausible values that stay far from every alert rule (good air, low water, free-flowing traffic). */
export function readingValues(kind: Kind, seq: number): Record<string, number> {
  const wave = (seq % 97) / 97;
  switch (kind) {
    case 'air':
      return { pm25: 8 + 10 * wave, pm10: 20 + 15 * wave, co: 400 + 200 * wave, temperature: 27 + 3 * wave, humidity: 70 + 10 * wave };
    case 'flood':
      return { waterLevel: 40 + 20 * wave, rainfall: 2 * wave };
    case 'traffic':
      return { vehicleCount: 10 + Math.round(20 * wave), avgSpeed: 45 + 10 * wave, occupancy: 5 + 5 * wave };
  }
}
