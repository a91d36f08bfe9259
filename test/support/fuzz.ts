// Hostile input for the fuzz tests: a seeded generator of MQTT payloads and topics that knows what it sent, an
// oracle that judges a payload by docs/contract.md §2–§3 alone (how many units it carries and how many of them must be
// stored), raw MQTT packets for what mqtt.js refuses to send, and strings for the API fuzz.
// Everything is deterministic for a seed, so a failure can be replayed.
import { isUtf8 } from 'node:buffer';
import net from 'node:net';

// ---------------------------------------------------------------------------------------------------------------
// Randomness

export interface Rng {
  seed: number;
  next(): number;
  int(n: number): number;
  between(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
}

/** mulberry32: small, fast, good enough to fuzz with, and reproducible. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r: Rng = {
    seed,
    next,
    int: (n) => Math.floor(next() * n),
    between: (min, max) => min + next() * (max - min),
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
  return r;
}

// ---------------------------------------------------------------------------------------------------------------
// docs/contract.md §2, restated here on purpose: the oracle must not borrow the platform's own catalog.

export type FuzzKind = 'air' | 'flood' | 'traffic';

const COMMON: Record<string, [number, number]> = { battery: [0, 100], rssi: [-150, 0] };
export const SPEC_FIELDS: Record<FuzzKind, Record<string, [number, number]>> = {
  air: {
    pm25: [0, 1000], pm10: [0, 2000], co: [0, 100000], no2: [0, 5000], so2: [0, 5000], o3: [0, 2000], hc: [0, 10000],
    temperature: [-30, 70], humidity: [0, 100], ...COMMON,
  },
  flood: { waterLevel: [-1000, 10000], rainfall: [0, 500], flowRate: [0, 100000], ...COMMON },
  traffic: { vehicleCount: [0, 100000], intervalSeconds: [1, 3600], avgSpeed: [0, 250], occupancy: [0, 100], ...COMMON },
};
export const SPEC_REQUIRED: Record<FuzzKind, string[]> = {
  air: ['pm25', 'pm10', 'co', 'no2', 'so2', 'o3', 'hc'],
  flood: ['waterLevel', 'rainfall'],
  traffic: ['vehicleCount', 'avgSpeed'],
};
export const MAX_PAYLOAD = 256 * 1024;
export const MAX_READINGS = 1000;
const DAY = 86_400_000;
const MAX_AGE = 7 * DAY;
const MAX_FUTURE = 5 * 60_000;

// ---------------------------------------------------------------------------------------------------------------
// The oracle

export type Verdict = 'stored' | 'rejected' | 'either';

export interface Judgement {
  /** Units the platform must account for: 1 for a payload-level failure, else one per reading. */
  units: number;
  stored: number;
  either: number;
  payloadLevel: boolean;
  /** A reading that would be stored with a device-given ts (could collide with another point). */
  givenTs: number;
}

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$/;

function judgeTs(ts: unknown, now: number): Verdict {
  let ms: number;
  if (typeof ts === 'number') {
    if (!Number.isInteger(ts) || ts < 0) return 'rejected';
    ms = ts;
  } else if (typeof ts === 'string') {
    const m = RFC3339.exec(ts);
    if (!m) {
      // lowercase t/z and other near-misses are RFC 3339 or not depending on how strict one reads it
      return /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}/.test(ts) ? 'either' : 'rejected';
    }
    const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
    const daysIn = new Date(Date.UTC(y, mo, 0)).getUTCDate();
    if (mo < 1 || mo > 12 || d < 1 || d > daysIn || h > 23 || mi > 59 || s > 59) return 'rejected';
    if (m[8] !== 'Z' && (Number(m[10]) > 23 || Number(m[11]) > 59)) return 'rejected';
    if (m[8] !== 'Z' && Number(m[10]) > 14) return 'either';
    if (m[7] && m[7].length > 4) return 'either'; // sub-millisecond digits: truncated, could collide
    ms = Date.parse(ts);
    if (!Number.isFinite(ms)) return 'either';
  } else {
    return 'rejected';
  }
  // a margin around the limits: the platform's clock reads a little later than ours
  if (ms > now + MAX_FUTURE + 120_000) return 'rejected';
  if (ms > now + MAX_FUTURE - 120_000) return 'either';
  if (ms < now - MAX_AGE - 3_600_000) return 'rejected';
  if (ms < now - MAX_AGE + 3_600_000) return 'either';
  return 'stored';
}

/** One reading object, judged by docs/contract.md §2–§3 alone. */
export function judgeReading(kind: FuzzKind, r: unknown, now: number): Verdict {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return 'rejected';
  const fields = SPEC_FIELDS[kind];
  let required = false;
  for (const key of Object.keys(r)) {
    if (key === 'ts') continue;
    const range = hasOwn(fields, key) ? fields[key] : undefined;
    if (!range) return 'rejected';
    const v = (r as Record<string, unknown>)[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < range[0] || v > range[1]) return 'rejected';
    if (SPEC_REQUIRED[kind].includes(key)) required = true;
  }
  if (!required) return 'rejected';
  if (hasOwn(r, 'ts')) return judgeTs((r as Record<string, unknown>).ts, now);
  return 'stored';
}

export function judgePayload(kind: FuzzKind, payload: Buffer, now: number): Judgement {
  const one = (): Judgement => ({ units: 1, stored: 0, either: 0, payloadLevel: true, givenTs: 0 });
  if (payload.length > MAX_PAYLOAD) return one();
  if (!isUtf8(payload)) return one();
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    return one();
  }
  let readings: unknown[];
  if (Array.isArray(value)) {
    if (value.length === 0 || value.length > MAX_READINGS) return one();
    readings = value;
  } else if (value !== null && typeof value === 'object') {
    readings = [value];
  } else {
    return one();
  }
  const j: Judgement = { units: readings.length, stored: 0, either: 0, payloadLevel: false, givenTs: 0 };
  for (const r of readings) {
    const v = judgeReading(kind, r, now);
    if (v === 'stored') j.stored++;
    else if (v === 'either') j.either++;
    if (v !== 'rejected' && r !== null && typeof r === 'object' && hasOwn(r, 'ts')) j.givenTs++;
  }
  return j;
}

// ---------------------------------------------------------------------------------------------------------------
// The payload generator

export interface FuzzMessage {
  category: string;
  payload: Buffer;
  judgement: Judgement;
}

const TYPOS: Record<FuzzKind, string[]> = {
  air: ['pm2.5', 'PM25', 'pm_25', 'pm 25', ' pm25', 'pm25 ', 'pm25\u0000', 'pm２５', 'Pm10', 'temp', 'humidty', 'co2', 'o₃', 'pm25.', 'pm25,city=x'],
  flood: ['waterlevel', 'water_level', 'WaterLevel', 'waterLevel ', 'rain', 'rainFall', 'flow', 'waterLevel\u200b', 'level'],
  traffic: ['vehiclecount', 'vehicle_count', 'VehicleCount', 'speed', 'avg_speed', 'occupancy%', 'count', 'avgSpeed\u202e'],
};

const SPECIAL_NUMBERS = [
  '1e308', '-1e308', '1.7976931348623157e308', '-0', '0', '-0.0', '0e0', '9007199254740993', '-9007199254740993',
  '5e-324', '1e-7', '1E2', '1e+2', '1e999', '-1e999', '1E-400', '123456789012345678901234567890', '0.1', '99.999999999999999999',
  '1000.0000000000001', '2e3', '-1', '-30.000000000000004', '70.00000000000001', '100', '1000', '2000',
];
/** Not JSON numbers at all: these make the payload invalid JSON. */
const NOT_NUMBERS = ['NaN', 'Infinity', '-Infinity', '0x10', '012', '+1', '.5', '5.', '1e', '--1', '1_000', 'undefined'];

const STRINGS = [
  '', 'x', '12', '1e3', 'NaN', 'true', 'null', '😀', '🇮🇩🌊', '\u202eevil', 'שלום', 'مرحبا', 'a\u0000b', '\ud800', '\udfff',
  '\ud83d', 'x'.repeat(5000), '"; DROP MEASUREMENT air; --', 'pm25=1 1\nhacked value=1', '\\', '\\\\"', '\u2028\u2029', '\ufeff',
];

const JUNK_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', ' ', 'ts ', 'TS', 'time', 'timestamp', 'device_id', 'city', '😀', '\u0000', 'x'.repeat(300)];

export interface GeneratorOptions {
  kind: FuzzKind;
  /** Valid device-given timestamps are `tsBase + counter`: unique per device, ~2 days old. */
  tsBase: number;
  seed: number;
}

/** Payloads for one device. `next()` never emits a timestamp that could collide with another stored point. */
export class PayloadFuzzer {
  readonly r: Rng;
  private readonly kind: FuzzKind;
  private tsCounter = 0;
  private readonly tsBase: number;

  constructor(options: GeneratorOptions) {
    this.r = rng(options.seed);
    this.kind = options.kind;
    this.tsBase = options.tsBase;
  }

  next(now = Date.now()): FuzzMessage {
    for (;;) {
      const { category, text } = this.make(now);
      const payload = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
      const judgement = judgePayload(this.kind, payload, now);
      // only our own unique timestamps may be stored as given (a mutated ts could collide with another point)
      if (judgement.givenTs > 0 && !category.startsWith('ts-unique')) continue;
      return { category, payload, judgement };
    }
  }

  // -- building blocks --------------------------------------------------------------------------------------

  private uniqueTs(): number {
    return this.tsBase + this.tsCounter++;
  }

  /** A valid reading as JSON text (no ts unless asked). */
  validReading(withTs: 'none' | 'epoch' | 'rfc3339' = 'none'): string {
    const r = this.r;
    const fields = SPEC_FIELDS[this.kind];
    const names = Object.keys(fields);
    const parts: string[] = [];
    const required = r.pick(SPEC_REQUIRED[this.kind]);
    const chosen = new Set([required]);
    for (const n of names) if (r.chance(0.25)) chosen.add(n);
    for (const n of chosen) {
      const [min, max] = fields[n]!;
      const v = r.chance(0.2) ? r.pick([min, max]) : r.chance(0.5) ? Math.round(r.between(min, max)) : Number(r.between(min, max).toFixed(r.int(4)));
      parts.push(`${JSON.stringify(n)}:${Object.is(v, -0) ? 0 : v}`);
    }
    if (withTs === 'epoch') parts.push(`"ts":${this.uniqueTs()}`);
    if (withTs === 'rfc3339') parts.push(`"ts":${JSON.stringify(rfc3339(this.uniqueTs(), r.pick([0, 420, 480, 540, -300, 345])))}`);
    // field order is free
    for (let i = parts.length - 1; i > 0; i--) {
      const j = r.int(i + 1);
      [parts[i], parts[j]] = [parts[j]!, parts[i]!];
    }
    return `{${parts.join(',')}}`;
  }

  private array(n: number, item: () => string): string {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(item());
    return `[${out.join(',')}]`;
  }

  private someField(): string {
    return this.r.pick(Object.keys(SPEC_FIELDS[this.kind]));
  }

  private requiredField(): string {
    return this.r.pick(SPEC_REQUIRED[this.kind]);
  }

  private deep(depth: number, open: string, close: string, inner = '1'): string {
    return open.repeat(depth) + inner + close.repeat(depth);
  }

  private garbage(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.r.int(256);
    return b;
  }

  private mutate(text: string): string | Buffer {
    const r = this.r;
    let b = Buffer.from(text, 'utf8');
    const rounds = 1 + r.int(3);
    for (let k = 0; k < rounds && b.length > 0; k++) {
      const at = r.int(b.length);
      switch (r.int(6)) {
        case 0: { // flip a byte to another value
          const c = Buffer.from(b);
          c[at] = (c[at]! + 1 + r.int(255)) & 0xff;
          b = c;
          break;
        }
        case 1: // drop a byte
          b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
          break;
        case 2: // duplicate a byte
          b = Buffer.concat([b.subarray(0, at + 1), b.subarray(at)]);
          break;
        case 3: // insert a JSON-ish character
          b = Buffer.concat([b.subarray(0, at), Buffer.from(r.pick(['{', '}', '[', ']', '"', ',', ':', '\\', '0', '-', 'e', '.', ' ', 'n', '\n', '\u0000', 'é'])), b.subarray(at)]);
          break;
        case 4: { // swap neighbours
          if (at + 1 < b.length) {
            const c = Buffer.from(b);
            [c[at], c[at + 1]] = [c[at + 1]!, c[at]!];
            b = c;
          }
          break;
        }
        default: // flip one bit
        {
          const c = Buffer.from(b);
          c[at] = c[at]! ^ (1 << r.int(8));
          b = c;
        }
      }
    }
    return isUtf8(b) && r.chance(0.5) ? b.toString('utf8') : b;
  }

  // -- the menu -----------------------------------------------------------------------------------------------

  private make(now: number): { category: string; text: string | Buffer } {
    const r = this.r;
    const roll = r.next();
    const f = () => JSON.stringify(this.someField());
    const req = () => JSON.stringify(this.requiredField());

    // rare, heavy ones first
    if (roll < 0.0005) return { category: 'array-1000', text: this.array(1000, () => this.validReading(r.chance(0.5) ? 'none' : 'epoch')) };
    if (roll < 0.001) return { category: 'array-1001', text: this.array(1001, () => this.validReading()) };
    if (roll < 0.0015) return { category: 'near-256k', text: padTo(this.validReading(), MAX_PAYLOAD - r.int(3)) };
    if (roll < 0.002) return { category: 'over-256k', text: padTo(this.validReading(), MAX_PAYLOAD + 1 + r.int(50_000)) };
    if (roll < 0.0025) return { category: 'over-256k-string', text: `{${req()}:1,"pad":"${'x'.repeat(MAX_PAYLOAD)}"}` };
    if (roll < 0.003) return { category: 'deep-array', text: this.deep(1000 + r.int(100_000), '[', ']') };
    if (roll < 0.0035) return { category: 'deep-object', text: `{${req()}:${this.deep(1000 + r.int(20_000), '{"a":', '}')}}` };
    if (roll < 0.004) return { category: 'deep-in-batch', text: `[${this.validReading()},${this.deep(5000 + r.int(20_000), '[', ']')},{"ts":${this.deep(2000, '[', ']')}}]` };
    if (roll < 0.0045) return { category: 'binary-big', text: this.garbage(10_000 + r.int(200_000)) };
    if (roll < 0.006) return { category: 'array-empty', text: r.pick(['[]', ' [ ] ', '[\n]']) };
    if (roll < 0.01) return { category: 'array-mixed-sizes', text: this.array(1 + r.int(200), () => (r.chance(0.8) ? this.validReading() : this.wrongReading())) };

    const c = r.int(24);
    switch (c) {
      case 0:
      case 1:
        return { category: 'valid', text: this.validReading() };
      case 2:
        return { category: 'ts-unique-epoch', text: r.chance(0.5) ? this.validReading('epoch') : this.array(1 + r.int(20), () => this.validReading('epoch')) };
      case 3:
        return { category: 'ts-unique-rfc3339', text: this.validReading('rfc3339') };
      case 4:
        return { category: 'batch-valid', text: this.array(1 + r.int(30), () => this.validReading()) };
      case 5:
        return { category: 'wrong-shape', text: this.wrongShape() };
      case 6:
        return { category: 'wrong-reading', text: r.chance(0.5) ? this.wrongReading() : this.array(1 + r.int(10), () => this.wrongReading()) };
      case 7:
        return { category: 'special-number', text: `{${r.chance(0.7) ? req() : f()}:${r.pick(SPECIAL_NUMBERS)}}` };
      case 8:
        return { category: 'not-a-number', text: `{${req()}:${r.pick(NOT_NUMBERS)}}` };
      case 9:
        return { category: 'unicode', text: this.unicode() };
      case 10:
        return { category: 'raw-bytes', text: this.rawBytes() };
      case 11:
        return { category: 'binary', text: this.garbage(r.int(300)) };
      case 12: {
        const full = r.chance(0.5) ? this.validReading() : this.array(2 + r.int(5), () => this.validReading());
        return { category: 'truncated', text: full.slice(0, r.int(full.length)) };
      }
      case 13:
      case 14:
      case 15:
        return { category: 'mutated', text: this.mutate(r.chance(0.7) ? this.validReading() : this.array(2 + r.int(5), () => this.validReading())) };
      case 16:
        return { category: 'duplicate-keys', text: this.duplicateKeys() };
      case 17:
        return { category: 'typo', text: `{${JSON.stringify(r.pick(TYPOS[this.kind]))}:${r.int(50)}${r.chance(0.5) ? `,${req()}:1` : ''}}` };
      case 18:
        return { category: 'bad-ts', text: `{${req()}:1,"ts":${this.badTs(now)}}` };
      case 19:
        return { category: 'junk-key', text: `{${req()}:1,${JSON.stringify(r.pick(JUNK_KEYS))}:${r.pick(['1', '{}', '"x"', 'null', '[]'])}}` };
      case 20:
        return { category: 'whitespace', text: `${r.pick([' ', '\n', '\t', '\r\n', ''])}${this.validReading()}${r.pick([' ', '\n\n', '\t', ''])}` };
      case 21:
        return { category: 'trailing-junk', text: `${this.validReading()}${r.pick([',', ']', '}', 'x', '{}', '\u0000', ' //', '[1]'])}` };
      case 22:
        return { category: 'scalar', text: r.pick(['1', '-0', '"pm25"', 'true', 'false', 'null', '""', '1e308', '"\\u0000"', '  null  ']) };
      default:
        return { category: 'range-edges', text: this.rangeEdges() };
    }
  }

  private wrongShape(): string {
    const r = this.r;
    const req = JSON.stringify(this.requiredField());
    return r.pick([
      `{${req}:"12"}`, `{${req}:true}`, `{${req}:null}`, `{${req}:[12]}`, `{${req}:{"value":12}}`, `{}`, `{"":1}`,
      `[[{${req}:1}]]`, `[1,2,3]`, `["${req}"]`, `[null]`, `[{}]`, `{"readings":[{${req}:1}]}`, `{${req}:{}}`,
      `{"0":1}`, `[true,{${req}:1}]`, `{${req}:"1e3"}`, `{${req}:""}`, `{${req}:[]}`, `[[]]`, `[{${req}:1},[]]`,
    ]);
  }

  private wrongReading(): string {
    const r = this.r;
    const req = JSON.stringify(this.requiredField());
    const [min, max] = SPEC_FIELDS[this.kind][this.someField()]!;
    const field = JSON.stringify(this.someField());
    return r.pick([
      `{${req}:${max + 1}}`, `{${req}:${min - 1}}`, `{${field}:${min - 0.001}}`, `{${field}:${max * 10 + 1}}`, `{${req}:"x"}`,
      `{"battery":50}`, `{"rssi":-40}`, `{${req}:1,"unknown":1}`, `"reading"`, `42`, `null`, `[]`, `{${req}:1,"ts":"now"}`,
      `{${req}:1,"ts":1.5}`,
    ]);
  }

  private unicode(): string {
    const r = this.r;
    const s = JSON.stringify(r.pick(STRINGS));
    const req = JSON.stringify(this.requiredField());
    return r.pick([
      `{${s}:1}`, `{${req}:${s}}`, `{${req}:1,${s}:2}`, `[${s}]`, s, `{${req}:1,"ts":${s}}`,
      `{"\\ud800":1}`, `{${req}:"\\ud83d\\ude00"}`, `{"pm\\u0032\\u0035":1}`, `{"\\u0070m25":1}`, `{${req}:1,"note":"\\u0000"}`,
    ]);
  }

  private rawBytes(): Buffer {
    const r = this.r;
    const req = JSON.stringify(this.requiredField());
    const raw = r.pick([
      Buffer.from([0xed, 0xa0, 0x80]), // lone high surrogate, encoded as raw bytes (CESU): not UTF-8
      Buffer.from([0xed, 0xbf, 0xbf]),
      Buffer.from([0xc0, 0xaf]), // overlong
      Buffer.from([0xff, 0xfe]),
      Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
      Buffer.from([0xe2, 0x82]), // truncated sequence
      Buffer.from([0x00]), // raw NUL: valid UTF-8, not allowed unescaped in a JSON string
      Buffer.from([0x01, 0x1f]),
      Buffer.from('\u202e', 'utf8'),
      Buffer.from('😀', 'utf8'),
    ]);
    const pos = r.int(3);
    if (pos === 0) return Buffer.concat([Buffer.from(`{${req}:1,"n":"`), raw, Buffer.from('"}')]);
    if (pos === 1) return Buffer.concat([Buffer.from('{"'), raw, Buffer.from(`":1,${req}:2}`)]);
    return Buffer.concat([raw, Buffer.from(`{${req}:1}`)]);
  }

  private duplicateKeys(): string {
    const r = this.r;
    const req = JSON.stringify(this.requiredField());
    return r.pick([
      `{${req}:1,${req}:2}`, `{${req}:"x",${req}:3}`, `{${req}:3,${req}:"x"}`, `{${req}:-5,${req}:5}`, `{${req}:5,${req}:-5}`,
      `{${req}:1,"ts":"nope","ts":"still no"}`,
    ]);
  }

  private badTs(now: number): string {
    const r = this.r;
    return r.pick([
      `"yesterday"`, `""`, `"now"`, `${this.tsBase + 0.5}`, `${now + 365 * DAY}`, `${now - 30 * DAY}`, `${now - 8 * DAY}`, `-1`, `null`,
      `true`, `{}`, `[]`, `1e999`, `${2 ** 53 + 1}`, `"${rfc3339(now + 2 * DAY, 0)}"`, `"${rfc3339(now - 10 * DAY, 420)}"`,
      `"2024-02-30T00:00:00Z"`, `"2024-13-01T00:00:00Z"`, `"2024-06-01T24:00:00Z"`, `"2024-06-01T00:00:00+25:00"`,
      `"${new Date(now - DAY).toUTCString()}"`, `"${now - DAY}"`, `"0"`, `0`, `8640000000000001`,
    ]);
  }

  private rangeEdges(): string {
    const r = this.r;
    const fields = SPEC_FIELDS[this.kind];
    const name = this.someField();
    const [min, max] = fields[name]!;
    const v = r.pick([min, max, min - Number.EPSILON * Math.max(1, Math.abs(min)) * 4, max + Math.max(1e-9, max * 1e-12), min - 1e-9, max + 1e-9]);
    const required = SPEC_REQUIRED[this.kind].includes(name) ? '' : `${JSON.stringify(this.requiredField())}:1,`;
    return `{${required}${JSON.stringify(name)}:${v}}`;
  }
}

/** RFC 3339 with the given offset in minutes, millisecond precision. */
export function rfc3339(ms: number, offsetMin: number): string {
  const local = new Date(ms + offsetMin * 60_000).toISOString().slice(0, 23);
  if (offsetMin === 0) return `${local}Z`;
  const sign = offsetMin < 0 ? '-' : '+';
  const a = Math.abs(offsetMin);
  return `${local}${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/** `json` padded with trailing whitespace to exactly `bytes` bytes (still the same JSON value). */
export function padTo(json: string, bytes: number): string {
  const len = Buffer.byteLength(json);
  return bytes > len ? json + ' '.repeat(bytes - len) : json;
}

// ---------------------------------------------------------------------------------------------------------------
// Topics

export interface TopicCase {
  topic: Buffer;
  label: string;
}

/** Topics a device of `kind`/`id` must not publish to. `others` are registered devices it must not speak for. */
export function hostileTopics(r: Rng, kind: FuzzKind, id: string, others: Array<{ id: string; kind: FuzzKind }>): TopicCase {
  const own = `sensors/${kind}/${id}/telemetry`;
  const other = r.pick(others);
  const otherKind = r.pick((['air', 'flood', 'traffic'] as const).filter((k) => k !== kind));
  const s = (label: string, topic: string): TopicCase => ({ label, topic: Buffer.from(topic, 'utf8') });
  for (;;) {
    let c: TopicCase;
    switch (r.int(14)) {
      case 0: c = s('foreign device', `sensors/${other.kind}/${other.id}/telemetry`); break;
      case 1: c = s('foreign device status', `sensors/${other.kind}/${other.id}/status`); break;
      case 2: c = s('unknown device', `sensors/${kind}/${r.pick(['nobody', 'x', `${id}-2`, id.toUpperCase(), `${id} `, 'a'.repeat(64)])}/telemetry`); break;
      case 3: c = s('wrong kind', `sensors/${r.pick([otherKind, kind.toUpperCase(), 'water', '', 'sensors'])}/${id}/telemetry`); break;
      case 4: c = s('extra level', r.pick([`${own}/x`, `${own}/`, `/${own}`, `sensors/${kind}/${id}/telemetry/telemetry`, `sensors/${kind}/${id}/x/telemetry`, `sensors/sensors/${kind}/${id}/telemetry`])); break;
      case 5: c = s('missing level', r.pick([`sensors/${kind}/${id}`, `sensors/${id}/telemetry`, `${kind}/${id}/telemetry`, 'sensors', `sensors/${kind}`])); break;
      case 6: c = s('wildcard', r.pick(['#', '+', 'sensors/#', `sensors/${kind}/+/telemetry`, `sensors/+/${id}/telemetry`, `sensors/${kind}/${id}/#`, `sensors/${kind}/${id}/+`, `${own}#`, `sensors/${kind}/${id}+/telemetry`])); break;
      case 7: c = s('empty levels', r.pick(['/', '//', '///', `sensors//${id}/telemetry`, `sensors/${kind}//telemetry`, `sensors/${kind}/${id}//telemetry`, 'sensors/air//'])); break;
      case 8: c = s('unicode', r.pick([`sensors/${kind}/${id}\u202e/telemetry`, `sensors/${kind}/${id}/telemetry😀`, `sensors/${kind}/${id.replace(/a/g, 'а')}/telemetry`, `sensors/${kind}/${id}\u200b/telemetry`, `sensors/${kind}/${id}/telemetry\u0000`, `séñsors/${kind}/${id}/telemetry`])); break;
      case 9: c = s('system', r.pick(['$SYS/broker/load', '$SYS', `$SYS/${own}`, '$share/g/sensors/air/x/telemetry', '$queue/x', `alerts/${kind}/${id}`, 'alerts/#'])); break;
      case 10: c = s('other channel', r.pick([`sensors/${kind}/${id}/rejections`, `sensors/${kind}/${id}/alerts`, `sensors/${kind}/${id}/Telemetry`, `sensors/${kind}/${id}/telemetry `, `sensors/${kind}/${id}/commands`])); break;
      case 11: c = { label: 'raw bytes', topic: Buffer.concat([Buffer.from(`sensors/${kind}/`), r.pick([Buffer.from([0xff]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc0, 0xaf]), Buffer.from([0x00])]), Buffer.from(`${id}/telemetry`)]) }; break;
      case 12: c = s('long', `sensors/${kind}/${'x'.repeat(100 + r.int(20_000))}/telemetry`); break;
      default: {
        // a mutated own topic
        const b = Buffer.from(own);
        const at = r.int(b.length);
        const op = r.int(3);
        const m = op === 0 ? Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]) : op === 1 ? Buffer.concat([b.subarray(0, at + 1), b.subarray(at)]) : Buffer.from(b).fill((b[at]! + 1 + r.int(254)) & 0xff, at, at + 1);
        c = { label: 'mutated own topic', topic: m };
      }
    }
    const text = c.topic.toString('utf8');
    // a mutation may land back on a topic the device is allowed to use: that is no attack
    if (text === own || text === `sensors/${kind}/${id}/status`) continue;
    return c;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Raw MQTT 3.1.1 packets, for topics mqtt.js would refuse to send

function remainingLength(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

const str16 = (b: Buffer) => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);

export function connectPacket(clientId: string, username: string, password: string, keepalive = 30): Buffer {
  const body = Buffer.concat([
    str16(Buffer.from('MQTT')),
    Buffer.from([4, 0xc2, keepalive >> 8, keepalive & 0xff]), // level 4, clean session + username + password
    str16(Buffer.from(clientId)),
    str16(Buffer.from(username)),
    str16(Buffer.from(password)),
  ]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

export function publishPacket(topic: Buffer, payload: Buffer, qos: 0 | 1, packetId = 1): Buffer {
  const body = Buffer.concat([str16(topic), qos > 0 ? Buffer.from([packetId >> 8, packetId & 0xff]) : Buffer.alloc(0), payload]);
  return Buffer.concat([Buffer.from([0x30 | (qos << 1)]), remainingLength(body.length), body]);
}

/** A publish header announcing `announced` bytes, for packet-size limits, without sending them. */
export function oversizedPublishHeader(topic: string, announced: number): Buffer {
  return Buffer.concat([Buffer.from([0x30]), remainingLength(announced), str16(Buffer.from(topic))]);
}

export interface RawOutcome {
  connack: number | null;
  /** Whether the server closed the connection after the publish (within the wait). */
  closed: boolean;
  puback: boolean;
}

/**
 * Connect with a raw socket, send one PUBLISH, and report what the server did: CONNACK code, PUBACK, close.
 * Waits at most `waitMs` after the publish for the close.
 */
export function rawPublish(port: number, creds: { id: string; token: string }, topic: Buffer, payload: Buffer, qos: 0 | 1, waitMs = 3000): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const out: RawOutcome = { connack: null, closed: false, puback: false };
    let buf = Buffer.alloc(0);
    let published = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(out);
    };
    socket.on('error', () => undefined);
    socket.on('close', () => {
      out.closed = published;
      finish();
    });
    socket.on('connect', () => socket.write(connectPacket(`${creds.id}-raw-${Math.random().toString(36).slice(2, 8)}`, creds.id, creds.token)));
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const type = buf[0]! >> 4;
        const len = buf[1]!; // every packet we expect back is short
        if (buf.length < 2 + len) return;
        const packet = buf.subarray(0, 2 + len);
        buf = buf.subarray(2 + len);
        if (type === 2) {
          out.connack = packet[3]!;
          if (out.connack !== 0) return finish();
          published = true;
          socket.write(publishPacket(topic, payload, qos, 1));
          timer = setTimeout(finish, waitMs);
        } else if (type === 4) {
          out.puback = true;
        }
      }
    });
    setTimeout(() => {
      if (!published) finish();
    }, 10_000).unref();
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Strings for the API fuzz

export const HOSTILE_STRINGS = [
  '', ' ', 'x', '0', '-1', '1e309', 'NaN', 'null', 'undefined', 'true', '[]', '{}', '%00', '%2e%2e%2f', '../../etc/passwd', '..%2F..%2F',
  "' OR '1'='1", '"; DROP MEASUREMENT air; --', '" OR 1=1 --', 'a\nb', 'a\r\nSet-Cookie: x=1', '$device', '${7*7}', '{{7*7}}',
  '<script>alert(1)</script>', '😀', '🇮🇩', '\u202eabc', 'שלום', '\u0000', '\ud800', 'ＡＢＣ', 'x'.repeat(300), 'y'.repeat(5000),
  'a'.repeat(63), 'a'.repeat(64), '-leading', 'UPPER', 'with space', 'semi;colon', 'comma,comma', 'quote"quote', 'back\\slash',
  '*', '%', '%%', '%zz', '?', '#', '&', '=', '/', '//', 'now', '-15m', '-99999999d', '1m', '0m', '1d', '2d', '-7d', 'mean', 'MEAN',
  '2026-01-31T08:00:00+08:00', '2026-13-31T08:00:00Z', '9999-12-31T23:59:59Z', '0000-01-01T00:00:00Z', '1970-01-01T00:00:00Z',
  'pm25', 'pm25,pm10', 'pm25,pm25', 'pm2.5', ',', ',,,', 'waterLevel', 'vehicleCount', 'time', '*', 'air', 'flood', 'traffic',
  'online', 'offline', 'never_seen', 'open', 'acknowledged', 'resolved', 'admin', 'viewer', 'operator', 'root', 'bootstrap',
  '000000000000', 'ffffffffffff', 'dA==', 'dDE=', 'dDk5OTk5OTk5OTk5OTk5OTk5OQ', 'AAAA', '-1', '1', '10000', '10001', '1000', '1001', '0.5',
  '1e3', '0x10', '99999999999999999999', '-0',
];
