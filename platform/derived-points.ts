// Points Pantau derives for dashboards (catalog/derived.ts): each device's state for the map, its computed
// indices, and the platform's own health. They take the same spooled path to InfluxDB as readings.
import { DEVICE_STATE, INDICES, PLATFORM } from '../catalog/derived.js';
import { FLOOD_LEVEL_ORDER } from '../catalog/flood-levels.js';
import { LOS_ORDER } from '../catalog/traffic-los.js';
import { line, seriesKey, type FieldValue } from '../influx/line-protocol.js';
import { NO_LEVEL_FIELDS, type Indices } from '../api/indices.js';
import type { DeviceRecord } from '../registry/registry.js';

const deviceTags = (d: DeviceRecord) => ({ device_id: d.id, kind: d.kind, city: d.city, district: d.district });

export function deviceStateLine(d: DeviceRecord, severity: number, ts: number): string {
  return line(
    seriesKey(DEVICE_STATE.measurement, deviceTags(d)),
    { lat: d.lat, lon: d.lon, name: d.name, status: d.status, online: d.status === 'online' ? 1 : 0, severity },
    ts,
  );
}

export function indicesLine(d: DeviceRecord, indices: Indices, ts: number): string | null {
  const fields: Record<string, FieldValue> = {};
  if (indices.ispu) {
    fields.ispu_hours = indices.ispu.hoursCovered;
    fields.ispu = indices.ispu.value;
    fields.ispu_category = indices.ispu.category;
    fields.ispu_dominant = indices.ispu.dominant;
    if (indices.ispu.pm25Hourly) fields.ispu_pm25_1h = indices.ispu.pm25Hourly.value;
  }
  if (indices.alertLevel) {
    fields.alert_level = indices.alertLevel;
    fields.alert_level_num = FLOOD_LEVEL_ORDER[indices.alertLevel];
  }
  if (indices.alertLevelReason === 'no_thresholds') Object.assign(fields, NO_LEVEL_FIELDS);
  if (indices.trafficWindow?.flowPerHour != null) fields.flow_per_hour = indices.trafficWindow.flowPerHour;
  if (indices.los) {
    fields.los = indices.los;
    fields.los_num = LOS_ORDER[indices.los];
  }
  if (d.kind === 'flood' && d.thresholds) {
    for (const level of ['waspada', 'siaga', 'awas'] as const) {
      const v = d.thresholds[level];
      if (typeof v === 'number' && Number.isFinite(v)) fields[`threshold_${level}`] = v;
    }
  }
  if (Object.keys(fields).length === 0) return null;
  return line(seriesKey(INDICES.measurement, deviceTags(d)), fields, ts);
}

export function platformLine(instance: string, fields: Record<string, number>, ts: number): string {
  return line(seriesKey(PLATFORM.measurement, { instance }), fields, ts);
}
