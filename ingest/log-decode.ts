// Turns a log record (the line protocol ingest wrote) back into readings and rejections, for consumers that
// catch up from disk after a restart. Records appended by this process reach consumers already decoded; this
// path runs only for what was on disk at start-up or fell out of the in-memory tail: that is, under a load the
// consumers cannot keep up with, on every reading, so the reading line is read in place (`readingLine`), and
// only anything else is split into parts (`parseLine`).
import { CATALOG, KINDS, isKind, type Kind, type RejectionReason } from '../catalog/index.js';
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

const BACKSLASH = 92;
const SPACE = 32;
const COMMA = 44;
const EQUALS = 61;
const DEVICE_ID = 'device_id';
const FIELD_NAMES = new Map<string, readonly string[]>(KINDS.map((k) => [k, CATALOG[k].fields.map((f) => f.name)]));

/** The first unescaped `,`, `=` or space from `i` (or `end`); sets `escaped` when it saw a `\\`. */
function tokenEnd(text: string, i: number, end: number, state: { escaped: boolean }): number {
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) {
      state.escaped = true;
      i++;
    } else if (c === COMMA || c === EQUALS || c === SPACE) return i;
  }
  return end;
}

const token = { escaped: false };

/**
 * The common line, a reading as ingest writes it (`<kind>,<tags> <numeric fields> <ts>`), read in place from the
 * record's text without splitting it: what `parseLine` would make of it, or undefined when the line is anything else
 * (a rejection, a derived point, a string field, a field the catalog does not have), which `parseLine` then reads.
 */
export function readingLine(text: string, start: number, end: number): LogReading | undefined {
  // a quote anywhere changes how parseLine splits the line (a string field, or a quote in a tag): not this path
  const quote = text.indexOf('"', start);
  if (quote >= 0 && quote < end) return undefined;
  const comma = text.indexOf(',', start);
  if (comma < 0 || comma >= end) return undefined;
  const kind = text.slice(start, comma);
  const names = FIELD_NAMES.get(kind);
  if (!names) return undefined;
  // tags: only device_id is kept
  let deviceId: string | undefined;
  let i = comma + 1;
  for (;;) {
    token.escaped = false;
    const eq = tokenEnd(text, i, end, token);
    if (eq >= end || text.charCodeAt(eq) !== EQUALS) return undefined;
    const isDevice = !token.escaped && eq - i === DEVICE_ID.length && text.startsWith(DEVICE_ID, i);
    token.escaped = false;
    const valueEnd = tokenEnd(text, eq + 1, end, token);
    if (valueEnd >= end || text.charCodeAt(valueEnd) === EQUALS) return undefined;
    if (isDevice) deviceId = token.escaped ? unescapeKey(text.slice(eq + 1, valueEnd)) : text.slice(eq + 1, valueEnd);
    i = valueEnd + 1;
    if (text.charCodeAt(valueEnd) === SPACE) break;
  }
  if (!deviceId) return undefined;
  // fields: catalog names, numbers
  const values: Record<string, number> = {};
  for (;;) {
    let name: string | undefined;
    for (const n of names) {
      if (text.startsWith(n, i) && text.charCodeAt(i + n.length) === EQUALS) {
        name = n;
        break;
      }
    }
    if (name === undefined) return undefined;
    let j = i + name.length + 1;
    const from = j;
    for (; j < end; j++) {
      const c = text.charCodeAt(j);
      if (c === COMMA || c === SPACE) break;
      if (c === 34 /* " */ || c === BACKSLASH) return undefined;
    }
    if (j >= end || j === from) return undefined;
    const raw = text.charCodeAt(j - 1) === 105 /* i */ ? text.slice(from, j - 1) : text.slice(from, j);
    const n = Number(raw);
    if (!Number.isFinite(n)) return undefined;
    values[name] = n;
    i = j + 1;
    if (text.charCodeAt(j) === SPACE) break;
  }
  for (let k = i; k < end; k++) if (text.charCodeAt(k) === SPACE) return undefined;
  const ts = Number(text.slice(i, end));
  if (i === end || !Number.isFinite(ts)) return undefined;
  return { deviceId, kind: kind as Kind, ts, values };
}

/** A record's readings, rejections and the count of other (derived) points. */
export function decodeRecord(record: Buffer, end: number, appendedAt: number): LogEntry {
  const readings: LogReading[] = [];
  const rejections: LogRejection[] = [];
  let derivedLines = 0;
  const all = record.toString('utf8');
  for (let start = 0; start < all.length; ) {
    let stop = all.indexOf('\n', start);
    if (stop < 0) stop = all.length;
    const from = start;
    start = stop + 1;
    if (stop === from) continue;
    const fast = readingLine(all, from, stop);
    if (fast) {
      readings.push(fast);
      continue;
    }
    const parsed = parseLine(all.slice(from, stop));
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
