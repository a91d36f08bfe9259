// One Pantau process, wired together: registry, the ingest log (spool) and its consumers, the InfluxDB writer
// (in its own thread), the embedded broker (or an external broker's shared subscription) and the HTTP API.
// Data flows one way — broker → ingest → log → consumers (InfluxDB, latest, stream, alerts) — and the API reads
// InfluxDB and the registry. This file is the order in which a node starts; each part is wired in its own file:
// storage.ts (InfluxDB, the log, ingest, the writer), alerting.ts (alerts and notifications), embedded-broker.ts,
// api-assembly.ts (the API context and plugins), periodic.ts (timers, derived points), shutdown.ts (the stop).
import { mkdirSync, readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ApiContext } from '../api/context.js';
import { IndicesTracker } from '../api/indices.js';
import { LatestReadings } from '../api/latest-cache.js';
import type { PublicSnapshots } from '../api/public-snapshot.js';
import { endStreamsOnRevoke, StreamHub, streamStatusChanges } from '../api/stream.js';
import type { AlertService } from '../alerts/service.js';
import type { ClusterAlerts } from '../alerts/cluster-alerts.js';
import type { Broker } from '../broker/broker.js';
import { INDICES_INTERVAL_MS } from '../catalog/index.js';
import type { InfluxClient } from '../influx/client.js';
import type { Ingest } from '../ingest/ingest.js';
import type { Spool } from '../ingest/spool.js';
import type { WriterThread } from '../ingest/writer-thread.js';
import { redactUrl } from '../lib/redact.js';
import { Registry, type DeviceRecord } from '../registry/registry.js';
import { ensureAdminKey } from './admin-key.js';
import { startAlerting, type PublishAlert } from './alerting.js';
import { assembleApi } from './api-assembly.js';
import { createBrokerAdmin } from './broker-admin.js';
import { startBrokerRevocation } from './broker-revocation.js';
import { clusterViewConsumer, startClusterView, type ClusterAlertWiring, type ClusterView } from './cluster.js';
import { clusterHealth, clusterMetrics, joinCluster, type NodeStatus } from './cluster-nodes.js';
import type { Config } from './config.js';
import { currentIndicesOf } from './derived.js';
import { createEmbeddedBroker } from './embedded-broker.js';
import { seedFleet } from './fleet-file.js';
import { startHistory, type History } from './history.js';
import { logConsumers } from './log-consumers.js';
import { createLogger } from './logger.js';
import { createMetrics, metered, type Metrics } from './metrics.js';
import { startPeriodicWork } from './periodic.js';
import { stopInOrder } from './shutdown.js';
import { createWriter, openStorage, startReadingTheLog, storageState } from './storage.js';
import { startWorkerSource, type WorkerSource } from './worker.js';

export interface Platform {
  config: Config;
  log: Logger;
  registry: Registry;
  ingest: Ingest;
  spool: Spool;
  writer: WriterThread;
  broker: Broker | undefined;
  api: FastifyInstance;
  metrics: Metrics;
  influx: InfluxClient;
  latest: LatestReadings;
  alerts: AlertService | ClusterAlerts;
  /** Cluster only (PANTAU_REGISTRY_URL): the elected alert owner, the readings view between nodes. */
  cluster: { alerts: ClusterAlertWiring; view: ClusterView | undefined } | undefined;
  hub: StreamHub;
  adminKey: string | undefined;
  httpUrl: string;
  mqttUrl: string | undefined;
  /** Retention, rollups and backfill (issue 14). */
  history: History;
  /** What the citizens' page and public API show (docs/public.md), rebuilt every minute. */
  publicSnapshots: PublicSnapshots;
  /** Graceful stop: no new messages, the writer drains the log into InfluxDB within the shutdown timeout, close. */
  stop(): Promise<void>;
}

export interface PlatformHooks {
  /** Extra wiring after the core is up (alerts, stream, summary). */
  extend?: (platform: Platform) => Promise<void> | void;
  logger?: Logger;
  /**
   * The log stopped after an I/O error it cannot recover from (fail-stop). Default: stop accepting, and stay up
   * answering `/readyz` with 503; `npm start` (main.ts) exits instead, for its supervisor to restart it.
   */
  onFatal?: (err: Error, platform: Platform) => void;
  /**
   * More API plugins, registered after Pantau's own, with the same authentication and scope guard (an embedding
   * application's routes; the scope matrix test adds a deliberately careless one to show that the matrix catches it).
   */
  apiPlugins?: Array<(app: FastifyInstance, ctx: ApiContext) => Promise<void>>;
}

export async function startPlatform(config: Config, hooks: PlatformHooks = {}): Promise<Platform> {
  const log = hooks.logger ?? createLogger(config.logLevel);
  mkdirSync(config.dataDir, { recursive: true });
  const registry = await Registry.open(config.registryUrl, config.dataDir, { authFailuresPerMinute: config.authFailuresPerMinute, log });
  const adminKey = await ensureAdminKey(registry, config.dataDir, config.adminKey, log);
  if (config.unsafeAckBeforeDurable) log.warn('PANTAU_UNSAFE_ACK_BEFORE_DURABLE=1: acknowledgements do not wait for durability (benchmark baseline only)');
  if (config.fleetFile) await seedFleet(registry, config.fleetFile, log);

  const metrics = createMetrics();
  // an external broker holds the live sessions: what the registry revokes is kicked there, by the API nodes
  const revocation = config.brokerAdmin && config.role !== 'ingest'
    ? startBrokerRevocation({ registry, admin: createBrokerAdmin(config.brokerAdmin, config.workerId, log.child({ component: 'broker-admin' })), log: log.child({ component: 'broker-admin' }), metrics })
    : undefined;
  // InfluxDB, the log (its consumers wait until startReadingTheLog below) and ingest in front of it
  const storage = await openStorage(config, log, metrics);
  const { influx, spool, ingest } = storage;

  // a cluster: this node's time slot (before any reading is taken), lease and status (platform/cluster-nodes.ts)
  const startedAt = Date.now();
  const nodeStatus = (): NodeStatus => {
    const s = stateOf();
    return { spoolBytes: s.spool.bytes, writerLagSeconds: s.spool.oldestAgeSeconds, influxUp: s.influx.up, alertOwner: cluster ? cluster.owner.isOwner : true, brokerSession: worker ? worker.connected : null };
  };
  const node = registry.postgres
    ? await joinCluster({ pg: registry.postgres, config, log, ingest, status: nodeStatus, onList: (nodes) => clusterMetrics(metrics, nodes, nodeStatus()) })
    : undefined;
  const health = () => clusterHealth({ node, nodeId: config.workerId, role: config.role, leaseMs: config.workerLeaseMs, startedAt, status: nodeStatus });

  // the InfluxDB writer (built, not yet reading the log)
  const writer = createWriter(storage, registry, log, metrics);
  // retention policies, the rollup job (a consumer of the ingest log) and the first-start backfill (issue 14)
  const history = startHistory({ config, log, influx, spool, metrics });

  const latest = new LatestReadings();
  const hub = new StreamHub(1000, (id) => registry.device(id)?.city);
  const stopStreamRevocation = endStreamsOnRevoke(hub, registry);
  const stopStreamStatus = streamStatusChanges(hub, registry);
  // wired later, asked for when needed: who publishes alerts on MQTT, the device-state line, this node's URL
  let publishAlert: PublishAlert | undefined;
  let stateLine: ((d: DeviceRecord) => string) | undefined;
  let consoleUrl = '';
  // a cluster (shared registry): readings of every node in this node's view; alerts judged by the elected owner
  const view = config.brokerUrl && registry.postgres
    ? startClusterView({
        config,
        log,
        registry,
        onReading: (r) => {
          latest.update(r);
          registry.touch(r.deviceId, Date.now());
          if (hub.size > 0) hub.reading(r.kind, r.deviceId, { deviceId: r.deviceId, kind: r.kind, ts: new Date(r.ts).toISOString(), values: r.values });
        },
      })
    : undefined;
  // alerts and notifications: the webhook, the outbox, the alert engine or the cluster's alert owner (alerting.ts)
  const alerting = await startAlerting({
    config, log, registry, metrics, ingest, influx, latest, hub, view,
    publish: () => publishAlert,
    stateLine: () => stateLine,
    consoleUrl: () => consoleUrl,
  });
  const { cluster, alerts } = alerting;
  // ISPU needs 24 h of history (a query); flood level and LOS come from the newest reading alone
  // ISPU, flood level and LOS: one tracker fed from the log, so latest, summary, alerts and `indices` agree
  const indices = new IndicesTracker(influx, INDICES_INTERVAL_MS);
  const currentIndices = currentIndicesOf(registry, indices);
  // every durable consumer is registered (rollups above, alerts, the cluster's alert feed): only now do the writer
  // and the consumers read the log, and only now may consumed segments be deleted
  startReadingTheLog(spool, writer, metrics, [
    ...logConsumers({ spool, ingest, latest, registry, hub, alerts, indices }),
    // cluster: acknowledged readings to the alert owner (durable: resumes from its checkpoint) and to the other nodes
    ...(cluster ? [cluster.feed] : []),
    ...(view ? [clusterViewConsumer(view)] : []),
  ]);
  registry.on('device-removed', (id: string) => {
    latest.forget(id);
    indices.forget(id);
    ingest.forgetDevice(id);
    alerts.forget(id);
  });

  // issue 16: `format` 'senml' for the SenML topic
  const accept = metered(metrics, (device, payload, qos, format?: 'senml') => ingest.accept(device, payload, qos, undefined, format ?? 'json'));
  const tls = config.tlsCert && config.tlsKey ? { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) } : undefined;
  const broker = !config.brokerUrl && config.role !== 'api' ? createEmbeddedBroker({ config, log, registry, metrics, ingest, tls, accept }) : undefined;
  if (broker) publishAlert = (topic, payload, options) => broker.publish(topic, payload, options);
  const stateOf = () => storageState(spool, writer, ingest);

  let worker: WorkerSource | undefined;
  const { publicSnapshots, standards, api } = await assembleApi({
    config, log, registry, influx, metrics, latest, indices, currentIndices, history, hub, alerting, spool, writer, broker, view, tls,
    worker: () => worker, stateOf, health, accept, publish: () => publishAlert, apiPlugins: hooks.apiPlugins ?? [],
  });

  // periodic work: gauges, registry status, derived points
  const periodic = startPeriodicWork({
    config, log, registry, metrics, ingest, latest, indices, hub, notifyStore: alerting.notifyStore, alerts, stateOf,
    // the fleet's derived points (device states, indices) come from one node: the alert owner in a cluster
    derivesFleet: () => !cluster || cluster.owner.isOwner,
    mqttConnections: () => broker?.connections ?? 0,
  });
  stateLine = periodic.derived.stateLine;

  const brokerAddress = broker ? await broker.listen() : undefined;
  await api.listen({ port: config.httpPort, host: config.host });
  const httpPort = (api.server.address() as { port: number }).port;
  const loopback = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const httpUrl = `${tls ? 'https' : 'http'}://${loopback}:${httpPort}`;
  consoleUrl = httpUrl;
  alerting.outbox.start();
  const mqttUrl = brokerAddress && brokerAddress.port > 0 ? `mqtt://${loopback}:${brokerAddress.port}` : undefined;
  log.info({ http: httpUrl, mqtt: mqttUrl, mqttTls: brokerAddress?.tlsPort, mqttWs: brokerAddress?.wsPort, influx: redactUrl(config.influxUrl), db: config.influxDb, dataDir: config.dataDir }, 'Pantau is running');
  void periodic.derived.writeDeviceStates().catch(() => undefined);

  let stopping: Promise<void> | undefined;
  const platform: Platform = {
    config, log, registry, ingest, spool, writer, broker, api, metrics, influx, latest, alerts, hub, adminKey, httpUrl, mqttUrl, history, publicSnapshots,
    cluster: cluster ? { alerts: cluster, view } : undefined,
    stop() {
      stopping ??= stopInOrder({
        config, log, registry, storage, writer, history, broker, api, hub, view, alerting, publicSnapshots, revocation, node,
        worker: () => worker,
        stopTimers: periodic.stop,
        stopStreamListeners: () => {
          stopStreamRevocation();
          stopStreamStatus();
        },
      });
      return stopping;
    },
  };
  spool.on('fatal', (err: Error) => {
    log.fatal({ err: err.message }, 'the ingest log stopped (fail-stop): no more publishes are acknowledged');
    void broker?.stopAccepting();
    void worker?.close();
    hooks.onFatal?.(err, platform);
  });
  platform.adminKey = adminKey;
  if (config.brokerUrl && config.role !== 'api') {
    worker = await startWorkerSource({ ...platform, node });
    const w = worker;
    publishAlert ??= (topic, payload, options) => w.publish(topic, payload, options);
  }
  standards.start();
  await publicSnapshots.start();
  await hooks.extend?.(platform);
  return platform;
}
