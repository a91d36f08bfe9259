// The one-pass reader of the common payload (ingest/reading-scanner.ts) may only take a shortcut to the verdict of
// the full path (decode.ts → validate.ts): every payload it reads, the full path accepts with the same values, in
// the same order, and the same timestamp; and its line protocol (writeNumberLine) is byte for byte `line()`'s.
import { describe, expect, it } from 'vitest';
import { CATALOG, KINDS } from '../../catalog/index.js';
import { LineBuffer } from '../../influx/line-buffer.js';
import { line, writeNumberLine } from '../../influx/line-protocol.js';
import { decodePayload } from '../../ingest/decode.js';
import { ReadingScanner } from '../../ingest/reading-scanner.js';
import { validateReading } from '../../ingest/validate.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const NOW = 1.75e12;
const WINDOW = { now: NOW, maxAgeMs: 7 * 86_400_000, maxFutureMs: 300_000 };
const NUMBERS = ['0', '-0', '0.0', '1e2', '1E-2', '1e+2', '2.5E3', '1e', '1e+', '1e-', '1.e2', '-1e-2', '0e0', '1e400', '012', '.5', '5.', '-', '1.000000000000001', '123456789012345', '1234567890123456', '0.1', '99.99', '-30.5', '2000', '"12"', 'null', 'true', '1_0', '0.20618556701030927', '12.345678901234567', '00.5', '-.5', '+1'];
const SPACES = ['', ' ', '\n', '\t', '\r\n', '\u00a0'];

describe('one-pass reading scanner', () => {
  it('reads only what the full path accepts, with the same values, order and timestamp, over 50,000 payloads', () => {
    const r = rng(7);
    const int = (n: number) => Math.floor(r() * n);
    const pick = <T>(xs: readonly T[]) => xs[int(xs.length)]!;
    const scanner = new ReadingScanner();
    let read = 0;
    for (let i = 0; i < 50_000; i++) {
      const kind = pick(KINDS);
      const fields = CATALOG[kind].fields;
      const readings: string[] = [];
      const count = r() < 0.8 ? 1 : 1 + int(4);
      for (let k = 0; k < count; k++) {
        const parts: string[] = [];
        const n = int(5);
        for (let f = 0; f < n; f++) {
          const field = r() < 0.97 ? pick(fields) : { name: pick(['ts', 'pm2.5', 'x', '__proto__']), min: 0, max: 1 };
          const span = field.max - field.min;
          const value = r() < 0.8 ? String(Number((field.min + r() * span).toFixed(int(6)))) : r() < 0.5 ? String(field.max + 1) : pick(NUMBERS);
          parts.push(`${pick(SPACES)}"${field.name}"${pick(SPACES)}:${pick(SPACES)}${value}`);
        }
        const t = r();
        if (t < 0.3) parts.push(`"ts":${Math.floor(NOW - r() * 8 * 86_400_000)}`);
        else if (t < 0.4) parts.push(`"ts":"${new Date(NOW - r() * 8 * 86_400_000).toISOString()}"`);
        else if (t < 0.45) parts.push(pick(['"ts":1.5e12', '"ts":-1', '"ts":"2024-02-30T00:00:00Z"', `"ts":${NOW + 3_600_000}`]));
        readings.push(`{${parts.join(',')}}`);
      }
      const text = count === 1 && r() < 0.7 ? readings[0]! : `[${readings.join(pick([',', ' ,\n']))}]${pick(SPACES)}`;
      const payload = Buffer.from(r() < 0.01 ? text.slice(0, int(text.length)) : text);
      if (!scanner.scan(payload, kind, WINDOW)) continue;
      read++;
      const decoded = decodePayload(payload);
      expect(decoded.ok, text).toBe(true);
      if (!decoded.ok) continue;
      expect(scanner.count).toBe(decoded.readings.length);
      for (let k = 0; k < scanner.count; k++) {
        const judged = validateReading(kind, decoded.readings[k], WINDOW);
        expect(judged.ok, text).toBe(true);
        if (!judged.ok) continue;
        expect(Object.entries(scanner.values[k]!), text).toEqual(Object.entries(judged.values));
        expect(Number.isNaN(scanner.ts[k]!) ? undefined : scanner.ts[k], text).toBe(judged.ts);
        const out = new LineBuffer();
        writeNumberLine(out, Buffer.from('air,device_id=a\\ b'), scanner.values[k]!, scanner.ts[k]! || 1);
        expect(out.view().toString(), text).toBe(line('air,device_id=a\\ b', judged.values, judged.ts ?? 1));
      }
    }
    expect(read).toBeGreaterThan(2_000);
  });

  it('reads floats as JSON.stringify writes them (17 significant digits, exponents) with JSON.parse\'s values', () => {
    // a sensor computing `20 * (k / 97)` sends 0.20618556701030927: such a message took the full path (decode, a
    // JSON tree, zod) until the scanner read numbers past 15 digits, and most of a fleet's messages look like it
    const r = rng(11);
    const scanner = new ReadingScanner();
    for (let i = 0; i < 20_000; i++) {
      const kind = KINDS[i % KINDS.length]!;
      const reading: Record<string, number> = {};
      for (const f of CATALOG[kind].fields) if (r() < 0.7 || CATALOG[kind].requiredOneOf.includes(f.name)) reading[f.name] = f.min + r() * (f.max - f.min) * (r() < 0.1 ? 1e-9 : 1);
      reading.ts = Math.floor(NOW - r() * 86_400_000);
      const text = JSON.stringify(reading);
      const payload = Buffer.from(text);
      expect(scanner.scan(payload, kind, WINDOW), text).toBe(true);
      const judged = validateReading(kind, (decodePayload(payload) as { readings: unknown[] }).readings[0], WINDOW);
      expect(judged.ok, text).toBe(true);
      if (!judged.ok) continue;
      expect(Object.entries(scanner.values[0]!), text).toEqual(Object.entries(judged.values));
      for (const [name, value] of Object.entries(scanner.values[0]!)) expect(Object.is(value, reading[name]), `${text} ${name}`).toBe(true);
    }
  });
});
