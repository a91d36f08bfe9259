// Parser stage for SenML (RFC 8428, JSON): a pack → Pantau reading objects, plus a rejection for every record that
// cannot be one. Each record is judged alone: its resolved name (base name + name) must end, after its last `:` or
// `/`, in a field of the device's kind; its unit (or the base unit) must be that field's SenML unit (RFC 8428 §12.1
// registry; `m` for a water level is converted to the catalog's cm); its value must be a number (`v`, plus the base
// value) inside the field's range; its time (base time + time, seconds; below 2^28 relative to now, §4.5.3) must be
// neither in the future nor stale. Records with the same resolved time form one reading, which the validation stage
// then judges as any reading (e.g. an air reading needs a pollutant). Labels ending in `_` that Pantau does not
// understand, or a `bver` above 10, make the whole pack unusable, as §4.4 and §4.5.2 require.
import { isUtf8 } from 'node:buffer';
import {
  CATALOG,
  MAX_PAYLOAD_BYTES,
  MAX_READINGS_PER_MESSAGE,
  type Kind,
  type RejectionReason,
} from '../catalog/index.js';

/** The SenML units a field accepts (RFC 8428 §12.1 and RFC 8798), and the factor into the catalog's unit. */
const UNITS: Record<string, Record<string, number>> = {
  pm25: { 'ug/m3': 1 },
  pm10: { 'ug/m3': 1 },
  co: { 'ug/m3': 1 },
  no2: { 'ug/m3': 1 },
  so2: { 'ug/m3': 1 },
  o3: { 'ug/m3': 1 },
  hc: { 'ug/m3': 1 },
  temperature: { Cel: 1 },
  humidity: { '%RH': 1, '%': 1 },
  waterLevel: { m: 100 },
  rainfall: { 'mm/h': 1 },
  flowRate: { 'm3/s': 1 },
  vehicleCount: { count: 1 },
  intervalSeconds: { s: 1 },
  avgSpeed: { 'km/h': 1 },
  occupancy: { '%': 1 },
  battery: { '%EL': 1 },
  rssi: { dBm: 1 },
};

/** The SenML unit to send for each field (the first accepted). */
export const SENML_UNIT: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(UNITS).map(([f, u]) => [f, Object.keys(u)[0]!]));

const KNOWN_LABELS = new Set(['bn', 'bt', 'bu', 'bv', 'bs', 'bver', 'n', 'u', 'v', 'vs', 'vb', 'vd', 's', 't', 'ut']);
const NAME = /^[A-Za-z0-9][-:./_A-Za-z0-9]*$/;
const RELATIVE_LIMIT = 2 ** 28;
const SENML_VERSION = 10;

export interface SenmlRejection {
  reason: RejectionReason;
  detail: string;
}

export type SenmlDecoded =
  | { ok: true; readings: Array<Record<string, number>>; rejected: SenmlRejection[] }
  | { ok: false; reason: RejectionReason; detail: string };

export interface SenmlOptions {
  now: number;
  maxAgeMs: number;
  maxFutureMs: number;
}

export function decodeSenml(payload: Buffer, kind: Kind, options: SenmlOptions): SenmlDecoded {
  if (payload.length > MAX_PAYLOAD_BYTES) {
    return { ok: false, reason: 'too_many_readings', detail: `payload is ${payload.length} bytes; the limit is ${MAX_PAYLOAD_BYTES}` };
  }
  if (!isUtf8(payload)) return { ok: false, reason: 'invalid_json', detail: 'payload is not valid UTF-8' };
  let pack: unknown;
  try {
    pack = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: 'invalid_json', detail: `payload is not JSON: ${(err as Error).message}` };
  }
  if (!Array.isArray(pack)) return { ok: false, reason: 'invalid_reading', detail: 'a SenML pack is a JSON array of records' };
  if (pack.length === 0) return { ok: false, reason: 'invalid_reading', detail: 'empty SenML pack' };
  if (pack.length > MAX_READINGS_PER_MESSAGE) {
    return { ok: false, reason: 'too_many_readings', detail: `${pack.length} records in one pack; the limit is ${MAX_READINGS_PER_MESSAGE}` };
  }
  for (let i = 0; i < pack.length; i++) {
    const record = pack[i];
    if (record === null || typeof record !== 'object' || Array.isArray(record)) continue;
    for (const label of Object.keys(record)) {
      if (label.endsWith('_')) return { ok: false, reason: 'invalid_reading', detail: `record ${i}: must-understand label ${JSON.stringify(label.slice(0, 40))} is not supported; the pack is refused (RFC 8428 §4.4)` };
    }
    const bver = (record as Record<string, unknown>).bver;
    if (bver !== undefined && (typeof bver !== 'number' || !Number.isInteger(bver) || bver > SENML_VERSION)) {
      return { ok: false, reason: 'invalid_reading', detail: `record ${i}: bver ${JSON.stringify(bver)} is not a SenML version Pantau understands (≤ ${SENML_VERSION})` };
    }
  }

  const fields = new Map(CATALOG[kind].fields.map((f) => [f.name, f]));
  const rejected: SenmlRejection[] = [];
  const groups = new Map<string, Record<string, number>>();
  const base = { bn: '', bt: 0, bu: undefined as string | undefined, bv: 0 };
  const nowSeconds = options.now / 1000;

  for (let i = 0; i < pack.length; i++) {
    const raw = pack[i];
    const reject = (reason: RejectionReason, detail: string) => rejected.push({ reason, detail: `record ${i}: ${detail}` });
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      reject('invalid_reading', 'a SenML record must be a JSON object');
      continue;
    }
    const r = raw as Record<string, unknown>;
    const typeError = checkTypes(r);
    if (typeError) {
      reject('invalid_reading', typeError);
      continue;
    }
    if (r.bn !== undefined) base.bn = r.bn as string;
    if (r.bt !== undefined) base.bt = r.bt as number;
    if (r.bu !== undefined) base.bu = r.bu as string;
    if (r.bv !== undefined) base.bv = r.bv as number;
    const hasValue = r.v !== undefined || r.vs !== undefined || r.vb !== undefined || r.vd !== undefined || r.s !== undefined;
    if (!hasValue && r.n === undefined && r.u === undefined && r.t === undefined) continue; // base fields only
    const name = base.bn + ((r.n as string | undefined) ?? '');
    if (!NAME.test(name)) {
      reject('invalid_reading', `name ${JSON.stringify(name.slice(0, 60))} is not a valid SenML name`);
      continue;
    }
    const field = name.slice(Math.max(name.lastIndexOf(':'), name.lastIndexOf('/')) + 1);
    const spec = fields.get(field);
    if (!spec) {
      reject('unknown_field', `unknown field ${JSON.stringify(field.slice(0, 40))} (name ${JSON.stringify(name.slice(0, 60))}) for kind ${kind}; accepted: ${[...fields.keys()].join(', ')}`);
      continue;
    }
    if (r.v === undefined) {
      const given = ['vs', 'vb', 'vd', 's'].find((k) => r[k] !== undefined);
      reject('invalid_reading', given ? `${field}: must be a numeric value (v), got ${given}` : `${field}: the record has no value`);
      continue;
    }
    const unit = (r.u as string | undefined) ?? base.bu;
    const accepted = UNITS[field] ?? {};
    let factor = 1;
    if (unit !== undefined) {
      const f = accepted[unit];
      if (f === undefined) {
        reject('invalid_reading', `${field}: unit ${JSON.stringify(unit.slice(0, 20))} is not accepted; use ${Object.keys(accepted).join(' or ')}`);
        continue;
      }
      factor = f;
    }
    const value = ((r.v as number) + base.bv) * factor;
    if (!Number.isFinite(value)) {
      reject('invalid_reading', `${field}: must be a finite number`);
      continue;
    }
    if (value < spec.min || value > spec.max) {
      reject('out_of_range', `${field} = ${String(value).slice(0, 30)} is outside ${spec.min} – ${spec.max} ${spec.unit}`);
      continue;
    }
    const t = base.bt + ((r.t as number | undefined) ?? 0);
    let ts: number | undefined;
    if (t !== 0) {
      ts = Math.round((t < RELATIVE_LIMIT ? nowSeconds + t : t) * 1000);
      if (ts > options.now + options.maxFutureMs) {
        reject('future_timestamp', `time ${new Date(ts).toISOString()} is more than ${options.maxFutureMs / 60000} min ahead of the platform clock`);
        continue;
      }
      if (ts < options.now - options.maxAgeMs) {
        reject('stale_timestamp', `time ${new Date(Math.max(ts, -8.64e15)).toISOString()} is older than ${Math.round(options.maxAgeMs / 3600000)} h`);
        continue;
      }
    }
    const key = ts === undefined ? 'now' : String(ts);
    let reading = groups.get(key);
    if (!reading) {
      reading = ts === undefined ? {} : { ts };
      groups.set(key, reading);
    }
    if (field in reading) {
      reject('invalid_reading', `${field} is given twice for the same time`);
      continue;
    }
    reading[field] = value;
  }
  return { ok: true, readings: [...groups.values()], rejected };
}

/** The type of every label RFC 8428 defines; null when all are right. Unknown labels are ignored (§4.4). */
function checkTypes(r: Record<string, unknown>): string | null {
  for (const label of Object.keys(r)) {
    if (!KNOWN_LABELS.has(label)) continue;
    const v = r[label];
    switch (label) {
      case 'bn': case 'bu': case 'n': case 'u': case 'vs': case 'vd':
        if (typeof v !== 'string') return `${label} must be a string`;
        break;
      case 'vb':
        if (typeof v !== 'boolean') return 'vb must be a boolean';
        break;
      default:
        if (typeof v !== 'number' || !Number.isFinite(v)) return `${label} must be a number`;
    }
  }
  return null;
}
