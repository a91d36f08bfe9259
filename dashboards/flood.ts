// Banjir (flood): each river gauge's water level against its own waspada / siaga / awas lines, the current level
// of every gauge, and rainfall.
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
import type { Dashboard, DynamicConfigValue } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as StateTimelinePanelBuilder } from '@grafana/grafana-foundation-sdk/statetimeline';
import { FLOOD_ALERT_LEVELS, FLOOD_LEVEL_LABELS, FLOOD_LEVELS, GLOSSARY, type Kind } from '../catalog/index.js';
import { describe, field, pantauDashboard, thresholdColors } from './dashboard.js';
import { DATASOURCE, ident, influxql } from './influxql.js';
import { INDEX_FIELDS, MEASUREMENT, floodThresholdField } from './measurements.js';
import { lastValue, perDevice, stat, timeSeries } from './panels.js';
import { BY_TIME, agg, selectQuery } from './queries.js';
import { FLOOD_LEVEL_COLORS, bilingual, floodLevelMappings, floodLevelThresholds, neutral } from './scales.js';
import { unitOf, units } from './units.js';
import { DEVICE, PLACE_FILTER, kindIs } from './variables.js';

export const UID = 'pantau-flood';

const READINGS: Kind = 'flood';
const INDICES = MEASUREMENT.indices;
const FLOOD_INDICES = [PLACE_FILTER, kindIs(READINGS)];

const LEVEL_LEGEND = FLOOD_LEVELS.map((level) => bilingual(FLOOD_LEVEL_LABELS[level])).join(' → ');

export function flood(): Dashboard {
  const { dashboard, grid } = pantauDashboard({
    uid: UID,
    title: { id: 'Banjir', en: 'Flood' },
    description:
      "River gauges against their own alert thresholds (BPBD levels Normal → Waspada → Siaga → Awas), and rainfall.",
    tags: ['flood'],
    kind: READINGS,
    from: 'now-24h',
  });

  grid.add(
    stat(
      {
        title: 'Status pos pantau banjir',
        description: describe(
          'Gauge alert levels',
          `Current level of every gauge (${LEVEL_LEGEND}), judged against that gauge's own thresholds; a gauge ` +
            `without thresholds shows ${bilingual(GLOSSARY.concept.noThresholds)} (measurement indices, field alert_level_num, −1 without thresholds).`,
        ),
      },
      units.NoUnit,
    )
      .withTarget(
        influxql(
          selectQuery({
            select: agg('last', INDEX_FIELDS.flood.levelNum),
            from: INDICES,
            where: FLOOD_INDICES,
            groupBy: ['device_id'],
          }),
        )
          .refId('A')
          .alias('$tag_device_id'),
      )
      .textMode(BigValueTextMode.ValueAndName)
      .thresholds(floodLevelThresholds())
      .mappings(floodLevelMappings())
      .colorScheme(thresholdColors()),
    24,
    4,
  );

  grid.add(waterLevelPanel(), 24, 10);

  const rainfall = field(READINGS, 'rainfall');
  grid
    .add(
      timeSeries(
        {
          title: rainfall.label.id,
          description: describe(
            rainfall.label.en,
            `Mean rainfall intensity (${rainfall.unit}) per gauge (measurement flood, field rainfall).`,
          ),
        },
        unitOf(rainfall),
        1,
      )
        .withTarget(perDevice('mean', rainfall.name, READINGS, [PLACE_FILTER]))
        .drawStyle(GraphDrawStyle.Bars)
        .fillOpacity(60)
        .min(0),
      12,
      8,
    )
    .add(
      new BarGaugePanelBuilder()
        .title('Akumulasi curah hujan')
        .description(
          describe(
            'Accumulated rainfall',
            'Rain that fell at each gauge over the dashboard time range: the time integral of the rainfall ' +
              `intensity (${rainfall.unit}) in mm.`,
          ),
        )
        .datasource(DATASOURCE)
        .withTarget(
          influxql(
            selectQuery({
              select: `integral(${ident(rainfall.name)}, 1h) AS "rain_mm"`,
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
        .unit(units.Millimeter)
        .decimals(1)
        .min(0)
        .thresholds(neutral('blue')),
      12,
      8,
    );

  const flowRate = field(READINGS, 'flowRate');
  grid
    .add(
      new StateTimelinePanelBuilder()
        .title('Riwayat status banjir')
        .description(
          describe(
            'Flood level history',
            `Level of every gauge over time (${LEVEL_LEGEND}); the highest level in each time bucket ` +
              '(measurement indices, field alert_level_num).',
          ),
        )
        .datasource(DATASOURCE)
        .withTarget(
          perDevice('max', INDEX_FIELDS.flood.levelNum, INDICES, FLOOD_INDICES),
        )
        .showValue(VisibilityMode.Never)
        .mergeValues(true)
        .fillOpacity(80)
        .thresholds(floodLevelThresholds())
        .mappings(floodLevelMappings())
        .colorScheme(thresholdColors()),
      12,
      8,
    )
    .add(
      timeSeries(
        {
          title: flowRate.label.id,
          description: describe(flowRate.label.en, `Mean river discharge (${flowRate.unit}) per gauge (field flowRate).`),
        },
        unitOf(flowRate),
        1,
      )
        .withTarget(perDevice('mean', flowRate.name, READINGS, [PLACE_FILTER]))
        .min(0),
      12,
      8,
    );

  return dashboard.build();
}

/**
 * One panel per gauge (repeated over the device variable): its water level and, as lines, the thresholds written
 * beside it in `indices` — each gauge has its own, so they cannot be static panel thresholds.
 */
function waterLevelPanel() {
  const waterLevel = field(READINGS, 'waterLevel');
  const levelName = bilingual(waterLevel.label);
  const thresholdLines = FLOOD_ALERT_LEVELS.map((level) => ({
    field: floodThresholdField(level),
    name: bilingual(FLOOD_LEVEL_LABELS[level]),
    color: FLOOD_LEVEL_COLORS[level],
  }));
  const panel = timeSeries(
    {
      title: `${waterLevel.label.id} $${DEVICE}`,
      description: describe(
        `${waterLevel.label.en} of each gauge`,
        `Water level (${waterLevel.unit} above the gauge's zero, measurement flood) against this gauge's own ` +
          `thresholds (${thresholdLines.map((l) => l.name).join(', ')}; dashed), as configured on the device and ` +
          'written to measurement indices. One panel per chosen gauge.',
      ),
    },
    unitOf(waterLevel),
    0,
  )
    .repeat(DEVICE)
    .repeatDirection('h')
    .maxPerRow(3)
    .withTarget(
      influxql(
        selectQuery({
          select: agg('mean', waterLevel.name, levelName),
          from: READINGS,
          where: [PLACE_FILTER],
          groupBy: [BY_TIME],
          fill: 'none',
        }),
      )
        .refId('A')
        .alias('$col'),
    )
    .withTarget(
      influxql(
        selectQuery({
          select: thresholdLines.map((l) => agg('last', l.field, l.name)).join(', '),
          from: INDICES,
          where: FLOOD_INDICES,
          groupBy: [BY_TIME],
          fill: 'previous',
        }),
      )
        .refId('B')
        .alias('$col'),
    )
    .overrideByName(levelName, [
      { id: 'color', value: { mode: 'fixed', fixedColor: 'blue' } },
      { id: 'custom.lineWidth', value: 3 },
      { id: 'custom.fillOpacity', value: 15 },
    ]);
  for (const line of thresholdLines) panel.overrideByName(line.name, thresholdLineStyle(line.color));
  return panel;
}

function thresholdLineStyle(color: string): DynamicConfigValue[] {
  return [
    { id: 'color', value: { mode: 'fixed', fixedColor: color } },
    { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
    { id: 'custom.lineWidth', value: 2 },
    { id: 'custom.fillOpacity', value: 0 },
  ];
}
