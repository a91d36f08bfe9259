// Names of what the dashboards read from InfluxDB. Measurement names and `device_state` fields come from the
// catalog; the `indices` and `platform` field names are those catalog/derived.ts documents (it exports no
// constants for them yet), and `alerts` / `rejections` are docs/contract.md §4's.
import {
  DEVICE_STATE,
  FLOOD_ALERT_LEVELS,
  type FloodAlertLevel,
  INDICES,
  PLATFORM,
} from '../catalog/index.js';

export const MEASUREMENT = {
  deviceState: DEVICE_STATE.measurement,
  indices: INDICES.measurement,
  platform: PLATFORM.measurement,
  alerts: 'alerts',
  rejections: 'rejections',
} as const;

export const DEVICE_STATE_FIELDS = DEVICE_STATE.fields;

/** Fields of `indices`, per kind (catalog/derived.ts). */
export const INDEX_FIELDS = {
  air: { ispu: 'ispu', category: 'ispu_category', dominant: 'ispu_dominant', pm25Hourly: 'ispu_pm25_1h' },
  flood: { level: 'alert_level', levelNum: 'alert_level_num' },
  traffic: { los: 'los', losNum: 'los_num', flowPerHour: 'flow_per_hour' },
} as const;

/** `threshold_waspada` … — the gauge's own thresholds, written beside its level. */
export function floodThresholdField(level: FloodAlertLevel): string {
  return `threshold_${level}`;
}
export const FLOOD_THRESHOLD_FIELDS = FLOOD_ALERT_LEVELS.map(floodThresholdField);

/** Fields of `platform` (catalog/derived.ts), all floats, tagged by `instance`. */
export const PLATFORM_FIELDS = {
  readingsPerSecond: 'readings_per_s',
  rejectionsPerSecond: 'rejections_per_s',
  readingsTotal: 'readings_total',
  rejectionsTotal: 'rejections_total',
  spoolBytes: 'spool_bytes',
  spoolOldestAge: 'spool_oldest_age_s',
  influxUp: 'influx_up',
  mqttConnections: 'mqtt_connections',
  droppedTotal: 'dropped_total',
} as const;
export const PLATFORM_INSTANCE_TAG = PLATFORM.tags[0];

/** docs/contract.md §4: `alerts` — tags device_id, kind, rule, severity; fields state, value, message. */
export const ALERT_FIELDS = { state: 'state', value: 'value', message: 'message' } as const;
export const ALERT_STATES = { open: 'open', acknowledged: 'acknowledged', resolved: 'resolved' } as const;

/** docs/contract.md §4: `rejections` — tags device_id, kind, reason; fields detail, count. */
export const REJECTION_FIELDS = { detail: 'detail', count: 'count' } as const;
