// The embedded MQTT broker as a node builds it (no PANTAU_BROKER_URL, role all or ingest): its listeners and limits
// from the configuration, telemetry handed to ingest's metered entry point, its metrics, and the rejections it
// publishes back to devices. Built here, listening only when platform.ts says so.
import type { Logger } from 'pino';
import type { TelemetryHandler } from '../broker/authorize.js';
import { IDENTIFIER_REJECTED } from '../broker/authenticate.js';
import { Broker } from '../broker/broker.js';
import type { Ingest } from '../ingest/ingest.js';
import type { Registry } from '../registry/registry.js';
import type { Config } from './config.js';
import type { Metrics } from './metrics.js';

export function createEmbeddedBroker(deps: {
  config: Config;
  log: Logger;
  registry: Registry;
  metrics: Metrics;
  ingest: Ingest;
  tls: { cert: Buffer; key: Buffer } | undefined;
  /** Ingest's metered entry point: resolves once the reading is durable (the acknowledgement waits for it). */
  accept: TelemetryHandler;
}): Broker {
  const { config, log, registry, metrics, ingest, tls, accept } = deps;
  const broker = new Broker({
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
    // the in-flight bound again, before parsing: packets past it wait in the sockets, not in this heap
    maxPacketsInHand: config.ingestMaxInFlight,
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
  ingest.on('rejection', (r: { deviceId: string; kind: never; ts: number; reason: string; detail: string }) =>
    broker.publishRejection(r.kind, r.deviceId, { reason: r.reason, detail: r.detail, ts: new Date(r.ts).toISOString() }),
  );
  return broker;
}
