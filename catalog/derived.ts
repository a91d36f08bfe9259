// Measurements Pantau derives and writes to InfluxDB beside the raw readings (docs/contract.md §4 extensions), so that
// dashboards can show what raw readings alone cannot: where each device is and what state it is in,
// the computed indices, and the platform's own health. Dashboards import these names; never retype them.

/**
 * `device_state` — one point per device on every status change and every `DEVICE_STATE_INTERVAL_MS`.
 * tags: device_id, kind, city, district
 * fields: lat (float), lon (float), name (string), status (string: online|offline|never_seen),
 *         online (float 1/0), severity (float: 0 none, 1 waspada/warning, 2 siaga, 3 awas/critical)
 */
export const DEVICE_STATE = {
  measurement: 'device_state',
  tags: ['device_id', 'kind', 'city', 'district'],
  fields: { lat: 'lat', lon: 'lon', name: 'name', status: 'status', online: 'online', severity: 'severity' },
} as const;

/**
 * `indices` — one point per device every `INDICES_INTERVAL_MS` (when it has data).
 * tags: device_id, kind, city, district
 * air:     ispu (float, 0–500, trailing 24 h means), ispu_category (string), ispu_dominant (string),
 *          ispu_pm25_1h (float, hourly PM2.5 sub-index)
 * air:     also ispu_hours (float 0–24, hours of the 24 that hold data)
 * flood:   alert_level (string normal|waspada|siaga|awas, or none for a gauge without thresholds),
 *          alert_level_num (float 0–3, −1 without thresholds),
 *          threshold_waspada / threshold_siaga / threshold_awas (float cm, when the gauge has them)
 * traffic: los (string A–F), los_num (float 1–6, A = 1), flow_per_hour (float vehicles/h), all over the last 15 min
 */
export const INDICES = {
  measurement: 'indices',
  tags: ['device_id', 'kind', 'city', 'district'],
} as const;

/**
 * `platform` — one point every `PLATFORM_INTERVAL_MS` per Pantau process.
 * tags: instance (host name or worker id)
 * fields (all float): readings_per_s, rejections_per_s, readings_total, rejections_total,
 *   spool_bytes, spool_oldest_age_s, influx_up (1/0), mqtt_connections, dropped_total
 */
export const PLATFORM = {
  measurement: 'platform',
  tags: ['instance'],
} as const;

/** `alert_level` / `alert_level_num` of a gauge without thresholds: no level can be judged. */
export const NO_FLOOD_LEVEL = { level: 'none', num: -1 } as const;

export const DEVICE_STATE_INTERVAL_MS = 60_000;
export const INDICES_INTERVAL_MS = 60_000;
export const PLATFORM_INTERVAL_MS = 10_000;
