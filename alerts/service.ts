// The alert engine at work: fed with durable readings, ISPU values and clock ticks; every change it returns is
// stored (SQLite, survives restarts), written to InfluxDB `alerts` (Grafana annotations), published retained on
// MQTT `alerts/{kind}/{deviceId}` for city systems, POSTed to the webhook, and pushed to the live stream.
// The outputs are injected: this file knows nothing of the broker, the spool or HTTP.
import type { Logger } from 'pino';
import { alertTopic } from '../catalog/index.js';
import { line, seriesKey } from '../influx/line-protocol.js';
import type { DeviceRecord, Registry } from '../registry/registry.js';
import { AlertEngine, type Alert, type AlertChange } from './engine.js';
import { SEVERITY_RANK } from './rules.js';
import type { AlertStore } from './store.js';
import type { WebhookSender } from './webhook.js';

export interface AlertOutputs {
  /** Durable path to InfluxDB (the spool). */
  writeLines(lines: string[]): Promise<void>;
  /** Unique timestamp per stream, so two changes in one millisecond stay two points. */
  uniqueTs(stream: string, at: number): number;
  publish?(topic: string, payload: string, options: { qos: 0 | 1; retain: boolean }): void;
  stream?(seq: number, change: AlertChange): void;
  webhook?: Pick<WebhookSender, 'send'>;
  /** `seq`: the change's sequence number in the store. */
  onChange?(change: AlertChange, seq: number): void;
}

export interface AlertReading {
  deviceId: string;
  kind: DeviceRecord['kind'];
  ts: number;
  values: Record<string, number>;
}

const SNAPSHOT_KEY = 'alert-engine';

export class AlertService {
  readonly engine: AlertEngine;
  private saveTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly registry: Pick<Registry, 'device' | 'listDevices' | 'audit' | 'getState' | 'setState'>,
    private readonly store: Pick<AlertStore, 'recordAll'>,
    private readonly outputs: AlertOutputs,
    private readonly log: Logger,
  ) {
    this.engine = new AlertEngine();
    const snapshot = registry.getState<unknown>(SNAPSHOT_KEY);
    if (snapshot) {
      try {
        this.engine.restore(snapshot);
      } catch (err) {
        log.error({ err: (err as Error).message }, 'alert engine state unreadable; starting fresh (stored alerts stay listed)');
      }
    }
  }

  onReadings(readings: AlertReading[]): void {
    const now = Date.now();
    // the changes of all the readings stored together (one transaction, one state snapshot), in order
    const changes: AlertChange[] = [];
    for (const reading of readings) {
      const device = this.registry.device(reading.deviceId);
      if (!device) continue;
      try {
        changes.push(...this.engine.evaluate(device, reading, now));
      } catch (err) {
        this.log.warn({ deviceId: device.id, err: (err as Error).message }, 'alert rules skipped for this reading');
      }
    }
    this.handle(changes);
  }

  onIspu(device: DeviceRecord, ispu: number | null): void {
    try {
      this.handle(this.engine.evaluateIndex(device, { ispu }, Date.now()));
    } catch (err) {
      this.log.warn({ deviceId: device.id, err: (err as Error).message }, 'ISPU alert rule skipped');
    }
  }

  tick(now = Date.now()): void {
    const devices = this.registry.listDevices().map((d) => ({ id: d.id, kind: d.kind, thresholds: d.thresholds, lastSeen: d.lastSeen }));
    this.handle(this.engine.tick(now, devices));
  }

  /** Operator acknowledgement; null when the alert is not open (unknown, resolved or already acknowledged). */
  acknowledge(id: string, actor: string): Alert | null {
    const changes = this.engine.acknowledge(id, actor, Date.now());
    if (changes.length === 0) return null;
    const acked = changes[changes.length - 1]!.alert;
    // the device names whose alert it was: a scoped admin's audit shows only its own devices' entries
    this.registry.audit(actor, 'alert.acknowledged', `${id} (device ${acked.deviceId})`);
    this.handle(changes);
    return acked;
  }

  forget(deviceId: string): void {
    this.handle(this.engine.forget(deviceId, Date.now()));
  }

  /** Worst active severity of a device on the 0–3 scale of `device_state.severity`. */
  severity(deviceId: string): number {
    let worst = 0;
    for (const a of this.engine.activeAlerts()) if (a.deviceId === deviceId) worst = Math.max(worst, SEVERITY_RANK[a.severity]);
    return worst;
  }

  activeAlerts(): Alert[] {
    return this.engine.activeAlerts();
  }

  saveNow(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.registry.setState(SNAPSHOT_KEY, this.engine.snapshot());
  }

  private handle(changes: AlertChange[]): void {
    if (changes.length === 0) return;
    const lines: string[] = [];
    // the changes and the engine's state that has them, stored at once (alerts/store.ts recordAll)
    const seqs = this.store.recordAll(changes, { key: SNAPSHOT_KEY, value: () => this.engine.snapshot() });
    for (const [i, change] of changes.entries()) {
      const a = change.alert;
      const seq = seqs[i]!;
      const out = changeOutputs(change, (at) => this.outputs.uniqueTs(`${a.deviceId}\u0000alerts`, at));
      lines.push(out.line);
      this.outputs.publish?.(out.topic, out.payload, { qos: 1, retain: true });
      this.outputs.stream?.(seq, change);
      this.outputs.webhook?.send(out.webhook);
      this.outputs.onChange?.(change, seq);
      this.log.info({ alertId: a.id, deviceId: a.deviceId, rule: a.rule, severity: a.severity, change: change.type }, a.message);
    }
    void this.outputs.writeLines(lines).catch((err) => this.log.error({ err: (err as Error).message }, 'alert points not spooled'));
    // what the engine learned from readings since (intervals, last values) follows within a second
    if (!this.saveTimer) {
      this.saveTimer = setTimeout(() => {
        this.saveTimer = undefined;
        this.registry.setState(SNAPSHOT_KEY, this.engine.snapshot());
      }, 1000);
      this.saveTimer.unref();
    }
  }
}

/** What one alert change becomes: its InfluxDB point, its retained MQTT message and its webhook body. */
export function changeOutputs(change: AlertChange, uniqueTs: (at: number) => number) {
  const a = change.alert;
  return {
    line: line(
      seriesKey('alerts', { device_id: a.deviceId, kind: a.kind, rule: a.rule, severity: a.severity }),
      { state: a.state, value: a.value, message: a.message },
      uniqueTs(change.at),
    ),
    ...changeMessages(change),
  };
}

/** The messages of one alert change: its retained MQTT message and its webhook body. */
export function changeMessages(change: AlertChange) {
  const a = change.alert;
  return {
    topic: alertTopic(a.kind, a.deviceId),
    payload: JSON.stringify({ type: change.type, alert: formatAlert(a) }),
    webhook: { type: change.type, at: new Date(change.at).toISOString(), alert: formatAlert(a) },
  };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * docs/contract.md §5 Alert with RFC 3339 timestamps, its fields always in this order: an alert read back from
 * PostgreSQL (jsonb orders keys its own way) and redelivered by a new alert owner is then byte for byte the body the
 * old owner sent, so a receiver may drop a redelivery by comparing bodies.
 */
export function formatAlert(a: Alert) {
  return {
    id: a.id,
    deviceId: a.deviceId,
    kind: a.kind,
    rule: a.rule,
    severity: a.severity,
    state: a.state,
    value: a.value,
    message: a.message,
    openedAt: iso(a.openedAt)!,
    acknowledgedAt: iso(a.acknowledgedAt),
    resolvedAt: iso(a.resolvedAt),
  };
}
