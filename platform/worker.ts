// Scale-out (docs/contract.md §7): with PANTAU_BROKER_URL set there is no embedded broker; this process is an ingest worker
// that takes its share of the fleet's telemetry from the external broker's shared subscription.
// Its client id is stable (`pantau-ingest-${PANTAU_WORKER_ID}`) because its persistent session holds the
// messages it has not yet acknowledged: restart a worker under the same id (and data dir, for its spool).
// SIGTERM leaves cleanly: unsubscribe from the share, drain, end the session (ingest/mqtt-source.ts); a worker
// that crashed and will not come back is drained by starting its id elsewhere and stopping it (docs/scale-out.md).
import { hostname } from 'node:os';
import { INGEST_WORKER_USERNAME } from '../api/broker-auth.js';
import { startMqttSource, type MqttSource } from '../ingest/mqtt-source.js';
import { acceptReportedConfig } from '../broker/config-reported.js';
import { deviceExtras } from '../registry/device-extras.js';
import type { Logger } from 'pino';
import type { Ingest } from '../ingest/ingest.js';
import type { Registry } from '../registry/registry.js';
import type { Config } from './config.js';
import { metered, type Metrics } from './metrics.js';

/** What an ingest worker needs of the platform (given, not imported: platform.ts wires, worker.ts does not reach back). */
export interface WorkerDeps {
  config: Config;
  log: Logger;
  metrics: Metrics;
  ingest: Ingest;
  registry: Registry;
}

export interface WorkerSource {
  /** Connected and subscribed (always true when there is no external broker). */
  readonly connected: boolean;
  /** Publish on the external broker (alerts for city systems); a no-op without one. */
  publish(topic: string, payload: string, options?: { qos?: 0 | 1; retain?: boolean }): void;
  /** Stop taking messages and let those in flight become durable. Call before the spool closes. */
  close(): Promise<void>;
}

export async function startWorkerSource(platform: WorkerDeps): Promise<WorkerSource> {
  const { config, log, metrics } = platform;
  if (!config.brokerUrl) return { connected: true, publish: () => undefined, close: async () => undefined };
  const clientId = `pantau-ingest-${config.workerId}`;
  // PANTAU_WORKER_ID defaults to the host name, which orchestrators keep stable per replica (config.ts)
  const password = config.brokerPassword;
  // the worker account of api/broker-auth.ts unless the broker has its own
  const username = config.brokerUsername || (password ? INGEST_WORKER_USERNAME : undefined);
  const extras = deviceExtras(platform.registry);
  const source: MqttSource = startMqttSource({
    url: config.brokerUrl,
    clientId,
    username,
    password,
    // counted as the embedded broker's telemetry is
    ingest: {
      accept: metered(metrics, (d, p, q, format?: 'senml') => platform.ingest.accept(d, p, q, undefined, format ?? 'json')),
      reject: (device, reason, detail, at) => platform.ingest.reject(device, reason, detail, at),
      on: platform.ingest.on.bind(platform.ingest),
      off: platform.ingest.off.bind(platform.ingest),
    },
    registry: platform.registry,
    onConfigReported: async (device, payload) => {
      const record = platform.registry.device(device.id);
      if (record) await acceptReportedConfig(extras, record, payload, log);
    },
    log: log.child({ component: 'mqtt-source' }),
    onRejected: (reason) => metrics.rejected.inc({ reason }),
    leaveOnClose: true,
  });
  log.info({ clientId, username }, 'ingest worker: taking telemetry from the external broker');
  return source;
}
