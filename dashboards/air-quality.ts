// Kualitas udara (air quality): ISPU per district in the official category colours, and the pollutant
// concentrations behind it, banded by the ISPU category each concentration would give.
import { PanelBuilder as BarGaugePanelBuilder } from '@grafana/grafana-foundation-sdk/bargauge';
import {
  BarGaugeDisplayMode,
  BarGaugeNamePlacement,
  BarGaugeValueMode,
  TableCellDisplayMode,
  VizOrientation,
} from '@grafana/grafana-foundation-sdk/common';
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { ISPU_CATEGORIES, ISPU_MAX, ISPU_POLLUTANTS, type IspuPollutant, type Kind } from '../catalog/index.js';
import { describe, field, pantauDashboard, thresholdColors } from './dashboard.js';
import { DATASOURCE, ident, influxql } from './influxql.js';
import { INDEX_FIELDS, MEASUREMENT } from './measurements.js';
import { MERGE, lastValue, organize, perDevice, table, thresholdBands, timeSeries } from './panels.js';
import { agg, ofLatestPerDevice, selectQuery, seriesBy } from './queries.js';
import { bilingual, concentrationThresholds, ispuThresholds } from './scales.js';
import { unitOf, units } from './units.js';
import { PLACE_FILTER, kindIs } from './variables.js';

export const UID = 'pantau-air-quality';

/** Raw readings: the measurement is the kind (docs/contract.md §4). */
const READINGS: Kind = 'air';
const INDICES = MEASUREMENT.indices;
const ISPU = INDEX_FIELDS.air;
const AIR_INDICES = [PLACE_FILTER, kindIs(READINGS)];

/** Columns of the station table, in order, with their Indonesian headers. */
const STATION_COLUMNS = {
  device_id: 'Stasiun',
  city: 'Kota',
  district: 'Kecamatan',
  [ISPU.ispu]: 'ISPU',
  [ISPU.category]: 'Kategori',
  [ISPU.dominant]: 'Polutan dominan',
} as const;

const CATEGORY_LEGEND = ISPU_CATEGORIES.map(
  (c) => `${bilingual(c.label)} ${Number.isFinite(c.to) ? `${c.from}–${c.to}` : `from ${c.from}`}`,
).join(', ');

export function airQuality(): Dashboard {
  const { dashboard, grid } = pantauDashboard({
    uid: UID,
    title: { id: 'Kualitas Udara', en: 'Air quality' },
    description:
      'ISPU (Indeks Standar Pencemar Udara, KLHK regulation P.14/2020) per district and station, and the pollutant ' +
      'concentrations behind it.',
    tags: ['air', 'ispu'],
    kind: 'air',
    from: 'now-24h',
  });

  grid.row('ISPU — Indeks Standar Pencemar Udara');
  grid
    .add(
      new BarGaugePanelBuilder()
        .title('ISPU per kecamatan')
        .description(
          describe(
            'ISPU per district',
            'Current ISPU of each district: the highest among its stations, each computed from trailing 24-hour ' +
              `means (measurement indices, field ispu). Colours are the official categories: ${CATEGORY_LEGEND}.`,
          ),
        )
        .datasource(DATASOURCE)
        .withTarget(
          influxql(ofLatestPerDevice('max', ISPU.ispu, INDICES, AIR_INDICES, ['city', 'district']))
            .refId('A')
            .alias('$tag_district ($tag_city)'),
        )
        .reduceOptions(lastValue())
        .orientation(VizOrientation.Horizontal)
        .displayMode(BarGaugeDisplayMode.Basic)
        .valueMode(BarGaugeValueMode.Color)
        .namePlacement(BarGaugeNamePlacement.Left)
        .showUnfilled(true)
        .unit(units.NoUnit)
        .decimals(0)
        .min(0)
        .max(ISPU_MAX)
        .thresholds(ispuThresholds())
        .colorScheme(thresholdColors()),
      12,
      9,
    )
    .add(
      table({
        title: 'ISPU per stasiun',
        description: describe(
          'ISPU per station',
          'Current ISPU of every air station with its category and dominant pollutant (the one whose sub-index ' +
            'is the ISPU), from trailing 24-hour means (measurement indices).',
        ),
      })
        .withTarget(
          influxql(
            selectQuery({
              select: `${agg('last', ISPU.ispu)}, ${ident(ISPU.category)}, ${ident(ISPU.dominant)}`,
              from: INDICES,
              where: AIR_INDICES,
              groupBy: ['device_id', 'city', 'district'],
            }),
          )
            .refId('A')
            .format('table'),
        )
        .withTransformation(MERGE)
        .withTransformation(
          organize({
            exclude: ['Time'],
            rename: STATION_COLUMNS,
            order: Object.keys(STATION_COLUMNS),
          }),
        )
        // Overrides see the columns by their new names.
        .overrideByName(STATION_COLUMNS[ISPU.ispu], [
          { id: 'custom.cellOptions', value: { type: TableCellDisplayMode.ColorBackground } },
          { id: 'thresholds', value: ispuThresholds().build() },
          { id: 'color', value: { mode: 'thresholds' } },
          { id: 'decimals', value: 0 },
        ]),
      12,
      9,
    )
    .add(
      timeSeries(
        {
          title: 'ISPU per kecamatan dari waktu ke waktu',
          description: describe(
            'ISPU per district over time',
            'Highest station ISPU of each district (trailing 24-hour means), over the official category bands.',
          ),
        },
        units.NoUnit,
        0,
      )
        .withTarget(
          influxql(seriesBy('max', ISPU.ispu, INDICES, AIR_INDICES, ['district'])).refId('A').alias('$tag_district'),
        )
        .thresholds(ispuThresholds())
        .thresholdsStyle(thresholdBands())
        .min(0),
      24,
      9,
    );

  grid.row('Partikulat (particulate matter)');
  for (const pollutant of ['pm25', 'pm10'] as const) grid.add(concentrationPanel(pollutant), 12, 9);
  grid.add(
    timeSeries(
      {
        title: 'ISPU PM2.5 per jam',
        description: describe(
          'Hourly PM2.5 sub-index',
          'ISPU sub-index of the last hour\'s PM2.5 mean, what KLHK publishes every hour — quicker to react than the ' +
            '24-hour ISPU (measurement indices, field ispu_pm25_1h).',
        ),
      },
      units.NoUnit,
      0,
    )
      .withTarget(perDevice('mean', ISPU.pm25Hourly, INDICES, AIR_INDICES))
      .thresholds(ispuThresholds())
      .thresholdsStyle(thresholdBands())
      .min(0),
    12,
    9,
  );
  grid.add(weatherPanel(), 12, 9);

  grid.row('Gas pencemar (gaseous pollutants)');
  for (const pollutant of ISPU_POLLUTANTS.filter((p) => p !== 'pm25' && p !== 'pm10')) {
    grid.add(concentrationPanel(pollutant), 8, 8);
  }

  return dashboard.build();
}

/** A pollutant's concentration per station, with the ISPU category bands its sub-index would fall in. */
function concentrationPanel(pollutant: IspuPollutant) {
  const spec = field(READINGS, pollutant);
  return timeSeries(
    {
      title: `Konsentrasi ${spec.label.id}`,
      description: describe(
        `${spec.label.en} concentration`,
        `Mean ${spec.label.en} concentration (${spec.unit}) per station (measurement air, field ${spec.name}). ` +
          'The coloured bands are the ISPU categories of the regulation, whose breakpoints are 24-hour means: ' +
          'on shorter averages they are a guide, not a verdict.',
      ),
    },
    unitOf(spec),
    1,
  )
    .withTarget(perDevice('mean', spec.name, READINGS, [PLACE_FILTER]))
    .thresholds(concentrationThresholds(pollutant))
    .thresholdsStyle(thresholdBands())
    .min(0);
}

function weatherPanel() {
  const temperature = field(READINGS, 'temperature');
  const humidity = field(READINGS, 'humidity');
  return timeSeries(
    {
      title: `${temperature.label.id} & ${humidity.label.id.toLowerCase()}`,
      description: describe(
        `${temperature.label.en} and ${humidity.label.en.toLowerCase()}`,
        'Mean air temperature (left axis) and relative humidity (right axis) per station (measurement air).',
      ),
    },
    unitOf(temperature),
    1,
  )
    .withTarget(perDevice('mean', temperature.name, READINGS, [PLACE_FILTER], 'A', `$tag_device_id ${temperature.label.id}`))
    .withTarget(perDevice('mean', humidity.name, READINGS, [PLACE_FILTER], 'B', `$tag_device_id ${humidity.label.id}`))
    .fillOpacity(0)
    .overrideByQuery('B', [
      { id: 'unit', value: unitOf(humidity) },
      { id: 'custom.axisPlacement', value: 'right' },
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
      { id: 'min', value: humidity.min },
      { id: 'max', value: humidity.max },
    ]);
}
