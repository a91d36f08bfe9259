// Riwayat banjir (flood history): long ranges read from Pantau's rollups, not from raw readings. Grafana cannot
// switch retention policy by time range (grafana#4262, #73450), so each panel here is fixed to one resolution and
// one span with a relative-time override: hourly rollups for the last 30 days, daily rollups for the last year,
// and the year-on-year pair — this year and the same days a year earlier (Grafana's time shift is per panel, and
// InfluxQL has no per-query shift, so the comparison is two panels with the same axes side by side). Means are
// exact: Σsum / Σcount of the buckets, never a mean of means.
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { GraphDrawStyle } from '@grafana/grafana-foundation-sdk/common';
import { describe, field, pantauDashboard } from './dashboard.js';
import { and, ident, influxql, TIME_FILTER } from './influxql.js';
import { timeSeries } from './panels.js';
import { unitOf } from './units.js';
import { PLACE_FILTER } from './variables.js';

export const UID = 'pantau-history';

/** The rollup retention policy's default name (PANTAU_ROLLUP_RP); a deployment that renames it regenerates. */
export const ROLLUP_RP = 'pantau_rollup';

function rollup(measurement: string): string {
  return `${ident(ROLLUP_RP)}.${ident(measurement)}`;
}

/** Exact mean and extremes of a field per device from rollup buckets, in `every` windows. */
function rollupQuery(measurement: string, fieldName: string, stat: 'mean' | 'max' | 'sum', every: string): string {
  const select =
    stat === 'mean'
      ? `sum(${ident(`${fieldName}_sum`)}) / sum(${ident(`${fieldName}_count`)}) AS ${ident(fieldName)}`
      : stat === 'max'
        ? `max(${ident(`${fieldName}_max`)}) AS ${ident(fieldName)}`
        : `sum(${ident(`${fieldName}_sum`)}) AS ${ident(fieldName)}`;
  return `SELECT ${select} FROM ${rollup(measurement)} WHERE ${and(TIME_FILTER, PLACE_FILTER)} GROUP BY time(${every}), ${ident('device_id')} fill(none) tz('Asia/Makassar')`;
}

export function history(): Dashboard {
  const { dashboard, grid } = pantauDashboard({
    uid: UID,
    title: { id: 'Riwayat banjir', en: 'Flood history' },
    description:
      'Months and years of river gauges and rainfall from the hourly and daily rollups (retention policy pantau_rollup), which outlive raw readings.',
    tags: ['flood', 'history'],
    kind: 'flood',
    from: 'now-24h',
  });
  const level = field('flood', 'waterLevel');
  const rain = field('flood', 'rainfall');

  grid.add(
    timeSeries(
      {
        title: 'Tinggi muka air tertinggi per hari, tahun ini',
        description: describe('Daily highest water level, this year', 'Highest water level of each local day (WITA) per gauge over the last 365 days, from the daily rollups (flood_1d, waterLevel_max).'),
      },
      unitOf(level),
    )
      .withTarget(influxql(rollupQuery('flood_1d', 'waterLevel', 'max', '1d')).refId('A').alias('$tag_device_id'))
      .timeFrom('365d'),
    12,
    9,
  );
  grid.add(
    timeSeries(
      {
        title: 'Tinggi muka air tertinggi per hari, tahun lalu',
        description: describe('Daily highest water level, a year earlier', 'The same 365 days one year earlier, on the same axes as the panel beside it: year on year, flood season against flood season (daily rollups, shifted 365 days).'),
      },
      unitOf(level),
    )
      .withTarget(influxql(rollupQuery('flood_1d', 'waterLevel', 'max', '1d')).refId('A').alias('$tag_device_id'))
      .timeFrom('365d')
      .timeShift('365d'),
    12,
    9,
  );
  grid.add(
    timeSeries(
      {
        title: 'Curah hujan rata-rata per hari, tahun ini dan tahun lalu',
        description: describe('Daily mean rainfall, this year', 'Mean rainfall of each local day per gauge over the last 365 days (Σ rainfall_sum / Σ rainfall_count of the daily rollups).'),
      },
      unitOf(rain),
    )
      .withTarget(influxql(rollupQuery('flood_1d', 'rainfall', 'mean', '1d')).refId('A').alias('$tag_device_id'))
      .drawStyle(GraphDrawStyle.Bars)
      .timeFrom('365d'),
    24,
    8,
  );
  grid.add(
    timeSeries(
      {
        title: 'Tinggi muka air rata-rata per jam, 30 hari',
        description: describe('Hourly mean water level, 30 days', 'Exact hourly mean water level per gauge over the last 30 days, from the hourly rollups (flood_1h): 720 points per gauge instead of 43,200 raw readings.'),
      },
      unitOf(level),
    )
      .withTarget(influxql(rollupQuery('flood_1h', 'waterLevel', 'mean', '1h')).refId('A').alias('$tag_device_id'))
      .timeFrom('30d'),
    24,
    9,
  );
  return dashboard.build();
}
