// Platform (kesehatan platform): what Pantau itself is doing — ingest rate, rejections by reason, the spool that
// holds acknowledged readings while InfluxDB is unreachable, and its connections.
import { PanelBuilder as BarGaugePanelBuilder } from '@grafana/grafana-foundation-sdk/bargauge';
import {
  BarGaugeDisplayMode,
  BarGaugeNamePlacement,
  BarGaugeValueMode,
  GraphDrawStyle,
  StackingConfigBuilder,
  StackingMode,
  TableSortByFieldStateBuilder,
  VizOrientation,
} from '@grafana/grafana-foundation-sdk/common';
import { type Dashboard, MappingType } from '@grafana/grafana-foundation-sdk/dashboard';
import { REJECTION_REASONS } from '../catalog/index.js';
import { describe, pantauDashboard } from './dashboard.js';
import { DATASOURCE, ident, influxql } from './influxql.js';
import { MEASUREMENT, PLATFORM_FIELDS as P, PLATFORM_INSTANCE_TAG, REJECTION_FIELDS } from './measurements.js';
import { MERGE, lastValue, organize, stat, table, timeSeries } from './panels.js';
import { agg, selectQuery, seriesBy } from './queries.js';
import { neutral, twoStep } from './scales.js';
import { units } from './units.js';
import { DEVICE_FILTER } from './variables.js';

export const UID = 'pantau-platform';

const PLATFORM = MEASUREMENT.platform;
const REJECTIONS = MEASUREMENT.rejections;
const BY_INSTANCE = [PLATFORM_INSTANCE_TAG];
const REASONS = REJECTION_REASONS.join(', ');

/** Target: one series per Pantau process, `fn(field)` per `$__interval`. */
function perInstance(fn: string, field: string, refId: string, label = '') {
  return influxql(seriesBy(fn, field, PLATFORM, [], BY_INSTANCE))
    .refId(refId)
    .alias(`${label}$tag_instance`);
}

/** `outer` over the latest value of `field` from every Pantau process. */
function acrossInstances(outer: string, field: string): string {
  const inner = selectQuery({ select: agg('last', field), from: PLATFORM, groupBy: BY_INSTANCE });
  return `SELECT ${agg(outer, field)} FROM (${inner})`;
}

export function platform(): Dashboard {
  const { dashboard, grid } = pantauDashboard({
    uid: UID,
    title: { id: 'Kesehatan Platform', en: 'Platform health' },
    description:
      'Pantau itself: ingest rate, rejected readings by reason, the spool of acknowledged readings waiting for ' +
      'InfluxDB, and connections. The place variables filter only the rejection panels.',
    tags: ['platform'],
  });

  grid
    .add(
      stat(
        {
          title: 'Bacaan per detik',
          description: describe(
            'Readings per second',
            'Readings stored per second, summed over every Pantau process (measurement platform, readings_per_s).',
          ),
        },
        units.RecordsPerSecond,
        1,
      )
        .withTarget(influxql(acrossInstances('sum', P.readingsPerSecond)).refId('A'))
        .thresholds(neutral('blue')),
      4,
      4,
    )
    .add(
      stat(
        {
          title: 'Penolakan per detik',
          description: describe(
            'Rejections per second',
            'Readings rejected per second, over every Pantau process (measurement platform, rejections_per_s).',
          ),
        },
        units.RecordsPerSecond,
        1,
      )
        .withTarget(influxql(acrossInstances('sum', P.rejectionsPerSecond)).refId('A'))
        .thresholds(twoStep('green', 1, 'orange')),
      4,
      4,
    )
    .add(
      stat(
        {
          title: 'InfluxDB',
          description: describe(
            'InfluxDB reachable',
            'Whether every Pantau process can write to InfluxDB (influx_up: 1 yes, 0 no — readings then wait in ' +
              'the spool).',
          ),
        },
        units.NoUnit,
      )
        .withTarget(influxql(acrossInstances('min', P.influxUp)).refId('A'))
        .thresholds(twoStep('red', 1, 'green'))
        .mappings([
          {
            type: MappingType.ValueToText,
            options: {
              '0': { text: 'Terputus (down)', color: 'red', index: 0 },
              '1': { text: 'Terhubung (up)', color: 'green', index: 1 },
            },
          },
        ]),
      4,
      4,
    )
    .add(
      stat(
        {
          title: 'Koneksi MQTT',
          description: describe(
            'MQTT connections',
            'Devices and clients connected to the broker, over every Pantau process (mqtt_connections).',
          ),
        },
        units.Short,
      )
        .withTarget(influxql(acrossInstances('sum', P.mqttConnections)).refId('A'))
        .thresholds(neutral('blue')),
      4,
      4,
    )
    .add(
      stat(
        {
          title: 'Antrean spool',
          description: describe(
            'Spool size',
            'Acknowledged readings on disk waiting to be written to InfluxDB, in bytes (spool_bytes); 0 when ' +
              'InfluxDB keeps up.',
          ),
        },
        units.BytesIEC,
      )
        .withTarget(influxql(acrossInstances('sum', P.spoolBytes)).refId('A'))
        .thresholds(twoStep('green', 1, 'orange')),
      4,
      4,
    )
    .add(
      stat(
        {
          title: 'Bacaan hilang',
          description: describe(
            'Readings dropped',
            'Readings Pantau had to drop since start (dropped_total); anything above 0 needs a look at the logs.',
          ),
        },
        units.Short,
      )
        .withTarget(influxql(acrossInstances('sum', P.droppedTotal)).refId('A'))
        .thresholds(twoStep('green', 1, 'red')),
      4,
      4,
    );

  grid
    .add(
      timeSeries(
        {
          title: 'Laju ingest',
          description: describe(
            'Ingest rate',
            'Readings stored and rejected per second, per Pantau process (measurement platform).',
          ),
        },
        units.RecordsPerSecond,
        1,
      )
        .withTarget(
          perInstance('mean', P.readingsPerSecond, 'A', 'disimpan (stored) '),
        )
        .withTarget(
          perInstance('mean', P.rejectionsPerSecond, 'B', 'ditolak (rejected) '),
        )
        .overrideByQuery('B', [{ id: 'color', value: { mode: 'fixed', fixedColor: 'orange' } }])
        .min(0),
      12,
      8,
    )
    .add(
      timeSeries(
        {
          title: 'Penolakan per alasan',
          description: describe(
            'Rejections by reason',
            'Rejected readings per time bucket, stacked by reason (measurement rejections, sum of count). ' +
              `Reasons: ${REASONS}.`,
          ),
        },
        units.Short,
        0,
      )
        .withTarget(
          influxql(seriesBy('sum', REJECTION_FIELDS.count, REJECTIONS, [DEVICE_FILTER], ['reason']))
            .refId('A')
            .alias('$tag_reason'),
        )
        .drawStyle(GraphDrawStyle.Bars)
        .fillOpacity(70)
        .stacking(new StackingConfigBuilder().mode(StackingMode.Normal).group('A'))
        .min(0),
      12,
      8,
    );

  grid
    .add(
      timeSeries(
        {
          title: 'Kedalaman spool',
          description: describe(
            'Spool depth',
            'Bytes of readings held in the spool, per Pantau process: they grow while InfluxDB is down or ' +
              'slow and drain when it is back (the disk budget is PANTAU_SPOOL_MAX_BYTES).',
          ),
        },
        units.BytesIEC,
        0,
      )
        .withTarget(perInstance('max', P.spoolBytes, 'A', 'bita (bytes) '))
        .min(0),
      12,
      8,
    )
    .add(
      timeSeries(
        {
          title: 'Umur antrean tertua',
          description: describe(
            'Oldest spooled reading',
            'Age of the oldest reading still waiting in the spool, per Pantau process (spool_oldest_age_s): how far ' +
              'InfluxDB lags behind what devices sent.',
          ),
        },
        units.Seconds,
        0,
      )
        .withTarget(perInstance('max', P.spoolOldestAge, 'A'))
        .thresholds(twoStep('green', 60, 'orange'))
        .min(0),
      12,
      8,
    );

  grid
    .add(
      new BarGaugePanelBuilder()
        .title('Total penolakan per alasan')
        .description(
          describe(
            'Rejections by reason, total',
            'Rejected readings over the dashboard time range per reason (measurement rejections, sum of count).',
          ),
        )
        .datasource(DATASOURCE)
        .withTarget(
          influxql(
            selectQuery({
              select: agg('sum', REJECTION_FIELDS.count),
              from: REJECTIONS,
              where: [DEVICE_FILTER],
              groupBy: ['reason'],
            }),
          )
            .refId('A')
            .alias('$tag_reason'),
        )
        .reduceOptions(lastValue())
        .orientation(VizOrientation.Horizontal)
        .displayMode(BarGaugeDisplayMode.Basic)
        .valueMode(BarGaugeValueMode.Color)
        .namePlacement(BarGaugeNamePlacement.Left)
        .unit(units.Short)
        .decimals(0)
        .min(0)
        .thresholds(neutral('orange')),
      8,
      9,
    )
    .add(
      table({
        title: 'Penolakan per perangkat',
        description: describe(
          'Rejections by device',
          'Which devices send readings Pantau refuses, and why: rejected readings per device and reason over the ' +
            'time range, most first.',
        ),
      })
        .withTarget(
          influxql(
            selectQuery({
              select: agg('sum', REJECTION_FIELDS.count, 'rejected'),
              from: REJECTIONS,
              where: [DEVICE_FILTER],
              groupBy: ['device_id', 'kind', 'reason'],
            }),
          )
            .refId('A')
            .format('table'),
        )
        .withTransformation(MERGE)
        .withTransformation(
          organize({
            exclude: ['Time'],
            rename: { device_id: 'Perangkat', kind: 'Jenis', reason: 'Alasan', rejected: 'Jumlah' },
            order: ['device_id', 'kind', 'reason', 'rejected'],
          }),
        )
        .sortBy([new TableSortByFieldStateBuilder().displayName('Jumlah').desc(true)]),
      8,
      9,
    )
    .add(
      table({
        title: 'Penolakan terbaru',
        description: describe(
          'Latest rejections',
          'The 100 most recent rejected readings with the reason and detail Pantau also published on the ' +
            "device's rejections topic.",
        ),
      })
        .withTarget(
          influxql(
            `${selectQuery({
              select: ['reason', REJECTION_FIELDS.detail, 'device_id', 'kind'].map(ident).join(', '),
              from: REJECTIONS,
              where: [DEVICE_FILTER],
            })} ORDER BY time DESC LIMIT 100`,
          )
            .refId('A')
            .format('table'),
        )
        .withTransformation(
          organize({
            rename: { Time: 'Waktu', reason: 'Alasan', detail: 'Rincian', device_id: 'Perangkat', kind: 'Jenis' },
            order: ['Time', 'device_id', 'kind', 'reason', 'detail'],
          }),
        ),
      8,
      9,
    );

  return dashboard.build();
}
