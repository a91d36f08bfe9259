// Ikhtisar kota (city overview): every sensor on the map in its current state, devices online and offline, the
// worst current index of each kind, and the alerts that are still open.
import { GLOSSARY as T } from '../catalog/glossary.js';
import { FieldColorModeId, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  ControlsOptionsBuilder,
  MapViewConfigBuilder,
  PanelBuilder as GeomapPanelBuilder,
  TooltipMode,
  TooltipOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/geomap';
import {
  FrameGeometrySourceBuilder,
  FrameGeometrySourceMode,
  MapLayerOptionsBuilder,
  TableCellDisplayMode,
  TableSortByFieldStateBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import { units } from './units.js';
import { CATALOG, type Kind } from '../catalog/index.js';
import { describe, pantauDashboard, thresholdColors } from './dashboard.js';
import { DATASOURCE, TIME_FILTER, and, ident, influxql, literal } from './influxql.js';
import {
  ALERT_FIELDS,
  ALERT_STATES,
  DEVICE_STATE_FIELDS as DS,
  INDEX_FIELDS,
  MEASUREMENT,
} from './measurements.js';
import { MERGE, organize, stat, table } from './panels.js';
import { ofLatestPerDevice } from './queries.js';
import {
  DEVICE_STATES,
  OFFLINE_COLOR,
  bilingual,
  deviceStateMappings,
  deviceStateThresholds,
  floodLevelMappings,
  floodLevelThresholds,
  ispuMappings,
  ispuThresholds,
  losMappings,
  losThresholds,
  neutral,
  severityMappings,
  twoStep,
} from './scales.js';
import { DEVICE_FILTER, PLACE_FILTER, kindIs } from './variables.js';

export const UID = 'pantau-city-overview';

/** Open alerts may be older than the dashboard's range; look this far back for their latest state. */
export const ALERT_LOOKBACK = '7d';

const STATE_FIELD = 'state';

/** Columns of the active alerts table, in order, with their Indonesian headers. */
const ALERT_COLUMNS = {
  Time: 'Sejak (since)',
  severity: 'Tingkat',
  state: 'Status',
  device_id: 'Perangkat',
  kind: 'Jenis',
  rule: 'Aturan',
  value: 'Nilai',
  message: 'Pesan',
} as const;

/** Latest point of every device: `(severity + 1) × online` gives 0 offline, 1 normal … 4 awas. */
const deviceStateQuery = `
  SELECT (last(${ident(DS.severity)}) + 1) * last(${ident(DS.online)}) AS ${ident(STATE_FIELD)},
         last(${ident(DS.lat)}) AS ${ident(DS.lat)}, last(${ident(DS.lon)}) AS ${ident(DS.lon)},
         last(${ident(DS.name)}) AS ${ident(DS.name)}, last(${ident(DS.status)}) AS ${ident(DS.status)}
  FROM ${ident(MEASUREMENT.deviceState)}
  WHERE ${and(TIME_FILTER, PLACE_FILTER)}
  GROUP BY "device_id", "kind", "city", "district"`;

/** Sum over the chosen devices of `expression` on each one's latest state (1 when online / offline). */
function countDevices(expression: string, as: string): string {
  return `SELECT sum(${ident(as)}) AS ${ident(as)} FROM (
      SELECT ${expression} AS ${ident(as)} FROM ${ident(MEASUREMENT.deviceState)}
      WHERE ${and(TIME_FILTER, PLACE_FILTER)} GROUP BY "device_id")`;
}
const devicesOnline = countDevices(`last(${ident(DS.online)})`, 'online');
const devicesOffline = countDevices(`1 - last(${ident(DS.online)})`, 'offline');

/** How many alerts (one per device and rule) are now in `state`. */
function alertsInState(state: string): string {
  return `SELECT count(${ident(ALERT_FIELDS.state)}) AS "alerts" FROM (
      SELECT last(${ident(ALERT_FIELDS.state)}) AS ${ident(ALERT_FIELDS.state)} FROM ${ident(MEASUREMENT.alerts)}
      WHERE ${and(TIME_FILTER, DEVICE_FILTER)} GROUP BY "device_id", "rule")
    WHERE ${ident(ALERT_FIELDS.state)} = ${literal(state)}`;
}

/** Each alert (device and rule) whose latest change left it open or acknowledged. */
const activeAlertsQuery = (() => {
  const { state, value, message } = ALERT_FIELDS;
  return `SELECT ${ident(state)}, "severity", ${ident(value)}, ${ident(message)} FROM (
      SELECT last(${ident(state)}) AS ${ident(state)}, "severity", ${ident(value)}, ${ident(message)}
      FROM ${ident(MEASUREMENT.alerts)} WHERE ${and(TIME_FILTER, DEVICE_FILTER)}
      GROUP BY "device_id", "kind", "rule")
    WHERE ${ident(state)} <> ${literal(ALERT_STATES.resolved)}
    GROUP BY "device_id", "kind", "rule"`;
})();

/** Highest current value of an index field over the chosen devices of one kind. */
function worstIndex(kind: Kind, field: string): string {
  return ofLatestPerDevice('max', field, MEASUREMENT.indices, [PLACE_FILTER, kindIs(kind)]);
}

export function cityOverview(): Dashboard {
  const { dashboard, grid } = pantauDashboard({
    uid: UID,
    title: { id: 'Ikhtisar Kota', en: 'City overview' },
    description:
      'Every Pantau sensor on the map in its current state, devices online and offline, the worst current index ' +
      'of each kind, and open alerts.',
    tags: ['overview'],
  });

  // --- devices and alerts at a glance ---
  grid
    .add(
      stat(
        {
          title: `${T.concept.device.id} ${T.deviceStatus.online.id.toLowerCase()}`,
          description: describe(
            'Devices online',
            'Devices whose latest state (measurement device_state, field online) is online.',
          ),
        },
        units.Short,
      )
        .withTarget(influxql(devicesOnline).refId('A'))
        .thresholds(neutral('green')),
      6,
      4,
    )
    .add(
      stat(
        {
          title: `${T.concept.device.id} ${T.deviceStatus.offline.id.toLowerCase()}`,
          description: describe(
            'Devices offline',
            'Devices whose latest state is offline or that never reported (device_state.online = 0).',
          ),
        },
        units.Short,
      )
        .withTarget(influxql(devicesOffline).refId('A'))
        .thresholds(twoStep('green', 1, OFFLINE_COLOR)),
      6,
      4,
    )
    .add(
      stat(
        {
          title: `${T.concept.alert.id} ${T.alertState.open.id.toLowerCase()}`,
          description: describe(
            'Open alerts',
            `Alerts (one per device and rule) whose latest change in the last ${ALERT_LOOKBACK} left them open ` +
              'and not yet acknowledged (measurement alerts).',
          ),
        },
        units.Short,
      )
        .withTarget(influxql(alertsInState(ALERT_STATES.open)).refId('A'))
        .timeFrom(ALERT_LOOKBACK)
        .noValue('0')
        .thresholds(twoStep('green', 1, 'red')),
      6,
      4,
    )
    .add(
      stat(
        {
          title: `${T.concept.alert.id} ${T.alertState.acknowledged.id.toLowerCase()}`,
          description: describe(
            'Acknowledged alerts',
            `Alerts an operator has acknowledged that have not yet resolved (last ${ALERT_LOOKBACK}).`,
          ),
        },
        units.Short,
      )
        .withTarget(influxql(alertsInState(ALERT_STATES.acknowledged)).refId('A'))
        .timeFrom(ALERT_LOOKBACK)
        .noValue('0')
        .thresholds(twoStep('green', 1, 'orange')),
      6,
      4,
    );

  // --- the worst current index of each kind ---
  grid
    .add(
      stat(
        {
          title: 'ISPU tertinggi',
          description: describe(
            'Highest ISPU',
            'Highest current ISPU (Indonesian air pollution standard index, 24-hour means) among the chosen air ' +
              'sensors, coloured by the official category (measurement indices, field ispu).',
          ),
        },
        units.NoUnit,
      )
        .withTarget(influxql(worstIndex('air', INDEX_FIELDS.air.ispu)).refId('A'))
        .thresholds(ispuThresholds())
        .mappings(ispuMappings())
        .colorScheme(thresholdColors()),
      8,
      4,
    )
    .add(
      stat(
        {
          title: `${T.concept.floodLevel.id} tertinggi`,
          description: describe(
            'Highest flood level',
            'Most severe current level among the chosen river gauges: Normal, Waspada (watch), Siaga (warning), ' +
              "Awas (danger), each judged against the gauge's own thresholds (indices.alert_level_num).",
          ),
        },
        units.NoUnit,
      )
        .withTarget(influxql(worstIndex('flood', INDEX_FIELDS.flood.levelNum)).refId('A'))
        .thresholds(floodLevelThresholds())
        .mappings(floodLevelMappings())
        .colorScheme(thresholdColors()),
      8,
      4,
    )
    .add(
      stat(
        {
          title: `${T.concept.los.id} terburuk`,
          description: describe(
            'Worst level of service',
            'Worst current traffic level of service (A free flow … F forced flow) among the chosen counters ' +
              '(indices.los_num).',
          ),
        },
        units.NoUnit,
      )
        .withTarget(influxql(worstIndex('traffic', INDEX_FIELDS.traffic.losNum)).refId('A'))
        .thresholds(losThresholds())
        .mappings(losMappings())
        .colorScheme(thresholdColors()),
      8,
      4,
    );

  // --- the map and the devices that need a visit ---
  grid.add(sensorMap(), 16, 18).add(
    table({
      title: 'Daftar perangkat luring',
      description: describe(
        'Offline devices list',
        'Devices whose latest state is offline or never seen, with their place (measurement device_state).',
      ),
    })
      .withTarget(
        influxql(`SELECT ${ident(DS.name)}, ${ident(DS.status)} FROM (
            SELECT last(${ident(DS.online)}) AS ${ident(DS.online)}, ${ident(DS.name)}, ${ident(DS.status)}
            FROM ${ident(MEASUREMENT.deviceState)} WHERE ${and(TIME_FILTER, PLACE_FILTER)}
            GROUP BY "device_id", "kind", "city", "district")
          WHERE ${ident(DS.online)} = 0 GROUP BY "device_id", "kind", "city", "district"`)
          .refId('A')
          .format('table'),
      )
      .withTransformation(MERGE)
      .withTransformation(
        organize({
          exclude: ['Time'],
          rename: {
            device_id: 'Perangkat',
            name: 'Nama',
            kind: 'Jenis',
            city: 'Kota',
            district: 'Kecamatan',
            status: 'Status',
          },
          order: ['device_id', 'name', 'kind', 'city', 'district', 'status'],
        }),
      )
      .noValue('Semua perangkat daring (all devices online)'),
    8,
    18,
  );

  // --- alerts ---
  grid.add(
    table({
      title: `${T.concept.alert.id} aktif`,
      description: describe(
        'Active alerts',
        `Alerts whose latest change in the last ${ALERT_LOOKBACK} left them open or acknowledged, newest first ` +
          '(measurement alerts). Acknowledge them through the API (POST /api/v1/alerts/{id}/ack).',
      ),
    })
      .withTarget(
        influxql(activeAlertsQuery)
          .refId('A')
          .format('table'),
      )
      .timeFrom(ALERT_LOOKBACK)
      .withTransformation(MERGE)
      .withTransformation(
        organize({
          rename: ALERT_COLUMNS,
          order: Object.keys(ALERT_COLUMNS),
        }),
      )
      // Overrides and sorting see the columns by their new names.
      .sortBy([new TableSortByFieldStateBuilder().displayName(ALERT_COLUMNS.Time).desc(true)])
      .overrideByName(ALERT_COLUMNS.severity, [
        { id: 'custom.cellOptions', value: { type: TableCellDisplayMode.ColorText } },
        { id: 'mappings', value: severityMappings() },
      ])
      .noValue('Tidak ada peringatan aktif (no active alerts)'),
    24,
    9,
  );

  return dashboard.build();
}

function sensorMap(): GeomapPanelBuilder {
  const legend = DEVICE_STATES.map((s) => bilingual(s)).join(', ');
  return new GeomapPanelBuilder()
    .title('Peta sensor')
    .description(
      describe(
        'Sensor map',
        `Every sensor at its registered location, coloured by its current state: ${legend}. ` +
          `Kinds: ${Object.values(CATALOG)
            .map((k) => `${k.label.id} (${k.label.en.toLowerCase()})`)
            .join(', ')}. Source: measurement device_state (lat, lon, online, severity).`,
      ),
    )
    .datasource(DATASOURCE)
    .withTarget(influxql(deviceStateQuery).refId('A').format('table'))
    .withTransformation(MERGE)
    .view(new MapViewConfigBuilder().id('fit').lat(-0.5).lon(117.15).zoom(10).maxZoom(16).padding(10).allLayers(true))
    .controls(new ControlsOptionsBuilder().showZoom(true).mouseWheelZoom(false).showAttribution(true).showScale(true))
    .basemap(new MapLayerOptionsBuilder().type('osm-standard').name('OpenStreetMap').config({}))
    .layers([
      new MapLayerOptionsBuilder()
        .type('markers')
        .name('Sensor')
        .location(
          new FrameGeometrySourceBuilder().mode(FrameGeometrySourceMode.Coords).latitude(DS.lat).longitude(DS.lon),
        )
        .tooltip(true)
        .config({
          showLegend: true,
          style: {
            color: { field: STATE_FIELD, fixed: 'green' },
            opacity: 0.9,
            size: { fixed: 9, min: 4, max: 16 },
            symbol: { fixed: 'img/icons/marker/circle.svg', mode: 'fixed' },
            symbolAlign: { horizontal: 'center', vertical: 'center' },
          },
        }),
    ])
    .tooltip(new TooltipOptionsBuilder().mode(TooltipMode.Details))
    .overrideByName(STATE_FIELD, [
      { id: 'displayName', value: 'Keadaan (state)' },
      { id: 'color', value: { mode: FieldColorModeId.Thresholds } },
      { id: 'thresholds', value: deviceStateThresholds().build() },
      { id: 'mappings', value: deviceStateMappings() },
      { id: 'decimals', value: 0 },
    ]);
}
