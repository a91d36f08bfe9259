// The HTTP API as a node assembles it: the API context (what the routes read, /status and the /readyz checks), the
// citizens' snapshots, the device standards (LoRaWAN, SenML), and every plugin in its order, with the ingest-only
// role's filter. Built after the log is read and the broker exists; it listens only when platform.ts says so.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { formatAlert } from '../alerts/service.js';
import { alertsPlugin } from '../api/alerts.js';
import { buildApi } from '../api/app.js';
import { brokerAuthPlugin } from '../api/broker-auth.js';
import { capPlugin } from '../api/cap.js';
import { channelsPlugin } from '../api/channels.js';
import { clusterPlugin, type ClusterHealth } from '../api/cluster.js';
import { consoleMapPlugin, tilesOrigin } from '../api/console-map.js';
import { consolePlugin } from '../api/console.js';
import type { ApiContext } from '../api/context.js';
import { deliveriesPlugin } from '../api/deliveries.js';
import type { Indices, IndicesTracker } from '../api/indices.js';
import type { LatestReadings } from '../api/latest-cache.js';
import { opendataPlugin } from '../api/opendata.js';
import { PublicSnapshots } from '../api/public-snapshot.js';
import { publicPlugin } from '../api/public.js';
import { streamPlugin, type StreamHub } from '../api/stream.js';
import { summaryPlugin } from '../api/summary.js';
import type { Broker } from '../broker/broker.js';
import type { InfluxClient } from '../influx/client.js';
import type { Spool } from '../ingest/spool.js';
import type { WriterThread } from '../ingest/writer-thread.js';
import { redactUrl } from '../lib/redact.js';
import type { Registry } from '../registry/registry.js';
import type { Alerting, PublishAlert } from './alerting.js';
import { restrictToIngestRole, type ClusterView } from './cluster.js';
import type { Config } from './config.js';
import { wireDeviceStandards, type DeviceStandardsDeps } from './device-standards.js';
import type { History } from './history.js';
import type { Metrics } from './metrics.js';
import type { StorageState } from './storage.js';

export interface ApiAssemblyDeps {
  config: Config;
  log: Logger;
  registry: Registry;
  influx: InfluxClient;
  metrics: Metrics;
  latest: LatestReadings;
  indices: IndicesTracker;
  currentIndices: (deviceId: string) => Indices | undefined;
  history: History;
  hub: StreamHub;
  alerting: Alerting;
  spool: Spool;
  writer: WriterThread;
  broker: Broker | undefined;
  view: ClusterView | undefined;
  /** The ingest worker, once it is started (after the API is built). */
  worker: () => { connected: boolean } | undefined;
  stateOf: () => StorageState;
  health: () => Promise<ClusterHealth>;
  accept: DeviceStandardsDeps['accept'];
  publish: () => PublishAlert | undefined;
  tls: { cert: Buffer; key: Buffer } | undefined;
  apiPlugins: Array<(app: FastifyInstance, ctx: ApiContext) => Promise<void>>;
}

export interface AssembledApi {
  apiContext: ApiContext;
  publicSnapshots: PublicSnapshots;
  standards: ReturnType<typeof wireDeviceStandards>;
  api: FastifyInstance;
}

export async function assembleApi(deps: ApiAssemblyDeps): Promise<AssembledApi> {
  const { config, log, registry, influx, metrics, latest, indices, currentIndices, history, hub, spool, writer, broker, view, tls } = deps;
  const { alertStore, alerts, alertTrends, notifyStore, notifyChannels, notifyRules, countSend, ackLinks } = deps.alerting;
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
    status: deps.stateOf,
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
              : { ok: deps.worker()?.connected ?? false, detail: `external broker ${redactUrl(config.brokerUrl)}` },
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
  const standards = wireDeviceStandards({ api: apiContext, accept: deps.accept, config, log, publish: (topic, payload, options) => deps.publish()?.(topic, payload, options) });
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
        clusterPlugin(deps.health),
        brokerAuthPlugin(apiContext, { secret: config.brokerAuthSecret, workerPassword: config.brokerPassword }),
        consolePlugin({ registry, activeAlerts: () => alerts.activeAlerts(), indices: currentIndices, tilesOrigin: tilesOrigin(config.mapTiles) }),
        consoleMapPlugin(config.mapTiles),
        opendataPlugin(apiContext, { ...config.opendata, publicUrl: config.publicUrl }),
        publicPlugin(publicSnapshots, { rateLimit: config.apiRateLimit > 0 ? config.publicRateLimit : 0 }),
        ...standards.plugins,
        ...deps.apiPlugins.map((plugin) => (app: FastifyInstance) => plugin(app, apiContext)),
      ] as never,
    },
  );

  if (config.role === 'ingest') restrictToIngestRole(api);
  return { apiContext, publicSnapshots, standards, api };
}
