// The periodic work of a running node: the log's and the outbox's gauges, the registry's status flush, the alert
// engine's tick, the live stream's heartbeat, and the derived points (device states, indices, the platform point).
// Timers are unref'd; a failing task is logged and tried again at its next turn. `stop` clears them all.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { AlertService } from '../alerts/service.js';
import type { IndicesTracker } from '../api/indices.js';
import type { LatestReadings } from '../api/latest-cache.js';
import type { StreamHub } from '../api/stream.js';
import type { Ingest } from '../ingest/ingest.js';
import { STATUSES } from '../notify/plan.js';
import type { NotifyStore } from '../notify/store.js';
import type { Registry } from '../registry/registry.js';
import type { Config } from './config.js';
import { startDerivedPoints } from './derived.js';
import type { Metrics } from './metrics.js';
import type { StorageState } from './storage.js';

export function startPeriodicWork(deps: {
  config: Config;
  log: Logger;
  registry: Registry;
  metrics: Metrics;
  ingest: Ingest;
  latest: LatestReadings;
  indices: IndicesTracker;
  hub: StreamHub;
  notifyStore: NotifyStore;
  alerts: Pick<AlertService, 'severity' | 'onIspu' | 'tick'>;
  stateOf: () => StorageState;
  /** The fleet's derived points (device states, indices) come from one node: the alert owner in a cluster. */
  derivesFleet: () => boolean;
  mqttConnections: () => number;
}) {
  const { config, log, registry, metrics, ingest, latest, indices, hub, notifyStore, alerts, stateOf } = deps;
  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, fn: () => void | Promise<void>) => {
    const t = setInterval(() => {
      Promise.resolve()
        .then(fn)
        .catch((err) => log.warn({ err: (err as Error).message }, 'periodic task failed'));
    }, ms);
    t.unref();
    timers.push(t);
  };
  const readBack = new Map<string, number>();
  every(1000, () => {
    const s = stateOf();
    metrics.spoolBytes.set(s.spool.bytes);
    metrics.spoolOldest.set(s.spool.oldestAgeSeconds);
    metrics.spoolWaiting.set(s.blockedPublishes);
    for (const c of s.consumers) {
      metrics.consumerLag.set({ consumer: c.name }, c.lagBytes);
      const delta = c.readBackBytes - (readBack.get(c.name) ?? 0);
      if (delta > 0) metrics.consumerReadBack.inc({ consumer: c.name }, delta);
      readBack.set(c.name, c.readBackBytes);
    }
  });
  every(5000, () => registry.flushStatus());
  every(5000, async () => {
    const counts = await notifyStore.countByStatus();
    for (const status of STATUSES) metrics.notifyOutbox.set({ status }, counts[status] ?? 0);
  });
  every(config.alertTickMs, () => alerts.tick());
  every(config.sseHeartbeatMs, () => hub.heartbeat());
  const derived = startDerivedPoints({
    registry, ingest, latest, alerts, indices, metrics, every,
    derivesFleet: deps.derivesFleet,
    instance: config.workerId || hostname(),
    state: () => {
      const s = stateOf();
      return { spoolBytes: s.spool.bytes, spoolOldestAgeSeconds: s.spool.oldestAgeSeconds, influxUp: s.influx.up, mqttConnections: deps.mqttConnections() };
    },
  });
  return {
    derived,
    stop: () => {
      for (const t of timers) clearInterval(t);
    },
  };
}
