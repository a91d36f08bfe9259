// What reached InfluxDB: count(field) per measurement — every reading carries a timestamp unique for its device,
// so the count is exactly the number of distinct readings stored — and the wait for the spool to drain.
import type { Kind } from '../catalog/index.js';
import { influxQuery } from '../test/support/influxd.js';
import { COUNT_FIELD, KIND_CYCLE } from './fleet.js';
import type { BenchPlatform } from './platform-process.js';

export type KindCounts = Record<Kind, number>;

export async function storedCounts(influxUrl: string, db: string): Promise<KindCounts> {
  const out: KindCounts = { air: 0, flood: 0, traffic: 0 };
  for (const kind of KIND_CYCLE) {
    const series = await influxQuery(influxUrl, db, `SELECT count("${COUNT_FIELD[kind]}") FROM "${kind}"`);
    out[kind] = Number(series[0]?.values[0]?.[1] ?? 0);
  }
  return out;
}

export async function rejectionCount(influxUrl: string, db: string): Promise<number> {
  const series = await influxQuery(influxUrl, db, 'SELECT count("count") FROM "rejections"');
  return Number(series[0]?.values[0]?.[1] ?? 0);
}

export const total = (c: KindCounts) => c.air + c.flood + c.traffic;

export interface Drained {
  counts: KindCounts;
  /** When the last reading was stored (ms, performance.now clock), to within the poll interval. */
  storedAt: number;
  timedOut: boolean;
}

/**
 * Wait until the platform's spool is empty and every acknowledged reading is counted, or `expected` readings
 * are, or the count stops moving for 5 s; at most `timeoutMs`.
 */
export async function waitDrained(platform: BenchPlatform, influxUrl: string, db: string, acked: KindCounts, expected: number, timeoutMs = 180_000): Promise<Drained> {
  const deadline = performance.now() + timeoutMs;
  let last = -1;
  let lastChange = performance.now();
  let storedAt = performance.now();
  for (;;) {
    const counts = await storedCounts(influxUrl, db);
    const now = performance.now();
    const n = total(counts);
    if (n !== last) {
      last = n;
      lastChange = now;
      storedAt = now;
    }
    const spool = (await platform.metrics().catch(() => ({}) as Record<string, number>)).pantau_spool_bytes ?? 0;
    const allAcked = KIND_CYCLE.every((k) => counts[k] >= acked[k]);
    if ((allAcked && (n >= expected || spool === 0)) || now - lastChange > 5_000) return { counts, storedAt, timedOut: false };
    if (now > deadline) return { counts, storedAt, timedOut: true };
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Write line protocol straight to InfluxDB (history for the API scenario), in chunks. */
export async function writeLines(influxUrl: string, db: string, lines: string[], chunk = 10_000): Promise<void> {
  for (let i = 0; i < lines.length; i += chunk) {
    const res = await fetch(`${influxUrl}/write?db=${encodeURIComponent(db)}&precision=ms`, { method: 'POST', body: lines.slice(i, i + chunk).join('\n') });
    if (res.status !== 204) throw new Error(`InfluxDB /write answered ${res.status}: ${await res.text()}`);
  }
}
