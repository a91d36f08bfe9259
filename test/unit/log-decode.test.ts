// The log's decoder (ingest/log-decode.ts) reads a reading line in place, without splitting it, and hands anything
// else to `parseLine`. Consumers that catch up from disk must get exactly what the split-everything reading gave:
// the same readings (values in the same order), rejections and count of derived lines, over lines as ingest writes
// them (escaped tags, every number format) and over lines damaged at random.
import { describe, expect, it } from 'vitest';
import { CATALOG, KINDS, type Kind } from '../../catalog/index.js';
import { line, seriesKey } from '../../influx/line-protocol.js';
import { decodeRecord, parseLine, readingLine } from '../../ingest/log-decode.js';
import type { LogEntry, LogReading, LogRejection } from '../../ingest/log-types.js';

/** The decoder as it was: every line split into its parts by parseLine. */
function splitDecode(record: Buffer, end: number, appendedAt: number): LogEntry {
  const readings: LogReading[] = [];
  const rejections: LogRejection[] = [];
  let derivedLines = 0;
  for (const text of record.toString('utf8').split('\n')) {
    if (text.length === 0) continue;
    const parsed = parseLine(text);
    if (!parsed) {
      derivedLines++;
      continue;
    }
    const deviceId = parsed.tags.device_id;
    if (deviceId && (KINDS as readonly string[]).includes(parsed.measurement)) {
      const values: Record<string, number> = {};
      for (const [k, v] of Object.entries(parsed.fields)) if (typeof v === 'number') values[k] = v;
      readings.push({ deviceId, kind: parsed.measurement as Kind, ts: parsed.ts, values });
    } else if (deviceId && parsed.measurement === 'rejections' && parsed.tags.kind && (KINDS as readonly string[]).includes(parsed.tags.kind)) {
      rejections.push({ deviceId, kind: parsed.tags.kind as Kind, ts: parsed.ts, reason: parsed.tags.reason as LogRejection['reason'], detail: typeof parsed.fields.detail === 'string' ? parsed.fields.detail : '' });
    } else {
      derivedLines++;
    }
  }
  return { end, appendedAt, readings, rejections, derivedLines };
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const PLACES = ['Samarinda', 'Sungai Pinang', 'Balikpapan Kota', 'a,b', 'x=y', 'back\\slash', 'Loa Janan Ilir', ''];
const NUMBERS = [0, -0, 1e-7, 1.5e21, -30.5, 0.20618556701030927, 123456789012345, 99.99, 2 ** 53 + 2];
const JUNK = ['"', '\\', ' ', ',', '=', 'i', '\n', 'x', '"a b"'];

describe('log record decoding', () => {
  it('reads what the split-everything decoder read, over 20,000 records of ingest\'s lines and damaged ones', () => {
    const r = rng(3);
    const int = (n: number) => Math.floor(r() * n);
    const pick = <T>(xs: readonly T[]) => xs[int(xs.length)]!;
    let readings = 0;
    let inPlace = 0;
    for (let n = 0; n < 20_000; n++) {
      const lines: string[] = [];
      for (let k = 1 + int(4); k > 0; k--) {
        const kind = pick(KINDS);
        const id = pick(['sensor-1', 'aq-samarinda-07', 'gauge 2', 'g,3', 'g=4']);
        const roll = r();
        let text: string;
        if (roll < 0.75) {
          const values: Record<string, number> = {};
          for (const f of CATALOG[kind].fields) if (r() < 0.6) values[f.name] = r() < 0.3 ? pick(NUMBERS) : Number((r() * 500).toFixed(int(8)));
          if (Object.keys(values).length === 0) values[CATALOG[kind].fields[0]!.name] = 1;
          text = line(seriesKey(kind, { device_id: id, city: pick(PLACES), district: pick(PLACES) }), values, 1.7e12 + int(1e9));
        } else if (roll < 0.85) {
          text = line(seriesKey('rejections', { device_id: id, kind, reason: 'out_of_range' }), { detail: pick(['too high', 'a "quoted" one', 'x=1, y=2']), count: 1 }, 1.7e12);
        } else if (roll < 0.9) {
          text = line(seriesKey('device_state', { device_id: id }), { online: 1, status: 'online' }, 1.7e12);
        } else {
          text = line(seriesKey(kind, { device_id: id, city: pick(PLACES) }), { [pick(CATALOG[kind].fields).name]: pick(NUMBERS), ...(r() < 0.3 ? { other: 5 } : {}) }, 1.7e12);
        }
        // damage: a character inserted, replaced or cut somewhere
        if (r() < 0.3) {
          const at = int(text.length + 1);
          const what = r();
          text = what < 0.4 ? text.slice(0, at) + pick(JUNK) + text.slice(at) : what < 0.7 ? text.slice(0, at) + pick(JUNK) + text.slice(at + 1) : text.slice(0, at);
        }
        lines.push(text);
      }
      const record = Buffer.from(lines.join('\n') + (r() < 0.5 ? '\n' : ''));
      const want = splitDecode(record, 10, 20);
      const got = decodeRecord(record, 10, 20);
      expect(got, lines.join(' ⏎ ')).toStrictEqual(want);
      for (const [i, reading] of got.readings.entries()) {
        expect(Object.keys(reading.values), lines.join(' ⏎ ')).toEqual(Object.keys(want.readings[i]!.values));
        for (const [name, value] of Object.entries(reading.values)) expect(Object.is(value, want.readings[i]!.values[name])).toBe(true);
      }
      readings += got.readings.length;
      for (const text of lines) if (readingLine(text, 0, text.length)) inPlace++;
    }
    expect(readings).toBeGreaterThan(20_000);
    // and most of ingest's reading lines took the in-place path, not parseLine
    expect(inPlace).toBeGreaterThan(readings * 0.6);
  });
});
