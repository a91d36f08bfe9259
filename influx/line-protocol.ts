// Line protocol for InfluxDB's v1 `/write`, written by hand for our fixed schema: measurements and tag keys are
// constants, tag values come from the validated registry, number fields are floats, and the only free text
// (rejection details, alert messages) goes through `stringField`. The client library's `Point` leaves a trailing
// backslash in a tag and a newline in a string unescaped, which is why this file exists.

import type { LineBuffer } from './line-buffer.js';

const TAG_SPECIALS = /[,= \\\n\r\t]/g;
const MEASUREMENT_SPECIALS = /[, \\\n\r\t]/g;
const CONTROL = /[\u0000-\u001f\u007f]/g;

/** Tag key or value: commas, equals and spaces escaped; a backslash becomes `/`, a control character an escaped space. */
export function escapeTag(value: string): string {
  return value.replace(TAG_SPECIALS, (c) => (c === ',' || c === '=' || c === ' ' ? `\\${c}` : c === '\\' ? '/' : '\\ '));
}

export function escapeMeasurement(value: string): string {
  return value.replace(MEASUREMENT_SPECIALS, (c) => (c === ',' || c === ' ' ? `\\${c}` : c === '\\' ? '/' : '\\ '));
}

/** A string field value, quoted; newlines and other control characters become spaces; at most `max` chars. */
export function stringField(value: string, max = 1024): string {
  const clean = value.length > max ? value.slice(0, max) : value;
  return `"${clean.replace(CONTROL, ' ').replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A float field value. Integers stay floats in line protocol when written without the `i` suffix. */
export function floatField(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
  return String(value);
}

/** `measurement,tagA=x,tagB=y` — tags sorted by key, as InfluxDB stores them. */
export function seriesKey(measurement: string, tags: Record<string, string>): string {
  let key = escapeMeasurement(measurement);
  for (const name of Object.keys(tags).sort()) {
    const value = tags[name];
    if (value === undefined || value === '') continue; // InfluxDB rejects empty tag values
    key += `,${escapeTag(name)}=${escapeTag(value)}`;
  }
  return key;
}

export type FieldValue = number | string;

// Field names are the catalog's few constants: escaped once each, not once per point.
const escapedNames = new Map<string, string>();
function fieldName(name: string): string {
  let escaped = escapedNames.get(name);
  if (escaped === undefined) {
    escaped = escapeTag(name);
    if (escapedNames.size < 10_000) escapedNames.set(name, escaped);
  }
  return escaped;
}

const nameBytes = new Map<string, Buffer>();
function fieldNameBytes(name: string): Buffer {
  let bytes = nameBytes.get(name);
  if (bytes === undefined) {
    bytes = Buffer.from(fieldName(name), 'utf8');
    if (nameBytes.size < 10_000) nameBytes.set(name, bytes);
  }
  return bytes;
}

/**
 * The same text as `line(series, fields, tsMs)` for number fields, written into `out` as a new line; `series` is
 * the series key's UTF-8 bytes. Every value must be finite (validated readings are).
 */
export function writeNumberLine(out: LineBuffer, series: Buffer, fields: Record<string, number>, tsMs: number): void {
  out.newLine();
  out.bytes(series);
  let separator = 32; // ' ' before the first field, ',' between fields
  for (const name in fields) {
    out.byte(separator);
    separator = 44;
    out.bytes(fieldNameBytes(name));
    out.byte(61); // '='
    out.float(fields[name]!);
  }
  out.byte(32);
  out.integer(Math.trunc(tsMs));
}

/** One line: series key, fields (numbers as floats, strings quoted), timestamp in ms. */
export function line(series: string, fields: Record<string, FieldValue>, tsMs: number): string {
  let out = '';
  for (const name in fields) {
    const value = fields[name]!;
    out += `${out ? ',' : ''}${fieldName(name)}=${typeof value === 'number' ? floatField(value) : stringField(value)}`;
  }
  return `${series} ${out} ${Math.trunc(tsMs)}`;
}

/** Measurement and the value of one tag of a line we wrote — used to attribute a line InfluxDB refused. */
export function describeLine(text: string): { measurement: string; tags: Record<string, string> } {
  const head = text.slice(0, text.search(/(?<!\\) /) >>> 0);
  const parts = head.split(/(?<!\\),/);
  const tags: Record<string, string> = {};
  for (const part of parts.slice(1)) {
    const eq = part.search(/(?<!\\)=/);
    if (eq > 0) tags[part.slice(0, eq).replace(/\\(.)/g, '$1')] = part.slice(eq + 1).replace(/\\(.)/g, '$1');
  }
  return { measurement: (parts[0] ?? '').replace(/\\(.)/g, '$1'), tags };
}
