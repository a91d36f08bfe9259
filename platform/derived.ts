// Derived points for the dashboards (docs/contract.md §6 measurements `device_state`, `indices`, `platform`), written
// periodically through the log like everything else, and the indices of a device as the API reports them.
import type { AlertService } from '../alerts/service.js';
import type { IndicesTracker, Indices } from '../api/indices.js';
import type { LatestReadings } from '../api/latest-cache.js';
import { DEVICE_STATE_INTERVAL_MS, INDICES_INTERVAL_MS, PLATFORM_INTERVAL_MS } from '../catalog/index.js';
import type { Ingest } from '../ingest/ingest.js';
import type { DeviceRecord, Registry } from '../registry/registry.js';
import { deviceStateLine, indicesLine, platformLine } from './derived-points.js';
import type { Metrics } from './metrics.js';

export interface DerivedDeps {
  registry: Registry;
  ingest: Ingest;
  latest: LatestReadings;
  alerts: Pick<AlertService, 'severity' | 'onIspu'>;
  indices: IndicesTracker;
  metrics: Metrics;
  instance: string;
  /** Spool and connection figures for the platform point. */
  state: () => { spoolBytes: number; spoolOldestAgeSeconds: number; influxUp: boolean; mqttConnections: number };
  every: (ms: number, fn: () => void | Promise<void>) => void;
  /** Whether this node writes the fleet's device states and indices (a cluster: only the alert owner). Default: yes. */
  derivesFleet?: () => boolean;
}

/** The indices of a device now, as `latest` reports them (api/indices.ts). */
export function currentIndicesOf(registry: Registry, indices: IndicesTracker) {
  return (deviceId: string): Indices | undefined => {
    const d = registry.device(deviceId);
    return d ? indices.current(d) : undefined;
  };
}

/** Starts the periodic derived points; returns the device-state line maker the alert wiring uses. */
export function startDerivedPoints(deps: DerivedDeps): { stateLine: (d: DeviceRecord, at?: number) => string; writeDeviceStates: () => Promise<void> } {
  const { registry, ingest, latest, alerts, indices, metrics, every } = deps;
  const stateLine = (d: DeviceRecord, at = Date.now()) => deviceStateLine(d, alerts.severity(d.id), ingest.uniqueTs(`${d.id}\u0000state`, at));
  const sumCounter = async (c: { get(): Promise<{ values: Array<{ value: number }> }> }) => (await c.get()).values.reduce((n, v) => n + v.value, 0);
  let lastReadings = 0;
  let lastRejections = 0;
  every(PLATFORM_INTERVAL_MS, async () => {
    const s = deps.state();
    const readings = await sumCounter(metrics.readings);
    const rejections = await sumCounter(metrics.rejected);
    const dropped = await sumCounter(metrics.dropped);
    const perSecond = 1000 / PLATFORM_INTERVAL_MS;
    await ingest.writeLines([
      platformLine(deps.instance, {
        readings_per_s: (readings - lastReadings) * perSecond,
        rejections_per_s: (rejections - lastRejections) * perSecond,
        readings_total: readings,
        rejections_total: rejections,
        spool_bytes: s.spoolBytes,
        spool_oldest_age_s: s.spoolOldestAgeSeconds,
        influx_up: s.influxUp ? 1 : 0,
        mqtt_connections: s.mqttConnections,
        dropped_total: dropped,
      }, Date.now()),
    ]);
    lastReadings = readings;
    lastRejections = rejections;
  });
  const derivesFleet = deps.derivesFleet ?? (() => true);
  const writeDeviceStates = async () => {
    if (!derivesFleet()) return;
    const now = Date.now();
    await ingest.writeLines(registry.listDevices().map((d) => stateLine(d, now)));
  };
  every(DEVICE_STATE_INTERVAL_MS, writeDeviceStates);
  registry.on('status', (d: DeviceRecord) => void ingest.writeLines([stateLine(d)]).catch(() => undefined));
  registry.on('device-changed', (d: DeviceRecord) => void ingest.writeLines([stateLine(d)]).catch(() => undefined));
  every(INDICES_INTERVAL_MS, async () => {
    if (!derivesFleet()) return;
    const now = Date.now();
    const lines: string[] = [];
    for (const d of registry.listDevices()) {
      const reading = latest.get(d.id);
      if (!reading || now - reading.ts > 3_600_000) continue;
      // the same figure `latest` and the summary show goes to the alert engine and to `indices`
      if (d.kind === 'air') await indices.load(d.id, now).catch(() => undefined);
      const current = indices.current(d, now);
      if (!current) continue;
      if (d.kind === 'air') alerts.onIspu(d, current.ispu?.value ?? null);
      const l = indicesLine(d, current, ingest.uniqueTs(`${d.id}\u0000indices`, now));
      if (l) lines.push(l);
    }
    await ingest.writeLines(lines);
  });
  return { stateLine, writeDeviceStates };
}
