// The storage side of a node: the InfluxDB client, the ingest log (spool) with its metrics, ingest in front of it,
// the InfluxDB writer thread behind it, the log's state as /status, /readyz and the gauges report it, and the moment
// the writer and the consumers start reading. platform.ts calls these in order: `openStorage` before the cluster
// join, `createWriter` after it, `startReadingTheLog` once every durable consumer is known.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isKind } from '../catalog/index.js';
import { InfluxClient, type InfluxOptions } from '../influx/client.js';
import { describeLine } from '../influx/line-protocol.js';
import { Ingest } from '../ingest/ingest.js';
import type { LogConsumer } from '../ingest/log-types.js';
import { Spool } from '../ingest/spool.js';
import { WriterThread } from '../ingest/writer-thread.js';
import type { Registry } from '../registry/registry.js';
import type { Config } from './config.js';
import type { Metrics } from './metrics.js';

export interface Storage {
  influxOptions: InfluxOptions;
  influx: InfluxClient;
  spool: Spool;
  ingest: Ingest;
}

/** The InfluxDB client (its database created if InfluxDB answers), the log (consumers deferred) and ingest. */
export async function openStorage(config: Config, log: Logger, metrics: Metrics): Promise<Storage> {
  const influxOptions: InfluxOptions = {
    url: config.influxUrl,
    database: config.influxDb,
    token: config.influxToken,
    username: config.influxUsername,
    password: config.influxPassword,
  };
  const influx = new InfluxClient(influxOptions);
  try {
    await influx.createDatabase();
  } catch (err) {
    // Not fatal: readings wait in the spool, and the writer creates the database once InfluxDB answers.
    log.warn({ err: (err as Error).message }, 'InfluxDB not usable at start; readings will wait in the spool');
  }

  // consumers wait (and no segment is deleted) until every durable consumer is registered: see startReadingTheLog
  const spool = await Spool.open({
    dir: join(config.dataDir, 'spool'), maxBytes: config.spoolMaxBytes, diskReserveBytes: config.spoolDiskReserveBytes, log: log.child({ component: 'spool' }),
    maxConsumerLagBytes: config.consumerMaxLagBytes, deferConsumers: true,
  });
  spool.consumers.onError = (consumer) => metrics.consumerErrors.inc({ consumer });
  spool.on('consumer-detached', (consumer: string, detached: boolean) => metrics.consumerDetached.set({ consumer }, detached ? 1 : 0));
  spool.on('disk-full', (full: boolean) => metrics.spoolDiskFull.set(full ? 1 : 0));
  const ingest = new Ingest({ spool, log: log.child({ component: 'ingest' }), deviceRateLimit: config.deviceRateLimit, maxInFlight: config.ingestMaxInFlight, spoolMaxBytes: config.spoolMaxBytes, maxAgeMs: Math.min(config.maxReadingAgeMs, config.rawRetentionMs ?? Number.POSITIVE_INFINITY), ackAfterStore: config.ackAfter === 'store' });
  return { influxOptions, influx, spool, ingest };
}

/** The InfluxDB writer thread, built but not started (it reads the log only from `startReadingTheLog` on). */
export function createWriter(storage: Storage, registry: Registry, log: Logger, metrics: Metrics): WriterThread {
  const { spool, ingest } = storage;
  const writer = new WriterThread({
    spool,
    influx: storage.influxOptions,
    log: log.child({ component: 'influx-writer' }),
    onRefused: (text, reason) => {
      const { measurement, tags } = describeLine(text);
      const device = tags.device_id ? registry.device(tags.device_id) : undefined;
      log.error({ measurement, deviceId: tags.device_id, reason }, 'InfluxDB refused a point');
      if (device && isKind(measurement)) {
        void ingest.reject(device, 'storage_refused', `InfluxDB refused the point: ${reason}`).then(
          () => metrics.rejected.inc({ reason: 'storage_refused' }),
          () => undefined,
        );
      }
    },
    onWritten: (lines, seconds) => {
      metrics.written.inc(lines);
      metrics.writeSeconds.observe(seconds);
    },
    onStateChange: (up) => metrics.influxUp.set(up ? 1 : 0),
  });
  metrics.influxUp.set(1);
  return writer;
}

/**
 * Registers the remaining consumers, then starts the writer and every consumer. Until now (deferConsumers) no
 * consumer read the log and no consumed segment could be deleted: every durable consumer (rollups, alerts, the
 * cluster's alert feed) must be registered first, or a segment it has not read could go.
 */
export function startReadingTheLog(spool: Spool, writer: WriterThread, metrics: Metrics, consumers: LogConsumer[]): void {
  for (const consumer of consumers) spool.addConsumer(consumer);
  for (const c of spool.consumers.status()) if (c.durable) metrics.consumerDetached.set({ consumer: c.name }, 0);
  writer.start();
  spool.startConsumers();
}

/** The log's, the writer's and ingest's state now (GET /api/v1/status, /readyz, the gauges, the cluster's status). */
export function storageState(spool: Spool, writer: WriterThread, ingest: Ingest) {
  const oldest = spool.oldestPendingAt();
  return {
    spool: {
      bytes: spool.pendingBytes,
      oldestAgeSeconds: oldest === null ? 0 : Math.max(0, (Date.now() - oldest) / 1000),
      corruptSkips: spool.corruptSkips,
      diskFull: spool.diskFull,
      failed: spool.failed?.message ?? null,
    },
    consumers: spool.consumers.status().map((c) => ({ ...c, detached: spool.detached.includes(c.name) })),
    influx: { up: writer.influxUp, lastError: writer.lastError },
    blockedPublishes: ingest.blockedPublishes,
  };
}

export type StorageState = ReturnType<typeof storageState>;
