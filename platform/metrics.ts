// Prometheus metrics of one Pantau process (docs/contract.md §5 `/metrics`). One registry per platform instance, so tests
// can run several platforms in one process.
import type { AcceptOutcome, IngestDevice } from '../ingest/ingest.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { KINDS, REJECTION_REASONS, type Kind } from '../catalog/index.js';

/**
 * Increments of the hottest counters (one per message and per reading), summed in plain numbers and handed to
 * prom-client when the counter is read (`collect`, which `/metrics` and `get()` call first): prom-client's `inc`
 * builds a label hash string and a result object on every call, garbage at 20,000 messages a second.
 */
const tallies = new WeakMap<object, Array<() => void>>();

function flushTallies(this: object): void {
  for (const flush of tallies.get(this) ?? []) flush();
}

/** `add(n)` counts into `child` of `counter`, as of the counter's next read. */
function tally(counter: Counter<string>, child: { inc(value: number): void }): (n: number) => void {
  let pending = 0;
  let list = tallies.get(counter);
  if (!list) tallies.set(counter, (list = []));
  list.push(() => {
    if (pending === 0) return;
    child.inc(pending);
    pending = 0;
  });
  return (n) => {
    pending += n;
  };
}

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pantau_' });
  const metrics = {
    registry,
    messages: new Counter({ name: 'pantau_ingest_messages_total', help: 'MQTT telemetry messages received', labelNames: ['qos'], registers: [registry], collect: flushTallies }),
    readings: new Counter({ name: 'pantau_ingest_readings_total', help: 'Readings accepted and spooled', labelNames: ['kind'], registers: [registry], collect: flushTallies }),
    rejected: new Counter({ name: 'pantau_ingest_rejected_total', help: 'Readings rejected, by reason', labelNames: ['reason'], registers: [registry], collect: flushTallies }),
    dropped: new Counter({
      name: 'pantau_ingest_dropped_total',
      help: 'QoS 0 readings dropped because the spool was at its disk budget',
      registers: [registry],
    }),
    written: new Counter({ name: 'pantau_influx_points_written_total', help: 'Points written to InfluxDB', registers: [registry] }),
    writeSeconds: new Histogram({
      name: 'pantau_influx_write_duration_seconds',
      help: 'Duration of InfluxDB /write requests',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    influxUp: new Gauge({ name: 'pantau_influx_up', help: '1 when the last InfluxDB write succeeded', registers: [registry] }),
    spoolBytes: new Gauge({ name: 'pantau_spool_bytes', help: 'Bytes in the spool not yet written to InfluxDB', registers: [registry] }),
    spoolOldest: new Gauge({ name: 'pantau_spool_oldest_age_seconds', help: 'Age of the oldest reading waiting in the spool', registers: [registry] }),
    spoolWaiting: new Gauge({
      name: 'pantau_spool_blocked_publishes',
      help: 'QoS 1/2 publishes waiting for spool space (not yet acknowledged)',
      registers: [registry],
    }),
    connections: new Gauge({ name: 'pantau_mqtt_connections', help: 'Connected MQTT clients', registers: [registry] }),
    authFailures: new Counter({ name: 'pantau_mqtt_auth_failures_total', help: 'Refused MQTT CONNECTs', registers: [registry] }),
    clientIdRefused: new Counter({
      name: 'pantau_mqtt_client_id_refused_total',
      help: 'MQTT CONNECTs with good credentials refused for their client id (another device\'s id, or held by another device\'s connection); also in pantau_mqtt_auth_failures_total',
      registers: [registry],
    }),
    aclDenials: new Counter({ name: 'pantau_mqtt_acl_denied_total', help: 'Publishes or subscriptions outside a device’s topics', labelNames: ['action'], registers: [registry] }),
    consumerErrors: new Counter({
      name: 'pantau_log_consumer_errors_total',
      help: 'Batches of log entries a consumer failed on (passed over; acknowledgements are not affected)',
      labelNames: ['consumer'],
      registers: [registry],
    }),
    consumerReadBack: new Counter({
      name: 'pantau_log_consumer_read_back_bytes_total',
      help: 'Log bytes a durable consumer read back from disk: after a restart, or because it fell behind the readings held in memory',
      labelNames: ['consumer'],
      registers: [registry],
    }),
    consumerLag: new Gauge({ name: 'pantau_log_consumer_lag_bytes', help: 'Log bytes a consumer has not handled yet', labelNames: ['consumer'], registers: [registry] }),
    consumerDetached: new Gauge({ name: 'pantau_consumer_detached', help: '1 while a durable log consumer is detached for lagging (PANTAU_CONSUMER_MAX_LAG, or a full disk)', labelNames: ['consumer'], registers: [registry] }),
    spoolDiskFull: new Gauge({ name: 'pantau_spool_disk_full', help: '1 while the spool cannot append for lack of disk space', registers: [registry] }),
    statusIgnored: new Counter({ name: 'pantau_mqtt_status_ignored_total', help: 'Status publishes ignored (not online/offline, too long, or over the rate)', labelNames: ['reason'], registers: [registry] }),
    brokerKicks: new Counter({
      name: 'pantau_broker_kicks_total',
      help: 'Sessions ended at the external broker for a revoked or changed credential: done, failed (an attempt; retried) or abandoned',
      labelNames: ['event', 'outcome'],
      registers: [registry],
    }),
    notifySends: new Counter({
      name: 'pantau_notify_sends_total',
      help: 'Provider calls for notification channels (every attempt), by channel type and outcome (sent, failed)',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    }),
    notifyOutbox: new Gauge({
      name: 'pantau_notify_outbox',
      help: 'Rows of the notification outbox by status (held, queued, sending, sent, failed, expired, cancelled)',
      labelNames: ['status'],
      registers: [registry],
    }),
    alertChanges: new Counter({ name: 'pantau_alert_changes_total', help: 'Alert lifecycle changes', labelNames: ['change'], registers: [registry] }),
    // a cluster (platform/cluster-nodes.ts), as this node sees it in PostgreSQL after each of its heartbeats
    clusterNodes: new Gauge({ name: 'pantau_cluster_nodes', help: 'Nodes of the cluster by state (live: lease held; silent: lease ran out; stopped; taken-over: its broker session taken over by another)', labelNames: ['state'], registers: [registry] }),
    clusterHeartbeatAge: new Gauge({ name: 'pantau_cluster_heartbeat_age_seconds', help: 'Seconds since each node of the cluster last renewed its lease', labelNames: ['node', 'role'], registers: [registry] }),
    clusterAlertOwner: new Gauge({ name: 'pantau_cluster_alert_owner', help: '1 while this node is the cluster\'s alert owner', registers: [registry] }),
    clusterTakeovers: new Counter({ name: 'pantau_cluster_takeovers_total', help: 'Broker sessions of dead workers this node took over, by outcome (ended: drained and ended; kept: left to the next try)', labelNames: ['outcome'], registers: [registry] }),
  };
  for (const reason of REJECTION_REASONS) metrics.rejected.inc({ reason }, 0);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Metrics around the ingest stage: what came in, what was stored, refused or dropped. The label values are few and
 * known (QoS, kind, reason), so each counter child is bound once here and counted in a number (`tally`), rather than
 * looked up and hashed by prom-client on every message.
 */
export function metered(metrics: Metrics, accept: (device: IngestDevice, payload: Buffer, qos: 0 | 1 | 2, format?: 'senml') => Promise<AcceptOutcome>) {
  const messages = [0, 1, 2].map((qos) => tally(metrics.messages, metrics.messages.labels(String(qos))));
  const readings = new Map(KINDS.map((kind) => [kind, tally(metrics.readings, metrics.readings.labels(kind))]));
  const rejected = new Map(REJECTION_REASONS.map((reason) => [reason, tally(metrics.rejected, metrics.rejected.labels(reason))]));
  const count = (kind: Kind, outcome: AcceptOutcome): AcceptOutcome => {
    if (outcome.dropped > 0) metrics.dropped.inc(outcome.dropped);
    else {
      if (outcome.readings > 0) {
        const add = readings.get(kind);
        if (add) add(outcome.readings);
        else metrics.readings.labels(kind).inc(outcome.readings);
      }
      for (const r of outcome.rejections) {
        const add = rejected.get(r.reason);
        if (add) add(1);
        else metrics.rejected.labels(r.reason).inc();
      }
    }
    return outcome;
  };
  // one counting function per kind, made here: a closure per message is garbage at 20,000 messages/s
  const countFor = new Map(KINDS.map((kind) => [kind, (outcome: AcceptOutcome) => count(kind, outcome)]));
  // fixed parameters, not `...rest`: a rest array per message is garbage too
  return (device: IngestDevice, payload: Buffer, qos: 0 | 1 | 2, format?: 'senml'): Promise<AcceptOutcome> => {
    messages[qos]!(1);
    return accept(device, payload, qos, format).then(countFor.get(device.kind) ?? ((outcome) => count(device.kind, outcome)));
  };
}
