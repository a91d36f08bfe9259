// The shapes of InfluxQL the dashboards use again and again, so each dashboard reads as what it shows.
import { INTERVAL, TIME_FILTER, and, ident } from './influxql.js';

export type Fill = 'none' | 'null' | 'previous' | 'linear' | number;

export interface SelectSpec {
  /** Already-rendered select list, e.g. `mean("pm25") AS "pm25"`. */
  select: string;
  from: string;
  /** Conditions besides `$timeFilter`, which every query carries. */
  where?: readonly string[];
  /** Tags to group by, and time buckets (`BY_TIME`, `byTime('1h')`). */
  groupBy?: ReadonlyArray<string | TimeBucket>;
  fill?: Fill;
}

export interface TimeBucket {
  readonly every: string;
}

/** `GROUP BY time(1h)` — fixed buckets. */
export function byTime(every: string): TimeBucket {
  return { every };
}

/** `GROUP BY time($__interval)` — buckets as wide as Grafana makes one pixel of the panel. */
export const BY_TIME: TimeBucket = byTime(INTERVAL);

export function selectQuery(spec: SelectSpec): string {
  const groupBy = (spec.groupBy ?? []).map((g) => (typeof g === 'string' ? ident(g) : `time(${g.every})`));
  return (
    `SELECT ${spec.select} FROM ${ident(spec.from)} WHERE ${and(TIME_FILTER, ...(spec.where ?? []))}` +
    (groupBy.length ? ` GROUP BY ${groupBy.join(', ')}` : '') +
    (spec.fill !== undefined ? ` fill(${spec.fill})` : '')
  );
}

/** `fn("field") AS "as"`. */
export function agg(fn: string, field: string, as: string = field): string {
  return `${fn}(${ident(field)}) AS ${ident(as)}`;
}

/** One series per tag value over time: `fn(field)` in `$__interval` buckets. */
export function seriesBy(
  fn: string,
  field: string,
  from: string,
  where: readonly string[],
  tags: readonly string[],
  fill: Fill = 'none',
): string {
  return selectQuery({ select: agg(fn, field), from, where, groupBy: [BY_TIME, ...tags], fill });
}

/** The latest value of `field` for every device, then `outer` (max, sum …) of those per `groupBy`. */
export function ofLatestPerDevice(
  outer: string,
  field: string,
  from: string,
  where: readonly string[],
  groupBy: readonly string[] = [],
): string {
  const inner = selectQuery({
    select: agg('last', field),
    from,
    where,
    groupBy: ['device_id', ...groupBy],
  });
  return (
    `SELECT ${agg(outer, field)} FROM (${inner})` + (groupBy.length ? ` GROUP BY ${groupBy.map(ident).join(', ')}` : '')
  );
}
