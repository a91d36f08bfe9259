// One Pantau process, wired together: registry, the ingest log (spool) and its consumers, the InfluxDB writer
// (in its own thread), the embedded broker (or an external broker's shared subscription) and the HTTP API.
// Data flows one way — broker → ingest → log → consumers (InfluxDB, latest, stream, alerts) — and the API reads
// InfluxDB and the registry. This file only wires; the logic lives in the modules it imports.
import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApi } from '../api/app.js';
import type { ApiContext } from '../api/context.js';
import { IndicesTracker } from '../api/indices.js';
import { alertsPlugin } from '../api/alerts.js';
import { AlertTrends } from '../api/alert-trend.js';
import { capPlugin } from '../api/cap.js';
import { channelsPlugin } from '../api/channels.js';
import { ChannelStore } from '../notify/channels.js';
import { RuleStore } from '../notify/rules.js';
import { Outbox } from '../notify/outbox.js';
import { NotifyStore } from '../notify/store.js';
import { STATUSES } from '../notify/plan.js';
import { deliveriesPlugin } from '../api/deliveries.js';
import { AckLinks } from '../notify/ack.js';
import { endStreamsOnRevoke, StreamHub, streamPlugin, streamStatusChanges } from '../api/stream.js';
import { summaryPlugin } from '../api/summary.js';
import { publicPlugin } from '../api/public.js';
import { PublicSnapshots } from '../api/public-snapshot.js';
import { brokerAuthPlugin } from '../api/broker-auth.js';
import { opendataPlugin } from '../api/opendata.js';
import { consolePlugin } from '../api/console.js';
import { consoleMapPlugin, tilesOrigin } from '../api/console-map.js';
import { wireDeviceStandards } from './device-standards.js';
import { clusterHealth, clusterMetrics, joinCluster, type NodeStatus } from './cluster-nodes.js';
import { clusterPlugin } from '../api/cluster.js';
import { startWorkerSource, type WorkerSource } from './worker.js';
import { AlertService, formatAlert } from '../alerts/service.js';
import { AlertStore, type AlertReader } from '../alerts/store.js';
import type { ClusterAlerts } from '../alerts/cluster-alerts.js';
import { clusterViewConsumer, restrictToIngestRole, startClusterAlerts, startClusterView, type ClusterAlertWiring, type ClusterView } from './cluster.js';
import { WebhookSender } from '../alerts/webhook.js';
import { LatestReadings } from '../api/latest-cache.js';
import { Broker } from '../broker/broker.js';
import { IDENTIFIER_REJECTED } from '../broker/authenticate.js';
import { INDICES_INTERVAL_MS, isKind } from '../catalog/index.js';
import { InfluxClient, type InfluxOptions } from '../influx/client.js';
import { describeLine } from '../influx/line-protocol.js';
import { Ingest } from '../ingest/ingest.js';
import { Spool } from '../ingest/spool.js';
import { WriterThread } from '../ingest/writer-thread.js';
import { Registry } from '../registry/registry.js';
import { ensureAdminKey } from './admin-key.js';
import type { Config } from './config.js';
import { currentIndicesOf, startDerivedPoints } from './derived.js';
import { seedFleet } from './fleet-file.js';
import { logConsumers } from './log-consumers.js';
import { createLogger } from './logger.js';
import { createMetrics, metered, type Metrics } from './metrics.js';
import { startHistory, type History } from './history.js';
import { redactUrl } from '../lib/redact.js';
import { createBrokerAdmin } from './broker-admin.js';
import { startBrokerRevocation } from './broker-revocation.js';

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
  const influxOptions: InfluxOptions = {
    url: config.influxUrl,
    database: config.influxDb,
    token: config.influxToken,
    username: config.influxUsername,
    password: config.influxPassword,
  };
  // an external broker holds the live sessions: what the registry revokes is kicked there, by the API nodes
  const revocation = config.brokerAdmin && config.role !== 'ingest'
    ? startBrokerRevocation({ registry, admin: createBrokerAdmin(config.brokerAdmin, config.workerId, log.child({ component: 'broker-admin' })), log: log.child({ component: 'broker-admin' }), metrics })
    : undefined;
  const influx = new InfluxClient(influxOptions);
  try {
    await influx.createDatabase();
  } catch (err) {
    // Not fatal: readings wait in the spool, and the writer creates the database once InfluxDB answers.
    log.warn({ err: (err as Error).message }, 'InfluxDB not usable at start; readings will wait in the spool');
  }

  // consumers wait (and no segment is deleted) until every durable consumer is registered: see startConsumers below
  const spool = await Spool.open({
    dir: join(config.dataDir, 'spool'), maxBytes: config.spoolMaxBytes, diskReserveBytes: config.spoolDiskReserveBytes, log: log.child({ component: 'spool' }),
    maxConsumerLagBytes: config.consumerMaxLagBytes, deferConsumers: true,
  });
  spool.consumers.onError = (consumer) => metrics.consumerErrors.inc({ consumer });
  spool.on('consumer-detached', (consumer: string, detached: boolean) => metrics.consumerDetached.set({ consumer }, detached ? 1 : 0));
  spool.on('disk-full', (full: boolean) => metrics.spoolDiskFull.set(full ? 1 : 0));
  const ingest = new Ingest({ spool, log: log.child({ component: 'ingest' }), deviceRateLimit: config.deviceRateLimit, maxInFlight: config.ingestMaxInFlight, spoolMaxBytes: config.spoolMaxBytes, maxAgeMs: Math.min(config.maxReadingAgeMs, config.rawRetentionMs ?? Number.POSITIVE_INFINITY), ackAfterStore: config.ackAfter === 'store' });
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
  const writer = new WriterThread({
    spool,
    influx: influxOptions,
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
  // retention policies, the rollup job (a consumer of the ingest log) and the first-start backfill (issue 14)
  const history = startHistory({ config, log, influx, spool, metrics });

  const latest = new LatestReadings();
  const hub = new StreamHub(1000, (id) => registry.device(id)?.city);
  const stopStreamRevocation = endStreamsOnRevoke(hub, registry);
  const stopStreamStatus = streamStatusChanges(hub, registry);
  const webhook = config.webhookUrl && config.webhookSecret
    ? new WebhookSender({ url: config.webhookUrl, secret: config.webhookSecret, log: log.child({ component: 'webhook' }) })
    : undefined;
  let publishAlert: ((topic: string, payload: string, options: { qos: 0 | 1; retain: boolean }) => void) | undefined;
  let stateLine: ((d: import('../registry/registry.js').DeviceRecord) => string) | undefined;
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
  // notifications: channels, rules and the delivery outbox in the registry's database (docs/notifications.md)
  const notifyStore = registry.postgres ? await NotifyStore.postgres(registry.postgres) : NotifyStore.sqlite(registry.db);
  const countSend = (type: string, ok: boolean) => metrics.notifySends.inc({ type, outcome: ok ? 'sent' : 'failed' });
  let consoleUrl = '';
  const ackLinks = new AckLinks(notifyStore, config.ackLinkTtlMs, registry);
  await ackLinks.load();
  // sent by the single node, or in a cluster by the alert owner (`owner` set below)
  let owner: { isOwner: boolean } | undefined;
  // the river trend on the API's alerts and in flood messages (a few seconds' cache per gauge)
  const alertTrends = new AlertTrends({ influx, registry, latest });
  const outbox = new Outbox({
    store: notifyStore, registry, providerUrls: config.providerUrls, consoleUrl: () => config.publicUrl ?? consoleUrl, ackLinks,
    log: log.child({ component: 'notify' }), nodeId: `${config.workerId || hostname()}:${process.pid}:${Date.now().toString(36)}`,
    active: () => !owner || owner.isOwner, counted: countSend, maxPerWindow: Math.max(1, config.notifyMaxPer10m),
    trend: (deviceId, newest) => alertTrends.upTo(deviceId, newest),
  });
  const cluster = registry.postgres
    ? await startClusterAlerts({
        registry,
        config,
        log,
        outputs: {
          writeLines: (lines) => ingest.writeLines(lines),
          uniqueTs: (stream, at) => ingest.uniqueTs(stream, at),
          publish: async (topic, payload) => (view ? view.publish(topic, payload) : publishAlert?.(topic, payload, { qos: 1, retain: true })),
          webhook,
          onChange: (change) => {
            metrics.alertChanges.inc({ change: change.type });
            const d = registry.device(change.alert.deviceId);
            if (d && stateLine) void ingest.writeLines([stateLine(d)]).catch(() => undefined);
            outbox.wake();
          },
          inTransaction: (client, changes) => outbox.planIn(client, changes),
        },
        stream: (seq, kind, deviceId, data) => hub.alert(seq, kind, deviceId, data),
      })
    : undefined;
  const alertStore: AlertReader = cluster ? cluster.reader : new AlertStore(registry.db);
  owner = cluster?.owner;
  const notifyChannels = new ChannelStore(notifyStore);
  const notifyRules = new RuleStore(notifyStore);
  const alerts = cluster?.alerts ?? new AlertService(registry, alertStore as AlertStore, {
    writeLines: (lines) => ingest.writeLines(lines),
    uniqueTs: (stream, at) => ingest.uniqueTs(stream, at),
    publish: (topic, payload, options) => publishAlert?.(topic, payload, options),
    stream: (seq, change) => hub.alert(seq, change.alert.kind, change.alert.deviceId, { type: change.type, alert: formatAlert(change.alert) }),
    webhook,
    onChange: (change, seq) => {
      metrics.alertChanges.inc({ change: change.type });
      const d = registry.device(change.alert.deviceId);
      if (d && stateLine) void ingest.writeLines([stateLine(d)]).catch(() => undefined);
      outbox.onChange(change, seq);
    },
  }, log.child({ component: 'alerts' }));
  // single node: changes stored before the last stop but not yet planned (a crash in between)
  if (!cluster) {
    outbox.replay(
      (seq) => alertStore.eventsAfter(seq),
      () => (registry.db.prepare('SELECT coalesce(max(seq), 0) AS seq FROM alert_events').get() as { seq: number }).seq,
    );
  }
  // ISPU needs 24 h of history (a query); flood level and LOS come from the newest reading alone
  // ISPU, flood level and LOS: one tracker fed from the log, so latest, summary, alerts and `indices` agree
  const indices = new IndicesTracker(influx, INDICES_INTERVAL_MS);
  const currentIndices = currentIndicesOf(registry, indices);
  for (const consumer of logConsumers({ spool, ingest, latest, registry, hub, alerts, indices })) spool.addConsumer(consumer);
  // cluster: acknowledged readings to the alert owner (durable: resumes from its checkpoint) and to the other nodes
  if (cluster) spool.addConsumer(cluster.feed);
  if (view) spool.addConsumer(clusterViewConsumer(view));
  // every durable consumer is registered (rollups, alerts, the cluster's alert feed): only now do the writer and
  // the consumers read the log, and only now may consumed segments be deleted
  for (const c of spool.consumers.status()) if (c.durable) metrics.consumerDetached.set({ consumer: c.name }, 0);
  writer.start();
  spool.startConsumers();
  registry.on('device-removed', (id: string) => {
    latest.forget(id);
    indices.forget(id);
    ingest.forgetDevice(id);
    alerts.forget(id);
  });

  // issue 16: `format` 'senml' for the SenML topic
  const accept = metered(metrics, (device, payload, qos, format?: 'senml') => ingest.accept(device, payload, qos, undefined, format ?? 'json'));
  let broker: Broker | undefined;
  let tls: { cert: Buffer; key: Buffer } | undefined;
  if (config.tlsCert && config.tlsKey) tls = { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) };
  if (!config.brokerUrl && config.role !== 'api') {
    broker = new Broker({
      registry,
      log: log.child({ component: 'broker' }),
      host: config.host,
      port: config.mqttPort === 0 && tls ? -1 : config.mqttPort,
      tlsPort: tls ? config.mqttTlsPort : undefined,
      wsPort: config.mqttWsPort,
      tls,
      maxPacketBytes: config.mqttMaxPacketBytes,
      maxKeepaliveSeconds: config.mqttMaxKeepaliveSeconds,
      maxConnectionsPerIp: config.mqttMaxConnectionsPerIp,
      onTelemetry: config.unsafeAckBeforeDurable
        ? (device, payload, qos, format) => {
            // benchmark baseline: the acknowledgement does not wait for the fsync
            accept(device, Buffer.from(payload), qos, format).catch(() => undefined);
            return Promise.resolve();
          }
        : accept,
      onAuthFailure: (_reason, returnCode) => {
        metrics.authFailures.inc();
        if (returnCode === IDENTIFIER_REJECTED) metrics.clientIdRefused.inc();
      },
      onDenied: (action, deviceId, topic) => {
        metrics.aclDenials.inc({ action });
        log.warn({ action, deviceId, topic: topic.slice(0, 200) }, 'MQTT ACL: denied');
      },
      onStatusIgnored: (reason: string) => metrics.statusIgnored.inc({ reason }),
      onConnectionsChanged: (n) => metrics.connections.set(n),
    });
    const b = broker;
    publishAlert = (topic, payload, options) => b.publish(topic, payload, options);
    ingest.on('rejection', (r: { deviceId: string; kind: never; ts: number; reason: string; detail: string }) =>
      b.publishRejection(r.kind, r.deviceId, { reason: r.reason, detail: r.detail, ts: new Date(r.ts).toISOString() }),
    );
  }

  const stateOf = () => {
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
  };

  let worker: WorkerSource | undefined;
  const apiContext: ApiContext = {
      registry,
      influx,
      metrics,
      log,
      latest,
      indices,
      apiRateLimit: config.apiRateLimit,
      corsOrigins: config.corsOrigins,
      history: history.settings,
      status: stateOf,
      readiness: {
        async checks() {
          const influxOk = (await influx.ping()) && writer.influxUp;
          const spoolCheck = spool.failed
            ? { ok: false, detail: `stopped after an I/O error: ${spool.failed.message}` }
            : spool.diskFull
              ? { ok: false, detail: 'disk full: publishes wait unacknowledged until space comes back' }
              : { ok: true };
          return {
            broker: broker
              ? { ok: broker.isListening() }
              : config.role === 'api'
                ? { ok: view?.connected ?? true, detail: config.brokerUrl ? `external broker ${redactUrl(config.brokerUrl)} (cluster view)` : 'no broker (PANTAU_ROLE=api)' }
                : { ok: worker?.connected ?? false, detail: `external broker ${redactUrl(config.brokerUrl)}` },
            influxdb: influxOk ? { ok: true } : { ok: false, detail: writer.lastError ?? `no answer from ${redactUrl(config.influxUrl)}` },
            registry: { ok: registry.usable() },
            spool: spoolCheck,
          };
        },
      },
    };
  // the citizens' page and public API answer from this snapshot only (docs/public.md)
  const publicSnapshots = new PublicSnapshots({
    registry, latest: (id) => latest.get(id), indices: currentIndices, activeAlerts: () => alerts.activeAlerts(),
    query: (q, params) => influx.query(q, params),
  });
  const standards = wireDeviceStandards({ api: apiContext, accept, config, log, publish: (topic, payload, options) => publishAlert?.(topic, payload, options) });
  const api = await buildApi(
    apiContext,
    {
      https: tls,
      sessionTtlMs: config.sessionTtlMs,
      sessionIdleMs: config.sessionIdleMs,
      passwordLinkTtlMs: config.passwordLinkTtlMs,
      trustProxy: config.trustProxy,
      oidc: config.oidc,
      plugins: [
        alertsPlugin({
          list: (filter) => alertStore.list(filter),
          get: (id) => alertStore.get(id),
          acknowledge: (id, actor) => alerts.acknowledge(id, actor),
          trends: (list) => alertTrends.of(list),
        }, registry),
        // CAP 1.2 messages of flood and air alerts (docs/cap.md)
        capPlugin(alertStore, registry, { ...config.cap, publicUrl: config.publicUrl }),
        streamPlugin(hub, {
          alertEventsAfter: (seq) =>
            alertStore.eventsAfter(seq).map((e) => ({
              seq: e.seq,
              kind: e.change.alert.kind,
              deviceId: e.change.alert.deviceId,
              data: { type: e.change.type, alert: formatAlert(e.change.alert) },
            })),
          cityOf: (id) => registry.device(id)?.city,
        }),
        deliveriesPlugin({ store: notifyStore, get: (id) => alertStore.get(id), registry }),
        channelsPlugin({
          registry,
          channels: notifyChannels,
          rules: notifyRules,
          providerUrls: config.providerUrls,
          counted: countSend,
          ackLinks,
          acknowledge: (id: string, actor: string) => alerts.acknowledge(id, actor),
        }),
        summaryPlugin({ registry, activeAlerts: () => alerts.activeAlerts(), indices: currentIndices }),
        clusterPlugin(health),
        brokerAuthPlugin(apiContext, { secret: config.brokerAuthSecret, workerPassword: config.brokerPassword }),
        consolePlugin({ registry, activeAlerts: () => alerts.activeAlerts(), indices: currentIndices, tilesOrigin: tilesOrigin(config.mapTiles) }),
        consoleMapPlugin(config.mapTiles),
        opendataPlugin(apiContext, { ...config.opendata, publicUrl: config.publicUrl }),
        publicPlugin(publicSnapshots, { rateLimit: config.apiRateLimit > 0 ? config.publicRateLimit : 0 }),
        ...standards.plugins,
        ...(hooks.apiPlugins ?? []).map((plugin) => (app: FastifyInstance) => plugin(app, apiContext)),
      ] as never,
    },
  );

  if (config.role === 'ingest') restrictToIngestRole(api);

  // periodic work: gauges, registry status, derived points
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
  every(1000, () => {
    const s = stateOf();
    metrics.spoolBytes.set(s.spool.bytes);
    metrics.spoolOldest.set(s.spool.oldestAgeSeconds);
    metrics.spoolWaiting.set(s.blockedPublishes);
    for (const c of s.consumers) metrics.consumerLag.set({ consumer: c.name }, c.lagBytes);
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
    // the fleet's derived points (device states, indices) come from one node: the alert owner in a cluster
    derivesFleet: () => !cluster || cluster.owner.isOwner,
    instance: config.workerId || hostname(),
    state: () => {
      const s = stateOf();
      return { spoolBytes: s.spool.bytes, spoolOldestAgeSeconds: s.spool.oldestAgeSeconds, influxUp: s.influx.up, mqttConnections: broker?.connections ?? 0 };
    },
  });
  stateLine = derived.stateLine;

  const brokerAddress = broker ? await broker.listen() : undefined;
  await api.listen({ port: config.httpPort, host: config.host });
  const httpPort = (api.server.address() as { port: number }).port;
  const loopback = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const httpUrl = `${tls ? 'https' : 'http'}://${loopback}:${httpPort}`;
  consoleUrl = httpUrl;
  outbox.start();
  const mqttUrl = brokerAddress && brokerAddress.port > 0 ? `mqtt://${loopback}:${brokerAddress.port}` : undefined;
  log.info({ http: httpUrl, mqtt: mqttUrl, mqttTls: brokerAddress?.tlsPort, mqttWs: brokerAddress?.wsPort, influx: redactUrl(config.influxUrl), db: config.influxDb, dataDir: config.dataDir }, 'Pantau is running');
  void derived.writeDeviceStates().catch(() => undefined);

  let stopping: Promise<void> | undefined;
  const platform: Platform = {
    config, log, registry, ingest, spool, writer, broker, api, metrics, influx, latest, alerts, hub, adminKey, httpUrl, mqttUrl, history, publicSnapshots,
    cluster: cluster ? { alerts: cluster, view } : undefined,
    stop() {
      stopping ??= (async () => {
        const deadline = Date.now() + config.shutdownTimeoutMs;
        const left = () => Math.max(0, deadline - Date.now());
        log.info('stopping: no new messages; the writer drains the log into InfluxDB');
        for (const t of timers) clearInterval(t);
        publicSnapshots.stop();
        // 1. no new messages: the external broker's share, then the embedded broker's listeners
        await worker?.close();
        await broker?.stopAccepting();
        stopStreamRevocation();
        stopStreamStatus();
        await revocation?.stop();
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
        await Promise.race([apiClosed, new Promise((r) => setTimeout(r, 1000))]);
        alerts.saveNow();
        await webhook?.close();
        await outbox.close();
        await node?.stop();
        await registry.close().catch((err) => log.warn({ err: (err as Error).message }, 'registry close failed'));
        const pending = spool.pendingBytes;
        log.info({ spoolBytesLeft: pending }, pending > 0 ? 'stopped; the rest of the log is written after the next start' : 'stopped; everything is in InfluxDB');
      })();
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
    worker = await startWorkerSource(platform);
    const w = worker;
    publishAlert ??= (topic, payload, options) => w.publish(topic, payload, options);
  }
  standards.start();
  await publicSnapshots.start();
  await hooks.extend?.(platform);
  return platform;
}
