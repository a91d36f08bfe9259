// The river trend on the API's Alert (docs/contract.md §5, `trend`): the rate of rise over the 30 minutes before the
// gauge's newest reading and the time to its next threshold — the same figures as the notifications' words
// (catalog/trend.ts computes both). Read from InfluxDB, one query per gauge, and kept for a few seconds so that a
// console listing alerts every few seconds does not query once per alert and request.
import { z } from 'zod';
import type { Alert } from '../alerts/engine.js';
import type { FloodThresholds } from '../catalog/index.js';
import type { InfluxClient } from '../influx/client.js';
import { riverTrend, TREND_WINDOW_MS, type RiverTrend } from '../catalog/trend.js';
import type { Registry } from '../registry/registry.js';
import type { LatestReadings } from './latest-cache.js';
import { isoMs } from './time-range.js';

export const AlertTrendSchema = z
  .object({
    window: z.literal('30m').describe('the readings the rate is computed from: the 30 minutes up to `asOf`'),
    ratePerHour: z.number().describe('least-squares slope of the water level, in `unit` per hour (negative: falling; |rate| < 1 cm/h is 0)'),
    unit: z.literal('cm'),
    direction: z.enum(['rising', 'falling', 'steady']),
    next: z
      .object({ level: z.enum(['waspada', 'siaga', 'awas']), etaMinutes: z.number().int().positive() })
      .nullable()
      .describe('while rising: the next threshold above the newest level and the minutes until the water reaches it at this rate'),
    asOf: z.string().describe('time of the newest reading the trend is computed from'),
    readings: z.number().int().min(2).describe('how many readings lie in the window'),
  })
  .meta({ id: 'AlertTrend' });
export type AlertTrend = z.infer<typeof AlertTrendSchema>;

/** How long a gauge's trend is reused before InfluxDB is asked again. */
export const TREND_CACHE_MS = 10_000;

interface Cached {
  at: number;
  trend: Promise<AlertTrend | null>;
}

/** True for the alerts that carry a trend: flood-level alerts not yet resolved. */
export function hasTrend(alert: Pick<Alert, 'rule' | 'kind' | 'state'>): boolean {
  return alert.kind === 'flood' && alert.rule === 'flood_level' && alert.state !== 'resolved';
}

/** The trend of a series of `{ts, cm}` in the API's shape; null with fewer than two readings in the window. */
export function trendOf(readings: ReadonlyArray<{ ts: number; cm: number }>, thresholds: FloodThresholds): AlertTrend | null {
  const t = riverTrend(readings, thresholds);
  if (t.rateCmPerHour === null) return null;
  const newest = Math.max(...readings.map((r) => r.ts));
  const rate = t.rateCmPerHour;
  return {
    window: '30m',
    ratePerHour: rate,
    unit: 'cm',
    direction: rate > 0 ? 'rising' : rate < 0 ? 'falling' : 'steady',
    next: t.next ? { level: t.next.level, etaMinutes: t.next.minutes } : null,
    asOf: isoMs(newest),
    readings: readings.filter((r) => r.ts >= newest - TREND_WINDOW_MS).length,
  };
}

export class AlertTrends {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly deps: { influx: Pick<InfluxClient, 'query'>; registry: Pick<Registry, 'device'>; latest: Pick<LatestReadings, 'get'> },
    private readonly cacheMs = TREND_CACHE_MS,
  ) {}

  /** Trends of the alerts that have one, by alert id; a gauge shared by several alerts is read once. */
  async of(alerts: ReadonlyArray<Pick<Alert, 'id' | 'deviceId' | 'rule' | 'kind' | 'state'>>): Promise<Map<string, AlertTrend | null>> {
    const out = new Map<string, AlertTrend | null>();
    await Promise.all(alerts.map(async (a) => {
      out.set(a.id, hasTrend(a) ? await this.ofDevice(a.deviceId) : null);
    }));
    return out;
  }

  /** A gauge's trend, from the cache while it is fresh. A failed query gives null (the alert is still answered). */
  ofDevice(deviceId: string): Promise<AlertTrend | null> {
    const now = Date.now();
    const hit = this.cache.get(deviceId);
    if (hit && now - hit.at < this.cacheMs) return hit.trend;
    const trend = this.compute(deviceId).catch(() => null);
    this.cache.set(deviceId, { at: now, trend });
    // bounded: entries of gauges no longer asked about go once they are stale
    if (this.cache.size > 1000) for (const [id, c] of this.cache) if (now - c.at >= this.cacheMs) this.cache.delete(id);
    return trend;
  }

  /**
   * A gauge's trend up to a reading that may not be in InfluxDB yet (the one that just opened or raised an alert,
   * for its messages): the window's readings from InfluxDB and this one. Not cached. Rejects when InfluxDB fails.
   */
  async upTo(deviceId: string, reading: { ts: number; cm: number }): Promise<RiverTrend | null> {
    const thresholds = this.thresholds(deviceId);
    if (!thresholds) return null;
    const readings = (await this.window(deviceId, reading.ts)).filter((r) => r.ts !== reading.ts);
    readings.push(reading);
    const t = riverTrend(readings, thresholds);
    return t.rateCmPerHour === null ? null : t;
  }

  private thresholds(deviceId: string): FloodThresholds | undefined {
    const device = this.deps.registry.device(deviceId);
    if (!device || device.kind !== 'flood' || !device.thresholds) return undefined;
    return device.thresholds as FloodThresholds;
  }

  /** The gauge's water levels of the 30 minutes up to `newest`, oldest first. */
  private async window(deviceId: string, newest: number): Promise<Array<{ ts: number; cm: number }>> {
    const series = await this.deps.influx.query(
      'SELECT "waterLevel" FROM "flood" WHERE "device_id" = $device AND time >= $from AND time <= $to ORDER BY time ASC',
      { device: deviceId, from: isoMs(newest - TREND_WINDOW_MS), to: isoMs(newest) },
    );
    const rows = series[0]?.values ?? [];
    return rows.filter((r) => typeof r[1] === 'number').map((r) => ({ ts: Number(r[0]), cm: r[1] as number }));
  }

  private async compute(deviceId: string): Promise<AlertTrend | null> {
    const thresholds = this.thresholds(deviceId);
    if (!thresholds) return null;
    // the window ends at the newest reading (as in the messages); without one in memory (after a restart), at now
    const newest = this.deps.latest.get(deviceId)?.ts ?? Date.now();
    return trendOf(await this.window(deviceId, newest), thresholds);
  }

}
