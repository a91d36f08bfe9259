// A seeded generator of SenML packs (RFC 8428 JSON) that knows what each pack must give: how many readings are
// stored and how many rejections, with which reasons. The oracle restates docs/contract.md §10's SenML rules on its own (units,
// ranges, required fields) rather than borrowing the platform's parser or catalog.
import type { Rng } from './fuzz.js';

export type Kind = 'air' | 'flood' | 'traffic';

interface FieldRule {
  unit: string;
  /** range in the SenML unit */
  min: number;
  max: number;
}

/** Per kind: the field every stored reading carries (a required one), and fields that are never required. */
const RULES: Record<Kind, { anchor: [string, FieldRule]; extras: Array<[string, FieldRule]> }> = {
  air: {
    anchor: ['pm25', { unit: 'ug/m3', min: 0, max: 1000 }],
    extras: [['temperature', { unit: 'Cel', min: -30, max: 70 }], ['humidity', { unit: '%RH', min: 0, max: 100 }], ['battery', { unit: '%EL', min: 0, max: 100 }], ['rssi', { unit: 'dBm', min: -150, max: 0 }]],
  },
  flood: {
    // SenML carries metres; the catalog's -1000 – 10000 cm
    anchor: ['waterLevel', { unit: 'm', min: -10, max: 100 }],
    extras: [['flowRate', { unit: 'm3/s', min: 0, max: 100000 }], ['battery', { unit: '%EL', min: 0, max: 100 }], ['rssi', { unit: 'dBm', min: -150, max: 0 }]],
  },
  traffic: {
    anchor: ['vehicleCount', { unit: 'count', min: 0, max: 100000 }],
    extras: [['intervalSeconds', { unit: 's', min: 1, max: 3600 }], ['occupancy', { unit: '%', min: 0, max: 100 }], ['battery', { unit: '%EL', min: 0, max: 100 }], ['rssi', { unit: 'dBm', min: -150, max: 0 }]],
  },
};

export function anchorField(kind: Kind): string {
  return RULES[kind].anchor[0];
}

const DEFECTS = ['unknown_name', 'wrong_unit', 'out_of_range', 'string_value', 'not_object', 'stale', 'future', 'no_value'] as const;
const REASON: Record<(typeof DEFECTS)[number], string> = {
  unknown_name: 'unknown_field',
  wrong_unit: 'invalid_reading',
  out_of_range: 'out_of_range',
  string_value: 'invalid_reading',
  not_object: 'invalid_reading',
  stale: 'stale_timestamp',
  future: 'future_timestamp',
  no_value: 'invalid_reading',
};

export interface FuzzPack {
  payload: Buffer;
  stored: number;
  rejected: Record<string, number>;
  records: number;
}

/**
 * Pack number `index` for a device: its readings' times are `t0 + index * 10 + g` seconds (g < 3), unique across
 * packs, so InfluxDB keeps every one of them. `nowSeconds` places stale and future records.
 */
export function senmlPack(r: Rng, kind: Kind, deviceId: string, index: number, t0: number, nowSeconds: number): FuzzPack {
  const rejected: Record<string, number> = {};
  const reject = (reason: string) => (rejected[reason] = (rejected[reason] ?? 0) + 1);
  if (r.chance(0.04)) {
    const garbage: Array<[string | Buffer, string]> = [
      [Buffer.from([0x5b, 0xff, 0xfe, 0x5d]), 'invalid_json'],
      ['[{"n":"pm25","v":1', 'invalid_json'],
      ['{"n":"pm25","v":1}', 'invalid_reading'],
      ['[]', 'invalid_reading'],
      ['"senml"', 'invalid_reading'],
      [`[{"n":"${RULES[kind].anchor[0]}","v":1,"t":${t0 + index * 10},"ext_":1}]`, 'invalid_reading'],
      [`[{"bver":99,"n":"${RULES[kind].anchor[0]}","v":1}]`, 'invalid_reading'],
    ];
    const [payload, reason] = r.pick(garbage);
    reject(reason);
    return { payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), stored: 0, rejected, records: 0 };
  }
  const base = t0 + index * 10;
  const useBt = r.chance(0.5);
  const naming = r.int(3); // 0: bn prefix, 1: full name with '/', 2: bare field name
  const records: unknown[] = [];
  if (useBt || naming === 0) records.push({ ...(naming === 0 ? { bn: `urn:dev:pantau:${deviceId}:` } : {}), ...(useBt ? { bt: base } : {}) });
  const data: unknown[] = [];
  let stored = 0;
  const groups = 1 + r.int(3);
  for (let g = 0; g < groups; g++) {
    const { anchor, extras } = RULES[kind];
    const chosen: Array<[string, FieldRule]> = [anchor];
    for (const extra of extras) if (r.chance(0.35)) chosen.push(extra);
    let anchorOk = false;
    let extraOk = 0;
    chosen.forEach(([field, rule], i) => {
      const name = naming === 0 ? field : naming === 1 ? `urn:dev:pantau:${deviceId}/${field}` : field;
      const t = useBt ? g : base + g;
      const record: Record<string, unknown> = { n: name, v: round(r.between(rule.min, rule.max)), t };
      // a unit is optional, except metres for a water level (without a unit the value is taken as cm)
      if (rule.unit === 'm' || r.chance(0.7)) record.u = rule.unit;
      let defect: (typeof DEFECTS)[number] | null = r.chance(0.12) ? r.pick(DEFECTS) : null;
      if (defect === 'wrong_unit' && rule.unit === '%' ) defect = 'out_of_range';
      let pushed: unknown = record;
      switch (defect) {
        case 'unknown_name': record.n = naming === 0 ? `${field}X` : `${name}_level`; break;
        case 'wrong_unit': record.u = rule.unit === 'Cel' ? 'K' : 'Cel'; break;
        case 'out_of_range': record.v = rule.max + 1 + r.int(1000); break;
        case 'string_value': delete record.v; record.vs = 'high'; break;
        case 'not_object': pushed = r.pick([42, 'record', null, [1, 2]]); break;
        case 'stale': record.t = (useBt ? -base : 0) + nowSeconds - 30 * 86400; break;
        case 'future': record.t = (useBt ? -base : 0) + nowSeconds + 86400; break;
        case 'no_value': delete record.v; break;
        default: break;
      }
      data.push(pushed);
      if (defect) reject(REASON[defect]);
      else if (i === 0) anchorOk = true;
      else extraOk++;
    });
    if (anchorOk) stored++;
    else if (extraOk > 0) reject('invalid_reading'); // a reading without its kind's required field
  }
  for (let i = data.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [data[i], data[j]] = [data[j], data[i]];
  }
  records.push(...data);
  return { payload: Buffer.from(JSON.stringify(records)), stored, rejected, records: data.length };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
