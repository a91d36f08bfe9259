// The alerts and notifications side of a node: the webhook, the notification store, acknowledgement links, the
// river trend, the delivery outbox, and the alert engine — the AlertService on a single node, or in a cluster
// (PANTAU_REGISTRY_URL) the elected alert owner with every node's view of alerts (platform/cluster.ts). What is
// wired later (the broker or worker that publishes alerts, the device-state line of the derived points, this
// node's URL) is asked for through the functions in `AlertingDeps`, not held.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { WebhookSender } from '../alerts/webhook.js';
import { AlertService, formatAlert } from '../alerts/service.js';
import { AlertStore, type AlertReader } from '../alerts/store.js';
import type { ClusterAlerts } from '../alerts/cluster-alerts.js';
import { AlertTrends } from '../api/alert-trend.js';
import type { LatestReadings } from '../api/latest-cache.js';
import type { StreamHub } from '../api/stream.js';
import type { InfluxClient } from '../influx/client.js';
import type { Ingest } from '../ingest/ingest.js';
import { AckLinks } from '../notify/ack.js';
import { ChannelStore } from '../notify/channels.js';
import { Outbox } from '../notify/outbox.js';
import { RuleStore } from '../notify/rules.js';
import { NotifyStore } from '../notify/store.js';
import type { DeviceRecord, Registry } from '../registry/registry.js';
import { startClusterAlerts, type ClusterAlertWiring, type ClusterView } from './cluster.js';
import type { Config } from './config.js';
import type { Metrics } from './metrics.js';

export type PublishAlert = (topic: string, payload: string, options: { qos: 0 | 1; retain: boolean }) => void;

export interface AlertingDeps {
  config: Config;
  log: Logger;
  registry: Registry;
  metrics: Metrics;
  ingest: Ingest;
  influx: InfluxClient;
  latest: LatestReadings;
  hub: StreamHub;
  /** The cluster's readings view (a cluster with a broker): the alert owner publishes through it. */
  view: ClusterView | undefined;
  /** The embedded broker's or the ingest worker's publish, once there is one. */
  publish: () => PublishAlert | undefined;
  /** The derived points' device-state line, once they are started: written again when a device's alerts change. */
  stateLine: () => ((d: DeviceRecord) => string) | undefined;
  /** This node's URL once the API listens (the console's address in messages when PANTAU_PUBLIC_URL is not set). */
  consoleUrl: () => string;
}

export interface Alerting {
  webhook: WebhookSender | undefined;
  notifyStore: NotifyStore;
  notifyChannels: ChannelStore;
  notifyRules: RuleStore;
  ackLinks: AckLinks;
  alertTrends: AlertTrends;
  outbox: Outbox;
  /** Counts a notification sent or failed, by channel type. */
  countSend: (type: string, ok: boolean) => void;
  /** Cluster only: the elected alert owner, its feed of readings, every node's view of alerts. */
  cluster: ClusterAlertWiring | undefined;
  alertStore: AlertReader;
  alerts: AlertService | ClusterAlerts;
}

export async function startAlerting(deps: AlertingDeps): Promise<Alerting> {
  const { config, log, registry, metrics, ingest, influx, latest, hub, view } = deps;
  const webhook = config.webhookUrl && config.webhookSecret
    ? new WebhookSender({ url: config.webhookUrl, secret: config.webhookSecret, log: log.child({ component: 'webhook' }) })
    : undefined;
  // notifications: channels, rules and the delivery outbox in the registry's database (docs/notifications.md)
  const notifyStore = registry.postgres ? await NotifyStore.postgres(registry.postgres) : NotifyStore.sqlite(registry.db);
  const countSend = (type: string, ok: boolean) => metrics.notifySends.inc({ type, outcome: ok ? 'sent' : 'failed' });
  const ackLinks = new AckLinks(notifyStore, config.ackLinkTtlMs, registry);
  await ackLinks.load();
  // sent by the single node, or in a cluster by the alert owner (`owner` set below)
  let owner: { isOwner: boolean } | undefined;
  // the river trend on the API's alerts and in flood messages (a few seconds' cache per gauge)
  const alertTrends = new AlertTrends({ influx, registry, latest });
  const outbox = new Outbox({
    store: notifyStore, registry, providerUrls: config.providerUrls, consoleUrl: () => config.publicUrl ?? deps.consoleUrl(), ackLinks,
    log: log.child({ component: 'notify' }), nodeId: `${config.workerId || hostname()}:${process.pid}:${Date.now().toString(36)}`,
    active: () => !owner || owner.isOwner, counted: countSend, maxPerWindow: Math.max(1, config.notifyMaxPer10m),
    trend: (deviceId, newest) => alertTrends.upTo(deviceId, newest),
  });
  const writeStateOf = (deviceId: string) => {
    const d = registry.device(deviceId);
    const stateLine = deps.stateLine();
    if (d && stateLine) void ingest.writeLines([stateLine(d)]).catch(() => undefined);
  };
  const cluster = registry.postgres
    ? await startClusterAlerts({
        registry,
        config,
        log,
        outputs: {
          writeLines: (lines) => ingest.writeLines(lines),
          uniqueTs: (stream, at) => ingest.uniqueTs(stream, at),
          publish: async (topic, payload) => (view ? view.publish(topic, payload) : deps.publish()?.(topic, payload, { qos: 1, retain: true })),
          retained: view ? (topics) => view.retained(topics) : undefined,
          webhook,
          onChange: (change) => {
            metrics.alertChanges.inc({ change: change.type });
            writeStateOf(change.alert.deviceId);
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
    publish: (topic, payload, options) => deps.publish()?.(topic, payload, options),
    stream: (seq, change) => hub.alert(seq, change.alert.kind, change.alert.deviceId, { type: change.type, alert: formatAlert(change.alert) }),
    webhook,
    onChange: (change, seq) => {
      metrics.alertChanges.inc({ change: change.type });
      writeStateOf(change.alert.deviceId);
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
  return { webhook, notifyStore, notifyChannels, notifyRules, ackLinks, alertTrends, outbox, countSend, cluster, alertStore, alerts };
}
