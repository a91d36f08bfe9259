// Lalu lintas (traffic): level of service, volume and speed of every counter.
import { PanelBuilder as BarGaugePanelBuilder } from '@grafana/grafana-foundation-sdk/bargauge';
import {
  BarGaugeDisplayMode,
  BarGaugeNamePlacement,
  BarGaugeValueMode,
  BigValueTextMode,
  GraphDrawStyle,
  VisibilityMode,
  VizOrientation,
} from '@grafana/grafana-foundation-sdk/common';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as StateTimelinePanelBuilder } from '@grafana/grafana-foundation-sdk/statetimeline';
import { GLOSSARY, LOS_GRADES, type Kind } from '../catalog/index.js';
import { describe, field, pantauDashboard, thresholdColors } from './dashboard.js';
import { DATASOURCE, influxql } from './influxql.js';
import { INDEX_FIELDS, MEASUREMENT } from './measurements.js';
import { lastValue, perDevice, stat, timeSeries } from './panels.js';
import { agg, byTime, selectQuery } from './queries.js';
import { LOS_DISPLAY, losMappings, losThresholds, neutral } from './scales.js';
import { suffix, unitOf, units } from './units.js';
import { PLACE_FILTER, kindIs } from './variables.js';

export const UID = 'pantau-traffic';

const READINGS: Kind = 'traffic';
const INDICES = MEASUREMENT.indices;
const TRAFFIC_INDICES = [PLACE_FILTER, kindIs(READINGS)];
const LOS = INDEX_FIELDS.traffic;

const LOS_LEGEND = LOS_GRADES.map((g) => `${g} ${LOS_DISPLAY[g].en.toLowerCase()}`).join(', ');
const LOS_METHOD =
  'Graded over the last 15 minutes, as the traffic_los alert grades it: the space-mean speed relative to the ' +
  'road\'s free-flow speed (HCM urban-street method), and F whenever the 15-minute flow rate exceeds the road\'s ' +
  'capacity (once at least 5 minutes are counted); counters without speed are graded by volume/capacity (KM 14/2006).';

/** Vehicles per hour, as flow is written (`indices.flow_per_hour`). */
export const FLOW_UNIT = suffix('kend/jam');

export function traffic(): Dashboard {
  const { dashboard, grid } = pantauDashboard({
    uid: UID,
    title: { id: 'Lalu Lintas', en: 'Traffic' },
    description: 'Level of service, volume and speed of every traffic counter.',
    tags: ['traffic', 'los'],
    kind: READINGS,
  });

  const vehicleCount = field(READINGS, 'vehicleCount');
  const avgSpeed = field(READINGS, 'avgSpeed');
  const occupancy = field(READINGS, 'occupancy');

  grid
    .add(
      stat(
        {
          title: GLOSSARY.concept.los.id,
          description: describe(
            'Level of service',
            `Current level of service of every counter (${LOS_LEGEND}). ${LOS_METHOD} ` +
              '(measurement indices, field los_num: A = 1 … F = 6).',
          ),
        },
        units.NoUnit,
      )
        .withTarget(
          influxql(
            selectQuery({ select: agg('last', LOS.losNum), from: INDICES, where: TRAFFIC_INDICES, groupBy: ['device_id'] }),
          )
            .refId('A')
            .alias('$tag_device_id'),
        )
        .textMode(BigValueTextMode.ValueAndName)
        .thresholds(losThresholds())
        .mappings(losMappings())
        .colorScheme(thresholdColors()),
      16,
      5,
    )
    .add(
      new BarGaugePanelBuilder()
        .title('Jumlah kendaraan')
        .description(
          describe(
            'Vehicles counted',
            'Vehicles each counter counted over the dashboard time range (sum of vehicleCount, measurement traffic).',
          ),
        )
        .datasource(DATASOURCE)
        .withTarget(
          influxql(
            selectQuery({
              select: agg('sum', vehicleCount.name),
              from: READINGS,
              where: [PLACE_FILTER],
              groupBy: ['device_id'],
            }),
          )
            .refId('A')
            .alias('$tag_device_id'),
        )
        .reduceOptions(lastValue())
        .orientation(VizOrientation.Horizontal)
        .displayMode(BarGaugeDisplayMode.Basic)
        .valueMode(BarGaugeValueMode.Color)
        .namePlacement(BarGaugeNamePlacement.Left)
        .unit(unitOf(vehicleCount))
        .decimals(0)
        .min(0)
        .thresholds(neutral('blue')),
      8,
      5,
    );

  grid
    .add(
      timeSeries(
        {
          title: 'Arus lalu lintas',
          description: describe(
            'Traffic flow',
            'Flow rate at each counter, vehicles per hour over the last 15 minutes (vehicles counted × 3600 / seconds ' +
              'counted), the figure LOS is graded on (measurement indices, field flow_per_hour).',
          ),
        },
        FLOW_UNIT,
        0,
      )
        .withTarget(perDevice('mean', LOS.flowPerHour, INDICES, TRAFFIC_INDICES))
        .min(0),
      12,
      8,
    )
    .add(
      timeSeries(
        {
          title: 'Volume kendaraan per jam',
          description: describe(
            'Hourly vehicle volume',
            'Vehicles counted in each clock hour per counter (sum of vehicleCount); the current hour is still ' +
              'filling up.',
          ),
        },
        unitOf(vehicleCount),
        0,
      )
        .withTarget(
          influxql(
            selectQuery({
              select: agg('sum', vehicleCount.name),
              from: READINGS,
              where: [PLACE_FILTER],
              groupBy: [byTime('1h'), 'device_id'],
              fill: 'none',
            }),
          )
            .refId('A')
            .alias('$tag_device_id'),
        )
        .drawStyle(GraphDrawStyle.Bars)
        .fillOpacity(60)
        .min(0),
      12,
      8,
    )
    .add(
      timeSeries(
        {
          title: avgSpeed.label.id,
          description: describe(avgSpeed.label.en, `Mean speed (${avgSpeed.unit}) per counter (field avgSpeed).`),
        },
        unitOf(avgSpeed),
        0,
      )
        .withTarget(perDevice('mean', avgSpeed.name, READINGS, [PLACE_FILTER]))
        .min(0),
      12,
      8,
    )
    .add(
      timeSeries(
        {
          title: occupancy.label.id,
          description: describe(
            occupancy.label.en,
            'Share of time the detector was occupied by a vehicle, per counter (field occupancy).',
          ),
        },
        unitOf(occupancy),
        0,
      )
        .withTarget(perDevice('mean', occupancy.name, READINGS, [PLACE_FILTER]))
        .min(0)
        .max(occupancy.max),
      12,
      8,
    )
    .add(
      new StateTimelinePanelBuilder()
        .title('Riwayat tingkat pelayanan jalan')
        .description(
          describe(
            'Level of service history',
            `Level of service of every counter over time, the worst grade in each time bucket. ${LOS_METHOD}`,
          ),
        )
        .datasource(DATASOURCE)
        .withTarget(perDevice('max', LOS.losNum, INDICES, TRAFFIC_INDICES))
        .showValue(VisibilityMode.Auto)
        .mergeValues(true)
        .fillOpacity(80)
        .thresholds(losThresholds())
        .mappings(losMappings())
        .colorScheme(thresholdColors()),
      24,
      8,
    );

  return dashboard.build();
}
