// Where history lives in InfluxDB (docs/contract.md §4): raw readings in the database's default retention policy, rollups in
// their own one (`PANTAU_ROLLUP_RP`) as `<kind>_1h` / `<kind>_1d` with `<field>_sum|_count|_min|_max`. Both
// policies are set up at start. Every identifier here comes from the catalog or from validated configuration.
import { fieldNames, type Kind } from '../catalog/index.js';
import { quoteIdentifier, type InfluxClient } from '../influx/client.js';

export const STATS = ['sum', 'count', 'min', 'max'] as const;
export type Stat = (typeof STATS)[number];
export type Resolution = '1h' | '1d';

export function rollupMeasurement(kind: Kind, resolution: Resolution): string {
  return `${kind}_${resolution}`;
}

export function rollupColumn(field: string, stat: Stat): string {
  return `${field}_${stat}`;
}

/** `"rp"."kind_1h"`. */
export function rollupFrom(rp: string, kind: Kind, resolution: Resolution): string {
  return `${quoteIdentifier(rp)}.${quoteIdentifier(rollupMeasurement(kind, resolution))}`;
}

/** InfluxQL duration text for a retention (`INF` = forever). Whole hours, as the configuration guarantees. */
export function influxDuration(ms: number | null): string {
  if (ms === null) return 'INF';
  return `${Math.round(ms / 3_600_000)}h`;
}

/** InfluxDB's own choice of shard group duration for a retention (1h below 2 days, 1d up to 6 months, else 7d). */
function rawShardDuration(ms: number | null): string {
  if (ms !== null && ms < 2 * 86_400_000) return '1h';
  if (ms !== null && ms <= 180 * 86_400_000) return '1d';
  return '7d';
}

/** Rollups are small: a year per shard group for long or infinite policies, so a long-range query opens few shards. */
function rollupShardDuration(ms: number | null): string {
  if (ms === null || ms >= 2 * 52 * 7 * 86_400_000) return '52w';
  return rawShardDuration(ms);
}

export interface RetentionPolicy {
  name: string;
  durationMs: number | null;
  isDefault: boolean;
}

export async function listRetentionPolicies(influx: InfluxClient): Promise<RetentionPolicy[]> {
  const series = await influx.query(`SHOW RETENTION POLICIES ON ${quoteIdentifier(influx.database)}`);
  const s = series[0];
  if (!s) return [];
  const col = (name: string) => s.columns.indexOf(name);
  return s.values.map((row) => ({
    name: String(row[col('name')]),
    durationMs: parseInfluxDuration(String(row[col('duration')])),
    isDefault: row[col('default')] === true,
  }));
}

/** `2160h0m0s` → ms; `0s` (infinite) → null. */
export function parseInfluxDuration(text: string): number | null {
  let ms = 0;
  for (const m of text.matchAll(/(\d+)(h|m|s)/g)) ms += Number(m[1]) * ({ h: 3_600_000, m: 60_000, s: 1000 } as Record<string, number>)[m[2]!]!;
  return ms === 0 ? null : ms;
}

/**
 * Give the default (raw) retention policy the configured duration and create or alter the rollup policy.
 * Returns the raw policy's name.
 */
export async function ensureRetention(influx: InfluxClient, options: { rawRetentionMs: number | null; rollupRp: string; rollupRetentionMs: number | null }): Promise<string> {
  const db = quoteIdentifier(influx.database);
  const policies = await listRetentionPolicies(influx);
  const raw = policies.find((p) => p.isDefault);
  if (!raw) throw new Error(`database ${influx.database} has no default retention policy`);
  if (raw.name === options.rollupRp) throw new Error(`PANTAU_ROLLUP_RP: "${options.rollupRp}" is the database's default retention policy, which holds the raw readings`);
  if (raw.durationMs !== options.rawRetentionMs) {
    await influx.query(`ALTER RETENTION POLICY ${quoteIdentifier(raw.name)} ON ${db} DURATION ${influxDuration(options.rawRetentionMs)} SHARD DURATION ${rawShardDuration(options.rawRetentionMs)}`);
  }
  const rollup = policies.find((p) => p.name === options.rollupRp);
  const duration = influxDuration(options.rollupRetentionMs);
  if (!rollup) {
    await influx.query(`CREATE RETENTION POLICY ${quoteIdentifier(options.rollupRp)} ON ${db} DURATION ${duration} REPLICATION 1 SHARD DURATION ${rollupShardDuration(options.rollupRetentionMs)}`);
  } else if (rollup.durationMs !== options.rollupRetentionMs) {
    await influx.query(`ALTER RETENTION POLICY ${quoteIdentifier(options.rollupRp)} ON ${db} DURATION ${duration} SHARD DURATION ${rollupShardDuration(options.rollupRetentionMs)}`);
  }
  return raw.name;
}

/** `sum("f") AS "f_sum", count("f") AS "f_count", …` over raw fields. */
export function rawStatsSelect(kind: Kind, fields = fieldNames(kind), stats: readonly Stat[] = STATS): string {
  return fields.flatMap((f) => stats.map((s) => `${s}(${quoteIdentifier(f)}) AS ${quoteIdentifier(rollupColumn(f, s))}`)).join(', ');
}

/** Combining stats of finer buckets: Σsum, Σcount, min of mins, max of maxes. */
export const COMBINE: Record<Stat, 'sum' | 'min' | 'max'> = { sum: 'sum', count: 'sum', min: 'min', max: 'max' };

/** `sum("f_sum") AS "f_sum", sum("f_count") AS "f_count", min("f_min") AS "f_min", …` over rollup columns. */
export function rollupStatsSelect(kind: Kind, fields = fieldNames(kind), stats: readonly Stat[] = STATS): string {
  return fields.flatMap((f) => stats.map((s) => `${COMBINE[s]}(${quoteIdentifier(rollupColumn(f, s))}) AS ${quoteIdentifier(rollupColumn(f, s))}`)).join(', ');
}
