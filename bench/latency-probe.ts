// Publish → queryable latency: the generators report every reading of a few sampled devices (id, ts, publish
// time); this probe polls InfluxDB for them with a small time window per kind, with bound parameters, and
// records how long after publishing each one became visible to a query. Resolution: the poll interval plus the
// query's own time (the reading is recorded when the answer that contains it arrives — an upper bound).
import type { Kind } from '../catalog/index.js';
import { influxQuery } from '../test/support/influxd.js';
import { COUNT_FIELD } from './fleet.js';
import type { Sample } from './generator-protocol.js';
import { Histogram } from './histogram.js';

export class LatencyProbe {
  readonly histogram = new Histogram();
  private readonly pending = new Map<string, { kind: Kind; device: string; ts: number; publishedAt: number }>();
  private running = false;
  private loop: Promise<void> | undefined;
  queries = 0;
  samples = 0;

  constructor(
    private readonly influxUrl: string,
    private readonly db: string,
    private readonly pollMs = 50,
  ) {}

  add(items: Sample[]): void {
    for (const [device, kind, ts, publishedAt] of items) {
      this.pending.set(`${device}|${ts}`, { kind, device, ts, publishedAt });
      this.samples++;
    }
  }

  start(): void {
    this.running = true;
    this.loop = this.poll();
  }

  /** Stop polling once every sample was seen or `graceMs` passed; returns how many were never seen. */
  async stop(graceMs = 30_000): Promise<{ missing: number }> {
    const until = Date.now() + graceMs;
    while (this.pending.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    this.running = false;
    await this.loop;
    return { missing: this.pending.size };
  }

  private async poll(): Promise<void> {
    while (this.running) {
      const started = Date.now();
      const byKind = new Map<Kind, { devices: Set<string>; from: number }>();
      for (const p of this.pending.values()) {
        const k = byKind.get(p.kind) ?? { devices: new Set<string>(), from: p.ts };
        k.devices.add(p.device);
        k.from = Math.min(k.from, p.ts);
        byKind.set(p.kind, k);
      }
      for (const [kind, { devices, from }] of byKind) {
        const ids = [...devices];
        const params: Record<string, string> = { from: new Date(from).toISOString() };
        ids.forEach((id, i) => (params[`d${i}`] = id));
        const where = ids.map((_, i) => `"device_id" = $d${i}`).join(' OR ');
        try {
          const series = await influxQuery(
            this.influxUrl,
            this.db,
            `SELECT "${COUNT_FIELD[kind]}" FROM "${kind}" WHERE (${where}) AND time >= $from GROUP BY "device_id"`,
            params,
          );
          this.queries++;
          const seenAt = Date.now();
          for (const s of series) {
            const device = s.tags?.device_id;
            for (const row of s.values) {
              const key = `${device}|${Number(row[0])}`;
              const p = this.pending.get(key);
              if (!p) continue;
              this.histogram.record(seenAt - p.publishedAt);
              this.pending.delete(key);
            }
          }
        } catch {
          // InfluxDB busy: try again next round
        }
      }
      const wait = this.pollMs - (Date.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }
}
