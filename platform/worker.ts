// Scale-out (SPEC §7): with PANTAU_BROKER_URL set there is no embedded broker; this process is an ingest worker
// that takes its share of the fleet's telemetry from the external broker's shared subscription.
// Its client id is stable (`pantau-ingest-${PANTAU_WORKER_ID}`) because its persistent session holds the
// messages it has not yet acknowledged: restart a worker under the same id (and data dir, for its spool).
// SIGTERM leaves cleanly: unsubscribe from the share, drain, end the session (ingest/mqtt-source.ts); a worker
// that crashed and will not come back is drained by starting its id elsewhere and stopping it (docs/scale-out.md).
import { hostname } from 'node:os';
import { INGEST_WORKER_USERNAME } from '../api/broker-auth.js';
import { startMqttSource, type MqttSource } from '../ingest/mqtt-source.js';
import { metered, type Platform } from './platform.js';

export interface WorkerSource {
  /** Connected and subscribed (always true when there is no external broker). */
  readonly connected: boolean;
  /** Publish on the external broker (alerts for city systems); a no-op without one. */
  publish(topic: string, payload: string, options?: { qos?: 0 | 1; retain?: boolean }): void;
  /** Stop taking messages and let those in flight become durable. Call before the spool closes. */
  close(): Promise<void>;
}

export async function startWorkerSource(platform: Platform): Promise<WorkerSource> {
  const { config, log, metrics, ingest } = platform;
  if (!config.brokerUrl) return { connected: true, publish: () => undefined, close: async () => undefined };
  const clientId = `pantau-ingest-${config.workerId}`;
  // config.ts makes sure PANTAU_WORKER_ID is set and stable when PANTAU_BROKER_URL is
  const password = config.brokerPassword;
  // the worker account of api/broker-auth.ts unless the broker has its own
  const username = config.brokerUsername || (password ? INGEST_WORKER_USERNAME : undefined);
  const source: MqttSource = startMqttSource({
    url: config.brokerUrl,
    clientId,
    username,
    password,
    ingest: {
      accept: metered(metrics, (device, payload, qos) => ingest.accept(device, payload, qos)),
      reject: (device, reason, detail, at) => ingest.reject(device, reason, detail, at),
      on: (event, listener) => ingest.on(event, listener),
      off: (event, listener) => ingest.off(event, listener),
    },
    registry: platform.registry,
    log: log.child({ component: 'mqtt-source' }),
    onRejected: (reason) => metrics.rejected.inc({ reason }),
    leaveOnClose: true,
  });
  log.info({ clientId, username }, 'ingest worker: taking telemetry from the external broker');
  return source;
}
