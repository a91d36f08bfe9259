// One Pantau process: registry, spool, ingest, InfluxDB writer, embedded broker and HTTP API, wired together.
// Data flows one way — broker → ingest → spool → InfluxDB — and the API reads InfluxDB and the registry.
import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { buildApi } from '../api/app.js';
import type { ApiContext } from '../api/context.js';
import { computeIndices, IspuCache, type Indices } from '../api/indices.js';
import { alertsPlugin } from '../api/alerts.js';
import { StreamHub, streamPlugin } from '../api/stream.js';
import { summaryPlugin } from '../api/summary.js';
import { brokerAuthPlugin } from '../api/broker-auth.js';
import { startWorkerSource, type WorkerSource } from './worker.js';
import { AlertService, formatAlert } from '../alerts/service.js';
import { AlertStore, type AlertReader } from '../alerts/store.js';
import type { ClusterAlerts } from '../alerts/owner.js';
import { restrictToIngestRole, startClusterAlerts, startClusterView, type ClusterAlertWiring, type ClusterView } from './cluster.js';
import { WebhookSender } from '../alerts/webhook.js';
import { floodLevel, type FloodThresholds } from '../catalog/flood-levels.js';
import { trafficLos, type TrafficThresholds } from '../catalog/traffic-los.js';
import { LatestReadings } from '../api/latest-cache.js';
import { Broker } from '../broker/broker.js';
import { DEVICE_STATE_INTERVAL_MS, INDICES_INTERVAL_MS, PLATFORM_INTERVAL_MS, isKind } from '../catalog/index.js';
import { InfluxClient } from '../influx/client.js';
import { describeLine } from '../influx/line-protocol.js';
import { Ingest } from '../ingest/ingest.js';
import { InfluxWriter } from '../ingest/influx-writer.js';
import { Spool } from '../ingest/spool.js';
import { Registry, type DeviceRecord } from '../registry/registry.js';
import { ensureAdminKey } from './admin-key.js';
import type { Config } from './config.js';
import { deviceStateLine, indicesLine, platformLine } from './derived-points.js';
import { seedFleet } from './fleet-file.js';
import { createLogger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';

export interface Platform {
  config: Config;
  log: Logger;
  registry: Registry;
  ingest: Ingest;
  spool: Spool;
  writer: InfluxWriter;
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
  /** Graceful stop: no new connections, flush the spool to InfluxDB within the shutdown timeout, close. */
  stop(): Promise<void>;
}

export interface PlatformHooks {
  /** Extra wiring after the core is up (alerts, stream, summary). */
  extend?: (platform: Platform) => Promise<void> | void;
  logger?: Logger;
}

export async function startPlatform(config: Config, hooks: PlatformHooks = {}): Promise<Platform> {
  const log = hooks.logger ?? createLogger(config.logLevel);
  mkdirSync(config.dataDir, { recursive: true });
  const registry = await Registry.open(config.registryUrl, config.dataDir, { authFailuresPerMinute: config.authFailuresPerMinute, log });
  const adminKey = await ensureAdminKey(registry, config.dataDir, config.adminKey, log);
  if (config.unsafeAckBeforeDurable) log.warn('PANTAU_UNSAFE_ACK_BEFORE_DURABLE=1: acknowledgements do not wait for durability (benchmark baseline only)');
  if (config.fleetFile) await seedFleet(registry, config.fleetFile, log);

  const metrics = createMetrics();
  const influx = new InfluxClient({
    url: config.influxUrl,
    database: config.influxDb,
    token: config.influxToken,
    username: config.influxUsername,
    password: config.influxPassword,
  });
  try {
    await influx.createDatabase();
  } catch (err) {
    // Not fatal: readings wait in the spool, and the writer creates the database once InfluxDB answers.
    log.warn({ err: (err as Error).message }, 'InfluxDB not usable at start; readings will wait in the spool');
  }

  const spool = await Spool.open({ dir: join(config.dataDir, 'spool'), maxBytes: config.spoolMaxBytes, log: log.child({ component: 'spool' }) });
  const ingest = new Ingest({ spool, metrics, log: log.child({ component: 'ingest' }), deviceRateLimit: config.deviceRateLimit, maxAgeMs: config.maxReadingAgeMs });
  const writer = new InfluxWriter({
    spool,
    influx,
    log: log.child({ component: 'influx-writer' }),
    onRefused: (text, reason) => {
      const { measurement, tags } = describeLine(text);
      const device = tags.device_id ? registry.device(tags.device_id) : undefined;
      log.error({ measurement, deviceId: tags.device_id, reason }, 'InfluxDB refused a point');
      if (device && isKind(measurement)) void ingest.reject(device, 'storage_refused', `InfluxDB refused the point: ${reason}`).catch(() => undefined);
    },
    onWritten: (lines, seconds) => {
      metrics.written.inc(lines);
      metrics.writeSeconds.observe(seconds);
    },
    onStateChange: (up) => metrics.influxUp.set(up ? 1 : 0),
  });
  metrics.influxUp.set(1);
  writer.start();

  const latest = new LatestReadings();
  // a device's state point for the city map: status, location and its worst active alert
  const stateLine = (d: DeviceRecord, at = Date.now()) => deviceStateLine(d, alerts.severity(d.id), ingest.uniqueTs(`${d.id}\u0000state`, at));
  const hub = new StreamHub();
  const webhook = config.webhookUrl && config.webhookSecret
    ? new WebhookSender({ url: config.webhookUrl, secret: config.webhookSecret, log: log.child({ component: 'webhook' }) })
    : undefined;
  let publishAlert: ((topic: string, payload: string, options: { qos: 0 | 1; retain: boolean }) => void) | undefined;
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
            if (d) void ingest.writeLines([stateLine(d)]).catch(() => undefined);
          },
        },
        stream: (seq, kind, deviceId, data) => hub.alert(seq, kind, deviceId, data),
      })
    : undefined;
  const alertStore: AlertReader = cluster ? cluster.reader : new AlertStore(registry.db);
  const alerts = cluster?.alerts ?? new AlertService(registry, alertStore as AlertStore, {
    writeLines: (lines) => ingest.writeLines(lines),
    uniqueTs: (stream, at) => ingest.uniqueTs(stream, at),
    publish: (topic, payload, options) => publishAlert?.(topic, payload, options),
    stream: (seq, change) => hub.alert(seq, change.alert.kind, change.alert.deviceId, { type: change.type, alert: formatAlert(change.alert) }),
    webhook,
    onChange: (change) => {
      metrics.alertChanges.inc({ change: change.type });
      const d = registry.device(change.alert.deviceId);
      if (d) void ingest.writeLines([stateLine(d)]).catch(() => undefined);
    },
  }, log.child({ component: 'alerts' }));
  // ISPU needs 24 h of history (a query); flood level and LOS come from the newest reading alone
  const ispuCache = new IspuCache(influx, INDICES_INTERVAL_MS);
  const currentIndices = (deviceId: string): Indices | undefined => {
    const d = registry.device(deviceId);
    const r = latest.get(deviceId);
    if (!d) return undefined;
    if (d.kind === 'air') {
      const ispu = ispuCache.peek(deviceId);
      return ispu === undefined ? undefined : { ispu };
    }
    if (!r) return undefined;
    if (d.kind === 'flood') return r.values.waterLevel === undefined ? undefined : { alertLevel: floodLevel(r.values.waterLevel, d.thresholds as FloodThresholds | null) };
    const los = trafficLos(r.values, d.thresholds as TrafficThresholds | null);
    return los ? { los: los.los } : undefined;
  };
  ingest.on('readings', (readings: Array<{ deviceId: string; kind: never; ts: number; values: Record<string, number> }>) => {
    const last = readings[readings.length - 1]!;
    let newest = last;
    for (const r of readings) if (r.ts > newest.ts) newest = r;
    latest.update(newest);
    registry.touch(last.deviceId, Date.now());
    if (hub.size > 0) {
      for (const r of readings) hub.reading(r.kind, r.deviceId, { deviceId: r.deviceId, kind: r.kind, ts: new Date(r.ts).toISOString(), values: r.values });
    }
    alerts.onReadings(readings);
    cluster?.feedReadings(readings);
    view?.share(readings);
  });
  registry.on('device-removed', (id: string) => {
    latest.forget(id);
    ispuCache.forget(id);
    ingest.forgetDevice(id);
    alerts.forget(id);
  });

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
        ? (device, payload, qos) => {
            // benchmark baseline: the acknowledgement does not wait for the fsync
            ingest.accept(device, Buffer.from(payload), qos).catch(() => undefined);
            return Promise.resolve();
          }
        : (device, payload, qos) => ingest.accept(device, payload, qos),
      onAuthFailure: () => metrics.authFailures.inc(),
      onDenied: (action, deviceId, topic) => {
        metrics.aclDenials.inc({ action });
        log.warn({ action, deviceId, topic: topic.slice(0, 200) }, 'MQTT ACL: denied');
      },
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
      spool: { bytes: spool.pendingBytes, oldestAgeSeconds: oldest === null ? 0 : (Date.now() - oldest) / 1000, corruptSkips: spool.corruptSkips },
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
      ispu: ispuCache,
      apiRateLimit: config.apiRateLimit,
      corsOrigins: config.corsOrigins,
      status: stateOf,
      readiness: {
        async checks() {
          const influxOk = (await influx.ping()) && writer.influxUp;
          return {
            broker: broker
              ? { ok: broker.isListening() }
              : config.role === 'api'
                ? { ok: view?.connected ?? true, detail: config.brokerUrl ? `external broker ${config.brokerUrl} (cluster view)` : 'no broker (PANTAU_ROLE=api)' }
                : { ok: worker?.connected ?? false, detail: `external broker ${config.brokerUrl}` },
            influxdb: influxOk ? { ok: true } : { ok: false, detail: writer.lastError ?? `no answer from ${config.influxUrl}` },
            registry: { ok: registry.usable() },
          };
        },
      },
    };
  const api = await buildApi(
    apiContext,
    {
      https: tls,
      plugins: [
        alertsPlugin({
          list: (filter) => alertStore.list(filter),
          get: (id) => alertStore.get(id),
          acknowledge: (id, actor) => alerts.acknowledge(id, actor),
        }),
        streamPlugin(hub, {
          alertEventsAfter: (seq) =>
            alertStore.eventsAfter(seq).map((e) => ({
              seq: e.seq,
              kind: e.change.alert.kind,
              deviceId: e.change.alert.deviceId,
              data: { type: e.change.type, alert: formatAlert(e.change.alert) },
            })),
        }),
        summaryPlugin({ registry, activeAlerts: () => alerts.activeAlerts(), indices: currentIndices }),
        brokerAuthPlugin(apiContext, { secret: config.brokerAuthSecret, workerPassword: config.brokerPassword }),
      ] as never,
    },
  );

  if (config.role === 'ingest') restrictToIngestRole(api);

  // periodic work: gauges, registry status, derived points
  const instance = config.workerId || hostname();
  let lastReadings = 0;
  let lastRejections = 0;
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
  const sumCounter = async (c: { get(): Promise<{ values: Array<{ value: number }> }> }) => (await c.get()).values.reduce((n, v) => n + v.value, 0);
  every(1000, () => {
    const s = stateOf();
    metrics.spoolBytes.set(s.spool.bytes);
    metrics.spoolOldest.set(s.spool.oldestAgeSeconds);
  });
  every(5000, () => registry.flushStatus());
  every(config.alertTickMs, () => alerts.tick());
  /** Derived points of the whole fleet (device states, indices) come from one node: the alert owner in a cluster. */
  const derivesFleet = () => !cluster || cluster.owner.isOwner;
  every(config.sseHeartbeatMs, () => hub.heartbeat());
  every(PLATFORM_INTERVAL_MS, async () => {
    const s = stateOf();
    const readings = await sumCounter(metrics.readings);
    const rejections = await sumCounter(metrics.rejected);
    const dropped = await sumCounter(metrics.dropped);
    const perSecond = 1000 / PLATFORM_INTERVAL_MS;
    await ingest.writeLines([
      platformLine(instance, {
        readings_per_s: (readings - lastReadings) * perSecond,
        rejections_per_s: (rejections - lastRejections) * perSecond,
        readings_total: readings,
        rejections_total: rejections,
        spool_bytes: s.spool.bytes,
        spool_oldest_age_s: s.spool.oldestAgeSeconds,
        influx_up: s.influx.up ? 1 : 0,
        mqtt_connections: broker?.connections ?? 0,
        dropped_total: dropped,
      }, Date.now()),
    ]);
    lastReadings = readings;
    lastRejections = rejections;
  });
  const writeDeviceStates = async () => {
    if (!derivesFleet()) return;
    const now = Date.now();
    await ingest.writeLines(registry.listDevices().map((d) => stateLine(d, now)));
  };
  every(DEVICE_STATE_INTERVAL_MS, writeDeviceStates);
  registry.on('status', (d) => void ingest.writeLines([stateLine(d)]).catch(() => undefined));
  registry.on('device-changed', (d) => void ingest.writeLines([stateLine(d)]).catch(() => undefined));
  every(INDICES_INTERVAL_MS, async () => {
    if (!derivesFleet()) return;
    const now = Date.now();
    const lines: string[] = [];
    for (const d of registry.listDevices()) {
      const reading = latest.get(d.id);
      if (!reading || now - reading.ts > 3_600_000) continue;
      const indices = await computeIndices((id) => ispuCache.refresh(id, now), d, reading.values);
      if (d.kind === 'air') alerts.onIspu(d, indices.ispu?.value ?? null);
      const extra: Record<string, number> = {};
      if (d.kind === 'traffic' && reading.values.vehicleCount !== undefined) {
        extra.flow_per_hour = (reading.values.vehicleCount * 3600) / (reading.values.intervalSeconds ?? 60);
      }
      const l = indicesLine(d, indices, extra, ingest.uniqueTs(`${d.id}\u0000indices`, now));
      if (l) lines.push(l);
    }
    await ingest.writeLines(lines);
  });

  const brokerAddress = broker ? await broker.listen() : undefined;
  await api.listen({ port: config.httpPort, host: config.host });
  const httpPort = (api.server.address() as { port: number }).port;
  const loopback = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const httpUrl = `${tls ? 'https' : 'http'}://${loopback}:${httpPort}`;
  const mqttUrl = brokerAddress && brokerAddress.port > 0 ? `mqtt://${loopback}:${brokerAddress.port}` : undefined;
  log.info({ http: httpUrl, mqtt: mqttUrl, mqttTls: brokerAddress?.tlsPort, mqttWs: brokerAddress?.wsPort, influx: config.influxUrl, db: config.influxDb, dataDir: config.dataDir }, 'Pantau is running');
  void writeDeviceStates().catch(() => undefined);

  let stopping: Promise<void> | undefined;
  const platform: Platform = {
    config, log, registry, ingest, spool, writer, broker, api, metrics, influx, latest, alerts, hub, adminKey, httpUrl, mqttUrl,
    cluster: cluster ? { alerts: cluster, view } : undefined,
    stop() {
      stopping ??= (async () => {
        const deadline = Date.now() + config.shutdownTimeoutMs;
        log.info('stopping: no new connections; flushing the spool');
        for (const t of timers) clearInterval(t);
        await worker?.close();
        await broker?.stopAccepting();
        hub.closeAll();
        const apiClosed = api.close();
        await broker?.close();
        await cluster?.stop();
        await view?.close();
        await spool.close().catch((err) => log.error({ err }, 'spool close failed'));
        await writer.stop(Math.max(0, deadline - Date.now() - 200));
        await Promise.race([apiClosed, new Promise((r) => setTimeout(r, 1000))]);
        alerts.saveNow();
        await webhook?.close();
        await registry.close().catch((err) => log.warn({ err: (err as Error).message }, 'registry close failed'));
        const left = spool.pendingBytes;
        log.info({ spoolBytesLeft: left }, left > 0 ? 'stopped; the rest of the spool is written after the next start' : 'stopped; spool empty');
      })();
      return stopping;
    },
  };
  platform.adminKey = adminKey;
  if (config.brokerUrl && config.role !== 'api') {
    worker = await startWorkerSource(platform);
    const w = worker;
    publishAlert ??= (topic, payload, options) => w.publish(topic, payload, options);
  }
  await hooks.extend?.(platform);
  return platform;
}
