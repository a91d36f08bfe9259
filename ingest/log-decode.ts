// Turns a log record (the line protocol ingest wrote) back into readings and rejections, for consumers that
// catch up from disk after a restart. Records appended by this process reach consumers already decoded; this
// path runs only for what was on disk at start-up or fell out of the in-memory tail.
import { isKind, type Kind, type RejectionReason } from '../catalog/index.js';
import type { LogEntry, LogReading, LogRejection } from './log-types.js';

interface ParsedLine {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, number | string>;
  ts: number;
}

/** Splits at `sep` characters that are not escaped with a backslash and not inside a double-quoted string. */
function splitUnescaped(text: string, sep: string, quotes: boolean): string[] {
  const parts: string[] = [];
  let start = 0;
  let inQuote = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (quotes && c === '"') inQuote = !inQuote;
    else if (!inQuote && c === sep) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

const unescapeKey = (s: string) => s.replace(/\\(.)/g, '$1');

/** One line of the line protocol Pantau writes (ms timestamps); null for anything it cannot read. */
export function parseLine(text: string): ParsedLine | null {
  const sections = splitUnescaped(text, ' ', true);
  if (sections.length !== 3) return null;
  const [seriesPart, fieldPart, tsPart] = sections as [string, string, string];
  const seriesParts = splitUnescaped(seriesPart, ',', false);
  const measurement = unescapeKey(seriesParts[0]!);
  const tags: Record<string, string> = {};
  for (const part of seriesParts.slice(1)) {
    const kv = splitUnescaped(part, '=', false);
    if (kv.length !== 2) return null;
    tags[unescapeKey(kv[0]!)] = unescapeKey(kv[1]!);
  }
  const fields: Record<string, number | string> = {};
  for (const part of splitUnescaped(fieldPart, ',', true)) {
    const eq = part.search(/(?<!\\)=/);
    if (eq <= 0) return null;
    const name = unescapeKey(part.slice(0, eq));
    const raw = part.slice(eq + 1);
    if (raw.startsWith('"')) fields[name] = raw.slice(1, -1).replace(/\\(["\\])/g, '$1');
    else {
      const n = Number(raw.endsWith('i') ? raw.slice(0, -1) : raw);
      if (!Number.isFinite(n)) return null;
      fields[name] = n;
    }
  }
  const ts = Number(tsPart);
  if (!Number.isFinite(ts)) return null;
  return { measurement, tags, fields, ts };
}

/** A record's readings, rejections and the count of other (derived) points. */
export function decodeRecord(record: Buffer, end: number, appendedAt: number): LogEntry {
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
    if (deviceId && isKind(parsed.measurement)) {
      const values: Record<string, number> = {};
      for (const [k, v] of Object.entries(parsed.fields)) if (typeof v === 'number') values[k] = v;
      readings.push({ deviceId, kind: parsed.measurement, ts: parsed.ts, values });
    } else if (deviceId && parsed.measurement === 'rejections' && parsed.tags.kind && isKind(parsed.tags.kind)) {
      rejections.push({
        deviceId,
        kind: parsed.tags.kind as Kind,
        ts: parsed.ts,
        reason: parsed.tags.reason as RejectionReason,
        detail: typeof parsed.fields.detail === 'string' ? parsed.fields.detail : '',
      });
    } else {
      derivedLines++;
    }
  }
  return { end, appendedAt, readings, rejections, derivedLines };
}
