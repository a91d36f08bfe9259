// The parser and validation stages in one pass over the payload's bytes, for the shape nearly every device sends:
// a JSON object (or an array of them) of known fields with plain numbers in range and an optional `ts` (integer
// epoch ms or RFC 3339) inside the accepted window. No UTF-8 check, no string, no `JSON.parse` tree: the bytes are
// read once into the reading objects the log's consumers are handed anyway.
//
// It only ever takes a shortcut to the verdict the full path (decode.ts → validate.ts) reaches: anything else — an
// unknown or repeated key, a string, an escape, a non-ASCII byte, a reading that would be refused — answers false, and the full path judges the message and explains the
// refusal. test/unit/ingest-corpus.test.ts holds the fuzz corpus's verdicts to the ones recorded before this file
// existed.
import { CATALOG, KINDS, MAX_PAYLOAD_BYTES, MAX_READINGS_PER_MESSAGE, type Kind } from '../catalog/index.js';
import { parseRfc3339 } from './rfc3339.js';

interface Field {
  name: string;
  bytes: Buffer;
  min: number;
  max: number;
  required: boolean;
}

const FIELDS: Record<Kind, Field[]> = Object.fromEntries(
  KINDS.map((kind) => [
    kind,
    CATALOG[kind].fields.map((f) => ({ name: f.name, bytes: Buffer.from(f.name, 'latin1'), min: f.min, max: f.max, required: CATALOG[kind].requiredOneOf.includes(f.name) })),
  ]),
) as Record<Kind, Field[]>;

/** Exact powers of ten: an integer mantissa below 10^15 divided by one of these is the correctly rounded double. */
const POW10 = Array.from({ length: 16 }, (_, k) => 10 ** k);
const MAX_DIGITS = 15;
const MAX_EPOCH_DIGITS = 16;
const MAX_EPOCH = 8.64e15;

const QUOTE = 34;
const COMMA = 44;
const PLUS = 43;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const COLON = 58;
const OPEN_ARRAY = 91;
const BACKSLASH = 92;
const CLOSE_ARRAY = 93;
const OPEN_OBJECT = 123;
const CLOSE_OBJECT = 125;

export interface ScanWindow {
  now: number;
  maxAgeMs: number;
  maxFutureMs: number;
}

/**
 * Reused for every message: `scan` fills `values` and `ts` (NaN where the reading has none) for `count` readings,
 * valid until the next `scan`.
 */
export class ReadingScanner {
  count = 0;
  batch = false;
  readonly values: Array<Record<string, number>> = [];
  readonly ts: number[] = [];
  private p: Buffer = Buffer.alloc(0);
  private i = 0;
  private fields: Field[] = [];
  private window: ScanWindow = { now: 0, maxAgeMs: 0, maxFutureMs: 0 };

  /** True when every reading of the payload is valid and has been read; false leaves the message to the full path. */
  scan(payload: Buffer, kind: Kind, window: ScanWindow): boolean {
    this.count = 0;
    if (payload.length > MAX_PAYLOAD_BYTES) return false;
    this.p = payload;
    this.i = 0;
    this.fields = FIELDS[kind];
    this.window = window;
    const ok = this.root();
    this.p = EMPTY;
    if (!ok) {
      this.values.length = 0;
      this.count = 0;
    }
    return ok;
  }

  private root(): boolean {
    const p = this.p;
    this.space();
    if (p[this.i] === OPEN_OBJECT) {
      this.batch = false;
      if (!this.object()) return false;
    } else if (p[this.i] === OPEN_ARRAY) {
      this.batch = true;
      this.i++;
      this.space();
      for (;;) {
        if (p[this.i] !== OPEN_OBJECT || !this.object() || this.count > MAX_READINGS_PER_MESSAGE) return false;
        this.space();
        const c = p[this.i];
        this.i++;
        if (c === CLOSE_ARRAY) break;
        if (c !== COMMA) return false;
        this.space();
      }
    } else {
      return false;
    }
    this.space();
    return this.i === p.length;
  }

  /** One reading object, at its `{`. */
  private object(): boolean {
    const p = this.p;
    this.i++;
    this.space();
    const values: Record<string, number> = {};
    let ts = Number.NaN;
    let hasTs = false;
    let stringTs = false;
    let required = false;
    for (;;) {
      if (p[this.i] !== QUOTE) return false;
      const start = ++this.i;
      const end = this.plainString();
      if (end < 0) return false;
      this.space();
      if (p[this.i] !== COLON) return false;
      this.i++;
      this.space();
      if (end - start === 2 && p[start] === 116 /* t */ && p[start + 1] === 115 /* s */) {
        if (hasTs) return false;
        hasTs = true;
        stringTs = p[this.i] === QUOTE;
        ts = this.timestamp();
        if (Number.isNaN(ts)) return false;
      } else {
        const field = this.field(start, end);
        if (field === undefined || field.name in values) return false;
        const value = this.number();
        if (!(value >= field.min && value <= field.max)) return false;
        values[field.name] = value;
        if (field.required) required = true;
      }
      this.space();
      const c = p[this.i];
      this.i++;
      if (c === CLOSE_OBJECT) break;
      if (c !== COMMA) return false;
      this.space();
    }
    if (!required) return false;
    let read = values;
    if (hasTs) {
      const { now, maxAgeMs, maxFutureMs } = this.window;
      if (ts > now + maxFutureMs || ts < now - maxAgeMs) return false;
      // an RFC 3339 `ts` sent the reading through zod's schema before, which hands the fields back in the
      // catalog's order: the stored line keeps that order
      if (stringTs) {
        read = {};
        for (const f of this.fields) if (f.name in values) read[f.name] = values[f.name]!;
      }
    }
    this.values[this.count] = read;
    this.ts[this.count] = ts;
    this.count++;
    return true;
  }

  /** After an opening quote: the index of the closing one (the cursor moves past it), or -1 if not plain ASCII. */
  private plainString(): number {
    const p = this.p;
    const n = p.length;
    let i = this.i;
    for (; i < n; i++) {
      const b = p[i]!;
      if (b === QUOTE) {
        this.i = i + 1;
        return i;
      }
      if (b === BACKSLASH || b < 0x20 || b >= 0x80) return -1;
    }
    return -1;
  }

  private field(start: number, end: number): Field | undefined {
    const p = this.p;
    const len = end - start;
    outer: for (const f of this.fields) {
      const b = f.bytes;
      if (b.length !== len) continue;
      for (let k = 0; k < len; k++) if (b[k] !== p[start + k]) continue outer;
      return f;
    }
    return undefined;
  }

  /** `ts`: integer epoch ms, or an RFC 3339 string; NaN for anything else (the full path decides). */
  private timestamp(): number {
    const p = this.p;
    if (p[this.i] === QUOTE) {
      const start = ++this.i;
      const end = this.plainString();
      if (end < 0) return Number.NaN;
      return parseRfc3339(p.toString('latin1', start, end)) ?? Number.NaN;
    }
    const start = this.i;
    let value = 0;
    while (this.i < p.length && p[this.i]! >= ZERO && p[this.i]! <= NINE) value = value * 10 + (p[this.i++]! - ZERO);
    const digits = this.i - start;
    if (digits === 0 || digits > MAX_EPOCH_DIGITS || (digits > 1 && p[start] === ZERO)) return Number.NaN;
    const next = p[this.i];
    if (next === DOT || next === 101 /* e */ || next === 69 /* E */ || value > MAX_EPOCH) return Number.NaN;
    return value;
  }

  /**
   * A JSON number (RFC 8259 §6), exactly as JSON.parse reads it; NaN when the bytes are not one. Up to 15 significant
   * digits without an exponent (what sensors mostly send) it is computed here: the mantissa and the power of ten are
   * exact doubles, so their quotient is the correctly rounded value. Longer ones (a float as JSON.stringify writes
   * it, `0.20618556701030927`) and exponents are handed to `Number()`, the conversion JSON.parse uses, once the
   * grammar is checked: a short latin1 string, not the full path.
   */
  private number(): number {
    const p = this.p;
    const start = this.i;
    let negative = false;
    if (p[this.i] === MINUS) {
      negative = true;
      this.i++;
    }
    let mantissa = 0;
    let digits = 0;
    let scale = 0;
    let b = p[this.i];
    if (b === ZERO) {
      this.i++;
      b = p[this.i];
      if (b !== undefined && b >= ZERO && b <= NINE) return Number.NaN;
    } else if (b !== undefined && b > ZERO && b <= NINE) {
      while (b !== undefined && b >= ZERO && b <= NINE) {
        mantissa = mantissa * 10 + (b - ZERO);
        digits++;
        b = p[++this.i];
      }
    } else {
      return Number.NaN;
    }
    if (b === DOT) {
      b = p[++this.i];
      if (b === undefined || b < ZERO || b > NINE) return Number.NaN;
      while (b !== undefined && b >= ZERO && b <= NINE) {
        mantissa = mantissa * 10 + (b - ZERO);
        scale++;
        digits++;
        b = p[++this.i];
      }
    }
    let exponent = false;
    if (b === 101 /* e */ || b === 69 /* E */) {
      exponent = true;
      b = p[++this.i];
      if (b === PLUS || b === MINUS) b = p[++this.i];
      if (b === undefined || b < ZERO || b > NINE) return Number.NaN;
      while (b !== undefined && b >= ZERO && b <= NINE) b = p[++this.i];
    }
    // the grammar holds; past 15 digits the mantissa above is not exact (and with an exponent it is not the value)
    if (exponent || digits > MAX_DIGITS) return Number(p.toString('latin1', start, this.i));
    const value = scale === 0 ? mantissa : mantissa / POW10[scale]!;
    return negative ? -value : value;
  }

  private space(): void {
    const p = this.p;
    let b = p[this.i];
    while (b === 32 || b === 10 || b === 13 || b === 9) b = p[++this.i];
  }
}

const EMPTY = Buffer.alloc(0);
