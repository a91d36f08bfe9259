// Panel builders with Pantau's defaults: Indonesian title, English description, the Pantau data source.
import {
  BigValueColorMode,
  BigValueGraphMode,
  BigValueJustifyMode,
  BigValueTextMode,
  GraphDrawStyle,
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  SortOrder,
  TableCellHeight,
  TooltipDisplayMode,
  VisibilityMode,
  VizLegendOptionsBuilder,
  VizTooltipOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import type { DataTransformerConfig } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TablePanelBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { DATASOURCE, type InfluxQLBuilder, influxql } from './influxql.js';
import { seriesBy } from './queries.js';

export interface PanelText {
  /** Panel title, in Indonesian. */
  title: string;
  /** English: what the panel shows, and where its numbers come from. */
  description: string;
}

/** The latest value of each series: what a wall screen should show. */
export function lastValue(): ReduceDataOptionsBuilder {
  return new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false);
}

export function timeSeries(text: PanelText, unit: string, decimals?: number): TimeseriesPanelBuilder {
  const panel = new TimeseriesPanelBuilder()
    .title(text.title)
    .description(text.description)
    .datasource(DATASOURCE)
    .unit(unit)
    .drawStyle(GraphDrawStyle.Line)
    .lineWidth(2)
    .fillOpacity(10)
    .showPoints(VisibilityMode.Never)
    .spanNulls(false)
    .legend(
      new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.List)
        .placement(LegendPlacement.Bottom)
        .calcs([]),
    )
    .tooltip(new VizTooltipOptionsBuilder().mode(TooltipDisplayMode.Multi).sort(SortOrder.Descending));
  if (decimals !== undefined) panel.decimals(decimals);
  return panel;
}

/** Colours the plot area with the panel's thresholds (category bands behind the lines). */
export function thresholdBands(mode = GraphThresholdsStyleMode.Area): GraphThresholdsStyleConfigBuilder {
  return new GraphThresholdsStyleConfigBuilder().mode(mode);
}

export function stat(text: PanelText, unit: string, decimals = 0): StatPanelBuilder {
  return new StatPanelBuilder()
    .title(text.title)
    .description(text.description)
    .datasource(DATASOURCE)
    .unit(unit)
    .decimals(decimals)
    .reduceOptions(lastValue())
    .colorMode(BigValueColorMode.Background)
    .graphMode(BigValueGraphMode.None)
    .justifyMode(BigValueJustifyMode.Center)
    .textMode(BigValueTextMode.Auto);
}

export function table(text: PanelText): TablePanelBuilder {
  return new TablePanelBuilder()
    .title(text.title)
    .description(text.description)
    .datasource(DATASOURCE)
    .showHeader(true)
    .cellHeight(TableCellHeight.Sm);
}

/** Grafana transformation: several query results (one per series or per query) into one table. */
export const MERGE: DataTransformerConfig = { id: 'merge', options: {} };

/** Grafana transformation: hide, rename and order table columns. */
export function organize(options: {
  exclude?: readonly string[];
  rename?: Readonly<Record<string, string>>;
  order?: readonly string[];
}): DataTransformerConfig {
  return {
    id: 'organize',
    options: {
      excludeByName: Object.fromEntries((options.exclude ?? []).map((name) => [name, true])),
      renameByName: { ...(options.rename ?? {}) },
      indexByName: Object.fromEntries((options.order ?? []).map((name, index) => [name, index])),
    },
  };
}

/** Target: one time series per device, `fn(field)` in `$__interval` buckets, named by device id. */
export function perDevice(
  fn: string,
  field: string,
  from: string,
  where: readonly string[],
  refId = 'A',
  alias = '$tag_device_id',
): InfluxQLBuilder {
  return influxql(seriesBy(fn, field, from, where, ['device_id'])).refId(refId).alias(alias);
}
