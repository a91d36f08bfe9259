// A Pantau cluster (docs/scale-out.md): nodes that share one registry in PostgreSQL (PANTAU_REGISTRY_URL) and
// one MQTT broker (PANTAU_BROKER_URL), each with a role (PANTAU_ROLE = all | ingest | api).
//
// This file wires, for platform.ts:
//   - the cluster's alerts: the feed of acknowledged readings and the elected alert owner (alerts/owner.ts), and
//     every node's view of alerts (alerts/cluster-alerts.ts);
//   - the cluster's readings view: each node publishes the readings it acknowledged, in batches, on the internal
//     topic `pantau/cluster/readings` (QoS 0, a view — the data itself is in the spool and InfluxDB), and every node
//     subscribes, so `latest` and the live stream of any API node show what every worker ingested;
//   - the role filter of ingest-only nodes (their HTTP port answers /healthz, /readyz and /metrics only).
import type { FastifyInstance } from 'fastify';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { CLUSTER_READINGS_TOPIC, INGEST_WORKER_USERNAME } from '../api/broker-auth.js';
import { ClusterAlerts } from '../alerts/cluster-alerts.js';
import { AlertFeed, AlertOwner } from '../alerts/owner.js';
import type { OwnerOutputs } from '../alerts/owner-publish.js';
import { formatAlert } from '../alerts/service.js';
import { PgAlertStore } from '../alerts/store.js';
import { isKind } from '../catalog/index.js';
import type { LogConsumer, LogEntry, LogReading } from '../ingest/log-types.js';
import type { Registry } from '../registry/registry.js';
import type { Config } from './config.js';

export type Role = 'all' | 'ingest' | 'api';
export const ROLES: readonly Role[] = ['all', 'ingest', 'api'];

/** Routes an ingest-only node keeps. */
const INGEST_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** On an ingest-only node, every route but health and metrics answers 404 with a problem saying why. */
export function restrictToIngestRole(api: FastifyInstance): void {
  api.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0]!;
    if (INGEST_ROUTES.has(path)) return;
    return reply
      .code(404)
      .type('application/problem+json')
      .send({ type: 'https://pantau.dev/problems/not-found', title: 'Not Found', status: 404, detail: 'this node runs PANTAU_ROLE=ingest: only /healthz, /readyz and /metrics are served here; use an API node' });
  });
}

// ---- alerts -------------------------------------------------------------------------------------------------

export interface ClusterAlertWiring {
  alerts: ClusterAlerts;
  reader: PgAlertStore;
  owner: AlertOwner;
  /** The log consumer that hands acknowledged readings to the alert owner (durable: resumes from its checkpoint). */
  feed: AlertFeed;
  stop(): Promise<void>;
}

export async function startClusterAlerts(options: {
  registry: Registry;
  config: Config;
  log: Logger;
  outputs: OwnerOutputs;
  stream(seq: number, kind: string, deviceId: string, data: unknown): void;
}): Promise<ClusterAlertWiring> {
  const pg = options.registry.postgres!;
  const log = options.log.child({ component: 'alerts' });
  const reader = new PgAlertStore(pg);
  const owner = new AlertOwner(pg, options.registry, options.outputs, log, { tickMs: options.config.alertTickMs, nodeId: options.config.workerId });
  const alerts = new ClusterAlerts(pg, reader, owner, (e) => {
    const a = e.change.alert;
    options.stream(e.seq, a.kind, a.deviceId, { type: e.change.type, alert: formatAlert(a) });
  }, log);
  await alerts.start();
  const feed = new AlertFeed(pg, log);

  return {
    alerts,
    reader,
    owner,
    feed,
    async stop() {
      feed.stop();
      await owner.stop();
    },
  };
}

/** The log consumer that shares this node's acknowledged readings with the other nodes (ephemeral: a view). */
export function clusterViewConsumer(view: ClusterView): LogConsumer {
  return {
    name: 'cluster-view',
    durable: false,
    handle(entries: LogEntry[]) {
      for (const e of entries) if (e.readings.length > 0) view.share(e.readings);
    },
  };
}

// ---- readings view --------------------------------------------------------------------------------------------

export interface ClusterView {
  /** Share this node's acknowledged readings with the other nodes. */
  share(readings: LogReading[]): void;
  /** Retained QoS 1 publish on the cluster's broker (the alert owner's alerts); resolves on the broker's PUBACK. */
  publish(topic: string, payload: string): Promise<void>;
  /** The messages the broker retains on these topics (a new alert owner's check of what its predecessor published). */
  retained(topics: string[]): Promise<Map<string, string>>;
  readonly connected: boolean;
  close(): Promise<void>;
}

type WireReading = [deviceId: string, kind: string, ts: number, values: Record<string, number>];

export function startClusterView(options: {
  config: Config;
  log: Logger;
  registry: Registry;
  /** A reading another node acknowledged. */
  onReading(reading: LogReading): void;
}): ClusterView {
  const { config } = options;
  const log = options.log.child({ component: 'cluster-view' });
  const node = config.workerId;
  const password = config.brokerPassword;
  const client: MqttClient = mqtt.connect(config.brokerUrl!, {
    clientId: `pantau-ingest-${node}-view`,
    username: config.brokerUsername || (password ? INGEST_WORKER_USERNAME : undefined),
    password,
    clean: true,
    protocolVersion: 4,
    keepalive: 30,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
  });
  client.on('connect', () => {
    client.subscribe(CLUSTER_READINGS_TOPIC, { qos: 0 }, (err) => {
      if (err) log.error({ err: err.message }, 'cluster view: subscription refused (check the broker ACL for the worker account)');
      else log.info({ topic: CLUSTER_READINGS_TOPIC }, 'cluster view: receiving the readings of every node');
    });
  });
  client.on('error', (err) => log.warn({ err: err.message }, 'cluster view: broker connection error'));
  client.on('message', (_topic, payload) => {
    let message: { node?: unknown; readings?: unknown };
    try {
      message = JSON.parse(payload.toString()) as typeof message;
    } catch {
      return;
    }
    if (message.node === node || !Array.isArray(message.readings)) return;
    for (const r of message.readings as WireReading[]) {
      if (!Array.isArray(r) || typeof r[0] !== 'string' || !isKind(r[1]) || typeof r[2] !== 'number' || typeof r[3] !== 'object') continue;
      // only devices this node knows (the registry is shared: a miss is a device removed meanwhile)
      if (!options.registry.device(r[0])) continue;
      options.onReading({ deviceId: r[0], kind: r[1], ts: r[2], values: r[3] });
    }
  });

  let buffer: WireReading[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    if (buffer.length === 0) return;
    const readings = buffer;
    buffer = [];
    if (!client.connected) return; // a view, not the data: the readings themselves are durable in the spool
    client.publish(CLUSTER_READINGS_TOPIC, JSON.stringify({ node, readings }), { qos: 0 });
  };
  return {
    get connected() {
      return client.connected;
    },
    share(readings) {
      for (const r of readings) buffer.push([r.deviceId, r.kind, r.ts, r.values]);
      if (buffer.length >= 500) flush();
      else timer ??= setTimeout(flush, 50);
    },
    publish(topic, payload) {
      return new Promise((resolve, reject) => {
        client.publish(topic, payload, { qos: 1, retain: true }, (err) => (err ? reject(err) : resolve()));
      });
    },
    async retained(topics) {
      // The broker sends a subscription's retained messages with its SUBACK, before it answers the UNSUBSCRIBE sent
      // after it (Mosquitto). A broker that sends them later, or refuses the subscription, shows none.
      const got = new Map<string, string>();
      if (!client.connected) return got;
      const wanted = new Set(topics);
      const onMessage = (topic: string, payload: Buffer, packet: { retain?: boolean }) => {
        if (packet.retain && wanted.has(topic) && payload.length > 0) got.set(topic, payload.toString());
      };
      client.on('message', onMessage);
      try {
        for (let i = 0; i < topics.length; i += 200) {
          const chunk = topics.slice(i, i + 200);
          const roundTrip = (async () => {
            await client.subscribeAsync(chunk, { qos: 0 });
            await client.unsubscribeAsync(chunk);
          })();
          let timeout: NodeJS.Timeout | undefined;
          await Promise.race([roundTrip, new Promise((_, reject) => (timeout = setTimeout(() => reject(new Error('the broker did not answer within 5 s')), 5000)))]).finally(() => clearTimeout(timeout));
        }
      } finally {
        client.removeListener('message', onMessage);
      }
      return got;
    },
    async close() {
      if (timer) clearTimeout(timer);
      flush();
      await client.endAsync(false).catch(() => undefined);
    },
  };
}
