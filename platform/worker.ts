// Scale-out (docs/contract.md §7): with PANTAU_BROKER_URL set there is no embedded broker; this process is an ingest worker
// that takes its share of the fleet's telemetry from the external broker's shared subscription.
// Its client id is stable (`pantau-ingest-${PANTAU_WORKER_ID}`) because its persistent session holds the
// messages it has not yet acknowledged: restart a worker under the same id (and data dir, for its spool).
// SIGTERM leaves cleanly: unsubscribe from the share, drain, end the session (ingest/mqtt-source.ts); the session of
// a worker that died (its lease ran out) is taken over by a live one, which drains and ends it (platform/takeover.ts).
// In a cluster the worker acknowledges only while its lease holds (fencing: it suspends when it may have lost it).
import { hostname } from 'node:os';
import { INGEST_WORKER_USERNAME } from '../api/broker-auth.js';
import { startMqttSource, type MqttSource } from '../ingest/mqtt-source.js';
import { acceptReportedConfig } from '../broker/config-reported.js';
import { deviceExtras } from '../registry/device-extras.js';
import type { Logger } from 'pino';
import type { Ingest } from '../ingest/ingest.js';
import type { Registry } from '../registry/registry.js';
import { workerClientId, type ClusterNode } from './cluster-nodes.js';
import type { Config } from './config.js';
import { metered, type Metrics } from './metrics.js';
import { startTakeovers } from './takeover.js';

/** What an ingest worker needs of the platform (given, not imported: platform.ts wires, worker.ts does not reach back). */
export interface WorkerDeps {
  config: Config;
  log: Logger;
  metrics: Metrics;
  ingest: Ingest;
  registry: Registry;
  /** This node's row in a cluster (PostgreSQL): the lease that fences acknowledgements, and takeovers of dead workers. */
  node?: ClusterNode;
}

export interface WorkerSource {
  /** Connected and subscribed (always true when there is no external broker). */
  readonly connected: boolean;
  /** Publish on the external broker (alerts for city systems); a no-op without one. */
  publish(topic: string, payload: string, options?: { qos?: 0 | 1; retain?: boolean }): void;
  /** Stop taking messages and let those in flight become durable. Call before the spool closes. */
  close(): Promise<void>;
  /**
   * After `close()`: its broker session was not ended (fenced, a message arrived while leaving, the broker
   * unreachable), so messages may wait in it; the connection is closed. Not a clean stop: a live worker takes it over.
   */
  readonly sessionKept: boolean;
}

export async function startWorkerSource(platform: WorkerDeps): Promise<WorkerSource> {
  const { config, log, metrics } = platform;
  if (!config.brokerUrl) return { connected: true, publish: () => undefined, close: async () => undefined, sessionKept: false };
  const clientId = workerClientId(config.workerId);
  // PANTAU_WORKER_ID defaults to the host name, which orchestrators keep stable per replica (config.ts)
  const password = config.brokerPassword;
  // the worker account of api/broker-auth.ts unless the broker has its own
  const username = config.brokerUsername || (password ? INGEST_WORKER_USERNAME : undefined);
  const extras = deviceExtras(platform.registry);
  const { node } = platform;
  const mayAcknowledge = node ? () => node.mayAcknowledge() : undefined;
  // its own session, and a dead worker's during a takeover: the same ingest, the same acknowledgement rule
  const sourceFor = (id: string, sourceLog: Logger): MqttSource => startMqttSource({
    url: config.brokerUrl!,
    clientId: id,
    mayAcknowledge,
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
    log: sourceLog,
    onRejected: (reason) => metrics.rejected.inc({ reason }),
    leaveOnClose: true,
  });
  const source = sourceFor(clientId, log.child({ component: 'mqtt-source' }));
  log.info({ clientId, username }, 'ingest worker: taking telemetry from the external broker');
  const pg = platform.registry.postgres;
  // a renewal proves the row was not taken (or resets it after a takeover: the session is gone, a fresh one starts)
  node?.onRenewed(() => node.mayAcknowledge() && source.resume());
  const takeovers = node && pg
    ? startTakeovers({
        pg,
        nodeId: config.workerId,
        leaseMs: config.workerLeaseMs,
        mayAcknowledge: () => node.mayAcknowledge() && !source.suspended,
        log: log.child({ component: 'takeover' }),
        metrics,
        async drain(session) {
          const drainer = sourceFor(session, log.child({ component: 'takeover', session }));
          // connected and subscribed as the dead worker was (or given up after 10 s: the session is kept, tried again)
          const until = Date.now() + 10_000;
          while (!drainer.connected && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
          await drainer.close();
          return { ended: drainer.sessionEnded, messages: drainer.stats.messages };
        },
      })
    : undefined;
  let closed = false;
  return {
    get connected() {
      return source.connected;
    },
    publish: (topic, payload, options) => source.publish(topic, payload, options),
    async close() {
      await takeovers?.stop();
      await source.close();
      closed = true;
    },
    get sessionKept() {
      return closed && !source.sessionEnded;
    },
  };
}
