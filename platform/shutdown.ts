// The orderly stop of a node (SIGTERM, `platform.stop()`), within PANTAU_SHUTDOWN_TIMEOUT_MS: no new messages, what
// was accepted reaches the log, the cluster's alert owner hands over, the writer drains the log into InfluxDB, and
// only then do the log, the rollups, the notifications, the cluster lease and the registry close. The order is the
// point of this file; each step says why it comes where it does.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { StreamHub } from '../api/stream.js';
import type { Broker } from '../broker/broker.js';
import type { WriterThread } from '../ingest/writer-thread.js';
import type { Registry } from '../registry/registry.js';
import type { Alerting } from './alerting.js';
import type { ClusterView } from './cluster.js';
import type { Config } from './config.js';
import type { History } from './history.js';
import type { Storage } from './storage.js';

/** Everything that stops, as platform.ts started it; `stop` functions of what has no object of its own. */
export interface Running {
  config: Config;
  log: Logger;
  registry: Registry;
  /** The log and ingest in front of it (storage.ts). */
  storage: Pick<Storage, 'ingest' | 'spool'>;
  writer: WriterThread;
  history: History;
  broker: Broker | undefined;
  /** The ingest worker, if one was started. */
  worker: () => { close(): Promise<void>; readonly sessionKept: boolean } | undefined;
  api: FastifyInstance;
  hub: StreamHub;
  view: ClusterView | undefined;
  alerting: Alerting;
  /** The periodic timers, the public snapshots, the stream's registry listeners, the broker revocation. */
  stopTimers: () => void;
  publicSnapshots: { stop(): void };
  stopStreamListeners: () => void;
  revocation: { stop(): Promise<void> } | undefined;
  /** This node's place in the cluster (its lease), if it joined one. */
  node: { stop(): Promise<void>; stopWithSessionKept(): Promise<void> } | undefined;
}

export async function stopInOrder(r: Running): Promise<void> {
  const { config, log, registry, writer, history, broker, api, hub, view } = r;
  const { ingest, spool } = r.storage;
  const { cluster, alerts, webhook, outbox } = r.alerting;
  const deadline = Date.now() + config.shutdownTimeoutMs;
  const left = () => Math.max(0, deadline - Date.now());
  log.info('stopping: no new messages; the writer drains the log into InfluxDB');
  r.stopTimers();
  r.publicSnapshots.stop();
  // 1. no new messages: the external broker's share, then the embedded broker's listeners
  const worker = r.worker();
  await worker?.close();
  // a broker session the worker could not end (fenced, a message arrived while leaving, the broker unreachable) is
  // not a clean stop: its connection is closed now, so its lease is given up at once for a live worker to take the
  // session over, rather than after the writer's drain (awaited with the lease's end below)
  const sessionLeft = worker?.sessionKept ? r.node?.stopWithSessionKept() : undefined;
  await broker?.stopAccepting();
  r.stopStreamListeners();
  await r.revocation?.stop();
  hub.closeAll();
  const apiClosed = api.close();
  await broker?.close();
  // 2. what was accepted reaches the log, derived points included
  await ingest.flushDerived().catch(() => undefined);
  await spool.settled(Math.min(5000, left()));
  // cluster: the alert owner hands over; the view stops
  await cluster?.stop();
  await view?.close();
  // 3. the writer drains the log into InfluxDB, then stops; only then does the log close (with checkpoints)
  await writer.stop(Math.max(0, left() - 1000));
  await spool.close(Math.min(2000, left())).catch((err) => log.error({ err }, 'spool close failed'));
  // 4. the rollup job after the log's consumers have stopped (its dirty buckets are on disk already)
  await history.stop().catch((err) => log.error({ err }, 'history stop failed'));
  await Promise.race([apiClosed, new Promise((res) => setTimeout(res, 1000))]);
  alerts.saveNow();
  await webhook?.close();
  await outbox.close();
  await (sessionLeft ?? r.node?.stop());
  await registry.close().catch((err) => log.warn({ err: (err as Error).message }, 'registry close failed'));
  const pending = spool.pendingBytes;
  log.info({ spoolBytesLeft: pending }, pending > 0 ? 'stopped; the rest of the log is written after the next start' : 'stopped; everything is in InfluxDB');
}
