// Which fields a measurement actually holds (`SHOW FIELD KEYS`), cached for 10 s. InfluxDB builds one iterator
// per aggregate expression whether or not the field exists, so asking only for present fields makes a rollup
// query of an air sensor with five of its eleven fields about twice as fast. A field that appears for the first
// time is seen within the cache time; raw parts of an answer always ask for every field.
import type { InfluxClient } from '../influx/client.js';

const TTL_MS = 10_000;

export class FieldKeys {
  private readonly cache = new Map<string, { at: number; keys: Promise<Set<string>> }>();

  constructor(private readonly influx: InfluxClient) {}

  /** Field keys of `from` (a quoted measurement, optionally retention-policy qualified). */
  keys(from: string, maxAgeMs = TTL_MS, now = Date.now()): Promise<Set<string>> {
    const hit = this.cache.get(from);
    if (hit && now - hit.at < maxAgeMs) return hit.keys;
    const keys = this.influx.query(`SHOW FIELD KEYS FROM ${from}`).then((series) => new Set((series[0]?.values ?? []).map((row) => String(row[0]))));
    this.cache.set(from, { at: now, keys });
    keys.catch(() => this.cache.delete(from));
    return keys;
  }
}
