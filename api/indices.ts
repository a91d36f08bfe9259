// The `indices` of SPEC §5 `latest`: ISPU for air, flood alert level for gauges, level of service for traffic.
//
// ISPU averaging (DOMAIN.md): KLHK's table labels the breakpoints as 24-hour averages, so Pantau computes each
// pollutant's trailing 24-hour mean — the mean of the hourly means, so an hour with many readings does not
// outweigh a quiet one — and reports how many hours of data it covered. Beside it, the hourly PM2.5 sub-index
// KLHK publishes every hour.
import { floodLevel, type FloodThresholds } from '../catalog/flood-levels.js';
import { ISPU_POLLUTANTS, ispu, subIndex, ispuCategory, type IspuPollutant } from '../catalog/ispu.js';
import { trafficLos, type TrafficThresholds } from '../catalog/traffic-los.js';
import type { Kind } from '../catalog/index.js';
import { quoteIdentifier, type InfluxClient } from '../influx/client.js';

export interface IspuIndex {
  value: number;
  category: string;
  dominant: string;
  hoursCovered: number;
  averaging: '24h';
  subIndices: Record<string, number>;
  pm25Hourly: { value: number; category: string } | null;
}

export interface Indices {
  ispu?: IspuIndex | null;
  alertLevel?: 'normal' | 'waspada' | 'siaga' | 'awas' | null;
  los?: 'A' | 'B' | 'C' | 'D' | 'E' | 'F' | null;
}

export interface IndexDevice {
  id: string;
  kind: Kind;
  thresholds: Record<string, unknown> | null;
}

/**
 * The 24-hour ISPU of each air device, recomputed at most every `ttlMs`: a trailing 24-hour mean barely moves in a
 * minute, and `latest` is the API's busiest route. Concurrent requests for one device share one query.
 */
export class IspuCache {
  private readonly entries = new Map<string, { at: number; value: IspuIndex | null }>();
  private readonly pending = new Map<string, Promise<IspuIndex | null>>();

  constructor(
    private readonly influx: InfluxClient,
    private readonly ttlMs = 60_000,
  ) {}

  async get(deviceId: string, now = Date.now()): Promise<IspuIndex | null> {
    const entry = this.entries.get(deviceId);
    if (entry && now - entry.at < this.ttlMs) return entry.value;
    return this.refresh(deviceId, now);
  }

  /** The cached value, without querying (undefined when never computed). */
  peek(deviceId: string): IspuIndex | null | undefined {
    return this.entries.get(deviceId)?.value;
  }

  refresh(deviceId: string, now = Date.now()): Promise<IspuIndex | null> {
    let running = this.pending.get(deviceId);
    if (!running) {
      running = ispu24h(this.influx, deviceId, now)
        .then((value) => {
          // no data yet (a new device, readings still on their way to InfluxDB): ask again next time
          if (value) this.entries.set(deviceId, { at: now, value });
          else this.entries.delete(deviceId);
          return value;
        })
        .finally(() => this.pending.delete(deviceId));
      this.pending.set(deviceId, running);
    }
    return running;
  }

  forget(deviceId: string): void {
    this.entries.delete(deviceId);
  }
}

export async function computeIndices(
  ispuOf: (deviceId: string) => Promise<IspuIndex | null>,
  device: IndexDevice,
  values: Record<string, number>,
): Promise<Indices> {
  switch (device.kind) {
    case 'air':
      return { ispu: await ispuOf(device.id) };
    case 'flood':
      return {
        alertLevel: values.waterLevel === undefined ? null : floodLevel(values.waterLevel, device.thresholds as FloodThresholds | null),
      };
    case 'traffic':
      return { los: trafficLos(values, device.thresholds as TrafficThresholds | null)?.los ?? null };
  }
}

export async function ispu24h(influx: InfluxClient, deviceId: string, now = Date.now()): Promise<IspuIndex | null> {
  const select = ISPU_POLLUTANTS.map((p) => `mean(${quoteIdentifier(p)}) AS ${quoteIdentifier(p)}`).join(', ');
  const series = await influx.query(
    `SELECT ${select} FROM "air" WHERE "device_id" = $device AND time > $from AND time <= $to GROUP BY time(1h) fill(none)`,
    { device: deviceId, from: new Date(now - 24 * 3_600_000).toISOString(), to: new Date(now).toISOString() },
  );
  const rows = series[0];
  if (!rows || rows.values.length === 0) return null;
  const sums: Partial<Record<IspuPollutant, { sum: number; n: number }>> = {};
  let lastPm25: number | null = null;
  for (const row of rows.values) {
    for (const pollutant of ISPU_POLLUTANTS) {
      const v = row[rows.columns.indexOf(pollutant)];
      if (typeof v !== 'number') continue;
      const acc = (sums[pollutant] ??= { sum: 0, n: 0 });
      acc.sum += v;
      acc.n++;
      if (pollutant === 'pm25') lastPm25 = v;
    }
  }
  const means: Partial<Record<IspuPollutant, number>> = {};
  for (const pollutant of ISPU_POLLUTANTS) {
    const acc = sums[pollutant];
    if (acc && acc.n > 0) means[pollutant] = acc.sum / acc.n;
  }
  const result = ispu(means);
  if (!result) return null;
  const pm25Hourly = lastPm25 === null ? null : Math.round(subIndex('pm25', lastPm25));
  return {
    value: result.value,
    category: result.category,
    dominant: result.dominant,
    hoursCovered: rows.values.length,
    averaging: '24h',
    subIndices: result.subIndices as Record<string, number>,
    pm25Hourly: pm25Hourly === null ? null : { value: pm25Hourly, category: ispuCategory(pm25Hourly) },
  };
}
