// Computing rollup buckets from raw readings (docs/contract.md §4, §9). An hourly bucket is computed from the raw points of
// its hour; a daily bucket from the hourly buckets of its local day (or from raw points when the zone's midnight
// is not on a whole UTC hour). Buckets are grouped by device_id, city and district exactly as the raw series are,
// so a device that moved city has one rollup row per series and Σ over them is still exact. Recomputing a bucket
// overwrites it (same series and timestamp): the job is idempotent.
import { fieldNames, type Kind } from '../catalog/index.js';
import { quoteIdentifier, type InfluxClient, type Series } from '../influx/client.js';
import { line, seriesKey } from '../influx/line-protocol.js';
import { rawStatsSelect, rollupColumn, rollupFrom, rollupMeasurement, rollupStatsSelect, STATS, type Resolution } from './schema.js';
import { daysAreWholeHours } from '../catalog/time.js';
import { FieldKeys } from './field-keys.js';

export interface RollupComputerOptions {
  influx: InfluxClient;
  rollupRp: string;
  timezone: string;
  /** Called once buckets of [from, to) have been (re)written, also when a write failed part-way. */
  onWritten?: (kind: Kind, resolution: Resolution, from: number, to: number, device: string | undefined) => void;
}

export interface ComputeResult {
  /** Rollup rows written. */
  rows: number;
  /** Raw readings the buckets hold (the largest count of any field per bucket, summed). */
  readings: number;
}

const WRITE_BATCH = 5000;

export class RollupComputer {
  private readonly fieldKeys: FieldKeys;

  constructor(private readonly options: RollupComputerOptions) {
    this.fieldKeys = new FieldKeys(options.influx);
  }

  /** The kind's fields that `from` holds (asked afresh: a field seen for the first time must not be missed). */
  private async present(kind: Kind, from: string, suffix = ''): Promise<string[]> {
    const keys = await this.fieldKeys.keys(from, 0);
    return fieldNames(kind).filter((f) => keys.has(`${f}${suffix}`));
  }

  /** Hourly buckets of [from, to) (whole hours), for one device or (device undefined) every device of the kind. */
  async hours(kind: Kind, from: number, to: number, device?: string): Promise<ComputeResult> {
    const fields = await this.present(kind, quoteIdentifier(kind));
    if (fields.length === 0) return { rows: 0, readings: 0 };
    const q = `SELECT ${rawStatsSelect(kind, fields)} FROM ${quoteIdentifier(kind)} WHERE ${device === undefined ? '' : '"device_id" = $device AND '}time >= $from AND time < $to GROUP BY time(1h), "device_id", "city", "district" fill(none)`;
    return this.compute(kind, '1h', q, from, to, device);
  }

  /** Daily buckets of [from, to) (local midnights). Reads the hourly rollups, which must be current for the range. */
  async days(kind: Kind, from: number, to: number, device?: string): Promise<ComputeResult> {
    const { rollupRp, timezone } = this.options;
    const where = `${device === undefined ? '' : '"device_id" = $device AND '}time >= $from AND time < $to`;
    const fromHours = daysAreWholeHours(timezone, from, to);
    const fields = fromHours ? await this.present(kind, rollupFrom(rollupRp, kind, '1h'), '_count') : await this.present(kind, quoteIdentifier(kind));
    if (fields.length === 0) return { rows: 0, readings: 0 };
    const q = fromHours
      ? `SELECT ${rollupStatsSelect(kind, fields)} FROM ${rollupFrom(rollupRp, kind, '1h')} WHERE ${where} GROUP BY time(1d), "device_id", "city", "district" fill(none) ${tzClause(timezone)}`
      : `SELECT ${rawStatsSelect(kind, fields)} FROM ${quoteIdentifier(kind)} WHERE ${where} GROUP BY time(1d), "device_id", "city", "district" fill(none) ${tzClause(timezone)}`;
    return this.compute(kind, '1d', q, from, to, device);
  }

  private async compute(kind: Kind, resolution: Resolution, q: string, from: number, to: number, device: string | undefined): Promise<ComputeResult> {
    if (to <= from) return { rows: 0, readings: 0 };
    const params: Record<string, string> = { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
    if (device !== undefined) params.device = device;
    const series = await this.options.influx.query(q, params);
    const { lines, readings } = rollupLines(kind, resolution, series);
    try {
      for (let i = 0; i < lines.length; i += WRITE_BATCH) {
        await this.options.influx.writeTo(this.options.rollupRp, lines.slice(i, i + WRITE_BATCH).join('\n'));
      }
    } finally {
      if (lines.length > 0) this.options.onWritten?.(kind, resolution, from, to, device);
    }
    return { rows: lines.length, readings };
  }
}

/** `tz('Asia/Makassar')`: the zone is validated configuration (IANA name, no quotes possible). */
export function tzClause(zone: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(zone)) throw new Error(`not a time zone name: ${zone}`);
  return `tz('${zone}')`;
}

/** Series of stats rows (columns `<field>_<stat>`) → rollup lines; a field without values in a bucket is left out. */
export function rollupLines(kind: Kind, resolution: Resolution, series: Series[]): { lines: string[]; readings: number } {
  const measurement = rollupMeasurement(kind, resolution);
  const fields = fieldNames(kind);
  const lines: string[] = [];
  let readings = 0;
  for (const s of series) {
    const tags = s.tags ?? {};
    const key = seriesKey(measurement, { device_id: tags.device_id ?? '', city: tags.city ?? '', district: tags.district ?? '' });
    const index = new Map(s.columns.map((c, i) => [c, i]));
    for (const row of s.values) {
      const values: Record<string, number> = {};
      let most = 0;
      for (const f of fields) {
        const count = row[index.get(rollupColumn(f, 'count')) ?? -1];
        if (typeof count !== 'number' || count <= 0) continue;
        most = Math.max(most, count);
        for (const stat of STATS) {
          const v = row[index.get(rollupColumn(f, stat)) ?? -1];
          if (typeof v === 'number') values[rollupColumn(f, stat)] = v;
        }
      }
      if (most === 0) continue;
      readings += most;
      lines.push(line(key, values, Number(row[0])));
    }
  }
  return { lines, readings };
}
