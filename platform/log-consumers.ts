// The log's in-process consumers, each after the acknowledgement and on its own cursor (ingest/consumers.ts):
// - `latest`  (ephemeral): newest reading per device for the API, and the device's last-seen time;
// - `stream`  (ephemeral): readings to live-stream clients (SSE);
// - `indices` (ephemeral): ISPU, flood level and LOS of every device (api/indices.ts), before InfluxDB has the point;
// - `events`  (ephemeral): `readings`/`rejection` events on Ingest, for MQTT rejection topics and extensions;
// - `alerts`  (durable): the alert engine judges every reading in log order, resuming from its checkpoint after
//   a restart, so a crash between acknowledgement and judgement loses no alert.
import type { AlertService } from '../alerts/service.js';
import type { IndicesTracker } from '../api/indices.js';
import type { LatestReadings } from '../api/latest-cache.js';
import type { StreamHub } from '../api/stream.js';
import type { Ingest } from '../ingest/ingest.js';
import type { LogConsumer, LogEntry, LogReading } from '../ingest/log-types.js';
import type { Spool } from '../ingest/spool.js';
import type { Registry } from '../registry/registry.js';

export interface ConsumerDeps {
  spool: Spool;
  ingest: Ingest;
  latest: LatestReadings;
  registry: Registry;
  hub: StreamHub;
  alerts: Pick<AlertService, 'onReadings'>;
  indices: IndicesTracker;
}

export function logConsumers(deps: ConsumerDeps): LogConsumer[] {
  const { ingest, latest, registry, hub, alerts, indices } = deps;
  return [
    {
      name: 'latest',
      durable: false,
      handle(entries: LogEntry[]) {
        const now = Date.now();
        // an entry holds the messages of one turn of the event loop: one device's or many devices' readings
        const newest = new Map<string, LogReading>();
        for (const e of entries) {
          for (const r of e.readings) {
            const seen = newest.get(r.deviceId);
            if (seen === undefined || r.ts > seen.ts) newest.set(r.deviceId, r);
          }
        }
        for (const r of newest.values()) {
          latest.update(r);
          registry.touch(r.deviceId, now);
        }
      },
    },
    {
      name: 'stream',
      durable: false,
      handle(entries: LogEntry[]) {
        if (hub.size === 0) return;
        for (const e of entries) {
          for (const r of e.readings) hub.reading(r.kind, r.deviceId, { deviceId: r.deviceId, kind: r.kind, ts: new Date(r.ts).toISOString(), values: r.values });
        }
      },
    },
    {
      name: 'indices',
      durable: false,
      handle(entries: LogEntry[]) {
        for (const e of entries) if (e.readings.length > 0) indices.onReadings(e.readings);
      },
    },
    {
      name: 'events',
      durable: false,
      handle(entries: LogEntry[]) {
        for (const e of entries) {
          if (e.readings.length > 0) ingest.emit('readings', e.readings);
          for (const r of e.rejections) ingest.emit('rejection', r);
        }
      },
    },
    {
      name: 'alerts',
      durable: true,
      handle(entries: LogEntry[]) {
        // one entry's failure does not keep the others from being judged; the first error is reported
        let failure: unknown;
        for (const e of entries) {
          if (e.readings.length === 0) continue;
          try {
            alerts.onReadings(e.readings);
          } catch (err) {
            failure ??= err;
          }
        }
        if (failure) throw failure;
      },
    },
  ];
}
