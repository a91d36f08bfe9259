// InfluxQL raw queries for Grafana's InfluxDB data source. The foundation SDK ships no InfluxDB query builder,
// so this is its custom-query pattern: our own Dataquery variant and a cog.Builder for it.
import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';

/** The provisioned data source (dashboards/provisioning/datasources/pantau.yaml); docs/contract.md §6 fixes the name. */
export const DATASOURCE_NAME = 'Pantau InfluxDB';
export const DATASOURCE_UID = 'pantau-influxdb';
export const DATASOURCE: DataSourceRef = { type: 'influxdb', uid: DATASOURCE_UID };

export type ResultFormat = 'time_series' | 'table';

/** The JSON Grafana stores for an InfluxQL query written in raw mode. */
export interface InfluxQLQuery extends Dataquery {
  refId?: string;
  hide?: boolean;
  datasource: DataSourceRef;
  query: string;
  rawQuery: true;
  resultFormat: ResultFormat;
  /** Series name pattern for time series, e.g. `$tag_device_id` or `$col`. */
  alias?: string;
  // Annotation queries only: which columns become the event's text, title and tags.
  fromAnnotations?: boolean;
  textColumn?: string;
  titleColumn?: string;
  tagsColumn?: string;
}

export class InfluxQLBuilder implements Builder<Dataquery> {
  private readonly internal: InfluxQLQuery;

  constructor(query: string) {
    this.internal = {
      datasource: { ...DATASOURCE },
      query: normaliseSpace(query),
      rawQuery: true,
      resultFormat: 'time_series',
      _implementsDataqueryVariant() {},
    };
  }

  build(): InfluxQLQuery {
    return this.internal;
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  hide(hide: boolean): this {
    this.internal.hide = hide;
    return this;
  }

  format(resultFormat: ResultFormat): this {
    this.internal.resultFormat = resultFormat;
    return this;
  }

  alias(alias: string): this {
    this.internal.alias = alias;
    return this;
  }

  /** Marks the query as an annotation source and names the columns Grafana reads from it. */
  annotation(columns: { text: string; title?: string; tags?: readonly string[] }): this {
    this.internal.fromAnnotations = true;
    this.internal.textColumn = columns.text;
    this.internal.titleColumn = columns.title ?? '';
    this.internal.tagsColumn = (columns.tags ?? []).join(',');
    return this;
  }
}

/** Shorthand: `influxql('SELECT …').refId('A')`. */
export function influxql(query: string): InfluxQLBuilder {
  return new InfluxQLBuilder(query);
}

// Query text is written over several lines in the sources for reading; Grafana shows it on one.
function normaliseSpace(query: string): string {
  return query.replace(/\s+/g, ' ').trim();
}

/** `"name"` — an InfluxQL identifier (measurement, tag or field). */
export function ident(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** `'value'` — an InfluxQL string literal. */
export function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** `"tag" =~ /^$variable$/` — Grafana puts a multi-value or All selection in as `(a|b)`, regex-escaped. */
export function tagMatchesVariable(tag: string, variable: string): string {
  return `${ident(tag)} =~ /^$${variable}$/`;
}

/** Grafana's InfluxQL macros, kept in one place so tests substitute exactly these. */
export const TIME_FILTER = '$timeFilter';
export const INTERVAL = '$__interval';

/** Joins conditions of a WHERE clause. */
export function and(...conditions: readonly string[]): string {
  return conditions.filter((c) => c.length > 0).join(' AND ');
}
