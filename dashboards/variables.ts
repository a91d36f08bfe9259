// Template variables shared by every dashboard: city → district → device, each narrowing the next.
// Values come from the `device_state` measurement, which carries every registered device with its place tags.
import {
  QueryVariableBuilder,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DEVICE_STATE, type Kind } from '../catalog/index.js';
import { DATASOURCE, and, ident, literal, tagMatchesVariable } from './influxql.js';

export const CITY = 'city';
export const DISTRICT = 'district';
export const DEVICE = 'device';

const ALL = { selected: true, text: ['All'], value: ['$__all'] };

function placeVariable(name: string, label: string, description: string, query: string): QueryVariableBuilder {
  return (
    new QueryVariableBuilder(name)
      .label(label)
      .description(description)
      .datasource(DATASOURCE)
      .query(query)
      .definition(query)
      // The device list must follow registrations on a wall screen that is never reloaded.
      .refresh(VariableRefresh.OnTimeRangeChanged)
      .sort(VariableSort.AlphabeticalAsc)
      .multi(true)
      // No custom "All" value: Grafana then sends the full list, so `device` = All still carries the city and
      // district choice to measurements without place tags (alerts, rejections).
      .includeAll(true)
      .current(ALL)
  );
}

/** `SHOW TAG VALUES` over `device_state`, optionally for one kind of device. */
function showTagValues(key: string, kind: Kind | undefined, conditions: readonly string[]): string {
  const where = and(...(kind ? [`${ident('kind')} = ${literal(kind)}`] : []), ...conditions);
  return (
    `SHOW TAG VALUES FROM ${ident(DEVICE_STATE.measurement)} WITH KEY = ${ident(key)}` +
    (where ? ` WHERE ${where}` : '')
  );
}

/** The chained city, district and device variables; `kind` limits them to one kind of sensor. */
export function placeVariables(kind?: Kind): QueryVariableBuilder[] {
  return [
    placeVariable(CITY, 'Kota', 'City (kota/kabupaten) the devices are registered in.', showTagValues('city', kind, [])),
    placeVariable(
      DISTRICT,
      'Kecamatan',
      'District (kecamatan) inside the chosen cities.',
      showTagValues('district', kind, [tagMatchesVariable('city', CITY)]),
    ),
    placeVariable(
      DEVICE,
      'Perangkat',
      'Devices in the chosen cities and districts.',
      showTagValues('device_id', kind, [tagMatchesVariable('city', CITY), tagMatchesVariable('district', DISTRICT)]),
    ),
  ];
}

/** WHERE conditions selecting the chosen places on a measurement tagged with city, district and device_id. */
export const PLACE_FILTER = and(
  tagMatchesVariable('city', CITY),
  tagMatchesVariable('district', DISTRICT),
  tagMatchesVariable('device_id', DEVICE),
);

/** The same choice for measurements tagged only with device_id (alerts, rejections). */
export const DEVICE_FILTER = tagMatchesVariable('device_id', DEVICE);

/** `"kind" = 'air'` — for the measurements shared by all kinds (device_state, indices, alerts). */
export function kindIs(kind: Kind): string {
  return `${ident('kind')} = ${literal(kind)}`;
}
