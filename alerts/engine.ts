// The alert engine: readings, indices and clock ticks in, alert changes out. It is pure — no I/O, no timers, no clock
// of its own — so the platform decides when it runs, stores and publishes what it returns, and persists
// `snapshot()` across restarts. How to drive it: alerts/README.md.
//
// Life of an alert (one per device and rule at a time):
//   opened ─▶ escalated ⇄ de-escalated ─▶ resolved        acknowledged: any time while not resolved
// - A worse severity applies at once; an escalation clears an acknowledgement, since it is news to the operator.
// - Stepping down or resolving waits until the condition has stayed below the current severity for the clear time
//   (default 5 min): every severity of the alert remembers since when it has been observed clear (`belowSince`).
// - Silence is not clearance: only an observation starts the clear time, the clock alone never does.
// - A resolved alert is handed out once and forgotten; should its condition return, a new alert opens.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { KINDS, TrafficWindow, type Kind } from '../catalog/index.js';
import {
  RULE_DEFAULTS,
  SEVERITY_RANK,
  alertMessage,
  floodFinding,
  ispuFinding,
  ladder,
  ruleConfig,
  ruleFamily,
  ruleId,
  severitySchema,
  silentFinding,
  spikeRate,
  stuckSeverity,
  trafficFinding,
  type Finding,
  type RuleConfig,
  type RuleDefaults,
  type Severity,
} from './rules.js';

export const ALERT_STATES = ['open', 'acknowledged', 'resolved'] as const;

/** An alert in docs/contract.md §5's shape, timestamps in epoch ms (the API formats them as RFC 3339). */
export const alertSchema = z.object({
  id: z.string(),
  deviceId: z.string(),
  kind: z.enum(KINDS),
  rule: z.string(),
  severity: severitySchema,
  state: z.enum(ALERT_STATES),
  value: z.number(),
  message: z.string(),
  openedAt: z.number(),
  acknowledgedAt: z.number().nullable(),
  resolvedAt: z.number().nullable(),
});
export type Alert = z.infer<typeof alertSchema>;

export type AlertChangeType = 'opened' | 'escalated' | 'de-escalated' | 'acknowledged' | 'resolved';

export interface AlertChange {
  type: AlertChangeType;
  /** When it happened (ms): the reading's time for reading-driven changes, else the `nowMs` given. */
  at: number;
  /** The whole alert after the change (a copy: the engine's state is not reachable through it). */
  alert: Alert;
  /** escalated / de-escalated: the severity before. */
  previousSeverity?: Severity;
  /** acknowledged: who did. */
  actor?: string;
}

/** What the engine needs of a registry device. `thresholds` is validated with `thresholdsSchema(kind)`. */
export interface EngineDevice {
  id: string;
  kind: Kind;
  thresholds: object | null;
}

export interface EngineReading {
  deviceId: string;
  kind: Kind;
  /** Measurement time, epoch ms. */
  ts: number;
  values: Readonly<Record<string, number>>;
}

export interface DeviceLastSeen extends EngineDevice {
  /** Last time anything was heard from the device (epoch ms), or null if never. */
  lastSeen: number | null;
}

/** Indices the caller computes from history the engine does not keep. */
export interface EngineIndices {
  /** ISPU from the trailing 24-hour means (catalog `ispu()`); null or absent when there is no data. */
  ispu?: number | null;
}

const deviceMemorySchema = z.object({
  /** Time of the newest reading judged. */
  lastTs: z.number().nullable(),
  /** Recent gaps between readings (ms), oldest first: the device's learned interval. */
  gaps: z.array(z.number()),
  /** Per field: its last value, since when it has had exactly that value, and when it was read. */
  fields: z.record(z.string(), z.object({ value: z.number(), since: z.number(), ts: z.number() })),
  congestion: z.object({ slowSince: z.number().nullable(), jammedSince: z.number().nullable() }),
  /** Traffic: the counting intervals of the last 15 minutes, graded together (catalog/traffic-los.ts). */
  traffic: z
    .array(
      z.object({
        ts: z.number(),
        vehicleCount: z.number().optional(),
        intervalSeconds: z.number().optional(),
        avgSpeed: z.number().optional(),
      }),
    )
    .default([]),
  /** Traffic: the window's folded seconds, older than `traffic` (a counter sending faster than the window keeps singly). */
  trafficSeconds: z
    .array(
      z.object({
        ts: z.number(),
        intervals: z.number(),
        vehicles: z.number(),
        countedSeconds: z.number(),
        coveredSeconds: z.number(),
        weightedVehicles: z.number(),
        weightedTime: z.number(),
        standing: z.number(),
        plainSpeedSum: z.number(),
        plainSpeeds: z.number(),
      }),
    )
    .default([]),
});
type DeviceMemory = z.infer<typeof deviceMemorySchema>;

const trackedAlertSchema = z.object({
  alert: alertSchema,
  /** Per severity up to the alert's: since when the condition has been observed below it. */
  belowSince: z.partialRecord(severitySchema, z.number()),
  /** The latest observed value, reported if the alert steps down. */
  lastValue: z.number(),
  clearAfterMs: z.number().nonnegative(),
});
type TrackedAlert = z.infer<typeof trackedAlertSchema>;

export const engineSnapshotSchema = z.object({
  version: z.literal(1),
  alerts: z.array(trackedAlertSchema),
  devices: z.record(z.string(), deviceMemorySchema),
});
export type EngineSnapshot = z.infer<typeof engineSnapshotSchema>;

export interface AlertEngineOptions {
  /** Alert ids; default `crypto.randomUUID`. */
  newId?: () => string;
  /** Engine-wide defaults (rules.ts `RULE_DEFAULTS`); a device may override some in its thresholds. */
  defaults?: Partial<RuleDefaults>;
}

const alertKey = (deviceId: string, rule: string) => `${deviceId}\u0000${rule}`;

/** What `#observe` answers when nothing changed: one shared empty list (it runs ~10 times per reading). */
const NO_CHANGES: AlertChange[] = [];
/** The silence rule's finding while a reading comes in: nothing (shared, read only). */
const NOTHING: Finding = Object.freeze({ severity: null, value: 0 });
Object.freeze(NO_CHANGES);

/** `spike:<field>` and `stuck:<field>`, made once per field name rather than per reading. */
const fieldRules = new Map<string, { spike: string; stuck: string }>();
function rulesOf(field: string): { spike: string; stuck: string } {
  let rules = fieldRules.get(field);
  if (!rules) {
    rules = { spike: ruleId('spike', field), stuck: ruleId('stuck', field) };
    if (fieldRules.size < 1_000) fieldRules.set(field, rules);
  }
  return rules;
}

const FLOOD = ruleId('flood_level');
const CONGESTION = ruleId('traffic_los');
const ISPU = ruleId('ispu');
const SILENT = ruleId('silent');

export class AlertEngine {
  readonly #newId: () => string;
  readonly #defaults: RuleDefaults;
  /** Open and acknowledged alerts by device and rule. */
  #alerts = new Map<string, TrackedAlert>();
  /** How many of `#alerts` each device has: a device with none needs no key built for a finding of nothing. */
  #alertsPerDevice = new Map<string, number>();
  #devices = new Map<string, DeviceMemory>();
  /**
   * Traffic windows by device, live. `memory.traffic` holds a window's intervals only until the window is built from
   * it (after a restore); a snapshot takes them from the window, without keeping a copy here: under overload a
   * counter's 15 minutes are tens of thousands of intervals, and a copy as objects per device, made again at every
   * snapshot, was a large part of the live heap (bench/RESULTS.md, open-overload).
   */
  #traffic = new Map<string, TrafficWindow>();

  constructor(options: AlertEngineOptions = {}) {
    this.#newId = options.newId ?? randomUUID;
    this.#defaults = { ...RULE_DEFAULTS, ...options.defaults };
  }

  /**
   * Judges one stored reading: silence ends, spikes, stuck fields, flood level, congestion. Call it for every
   * reading of the device in order. A reading no newer than one already judged (a redelivery, a straggler) is
   * ignored. Throws if the device's thresholds are invalid.
   */
  evaluate(device: EngineDevice, reading: EngineReading, nowMs: number): AlertChange[] {
    if (reading.deviceId !== device.id || reading.kind !== device.kind) {
      throw new Error(`reading of ${reading.kind}/${reading.deviceId} given for device ${device.kind}/${device.id}`);
    }
    const config = this.#config(device);
    // Devices may run a little ahead of the platform (docs/contract.md §3 allows 5 min); the engine never judges the future.
    const at = Math.min(reading.ts, nowMs);
    const memory = this.#memory(device.id);
    if (memory.lastTs !== null && at <= memory.lastTs) return [];
    if (memory.lastTs !== null) {
      memory.gaps.push(at - memory.lastTs);
      // shift, not splice: splice returns an array of what it removed, one per reading
      while (memory.gaps.length > config.silentHistory) memory.gaps.shift();
    }
    memory.lastTs = at;

    const changes: AlertChange[] = [];
    this.#push(changes, this.#observe(device, SILENT, NOTHING, at, config));
    // A value that jumped implausibly is not trusted to raise a flood or congestion alert; if it was real, the
    // next reading confirms it at a plausible rate.
    let implausible: Set<string> | undefined;
    const values = reading.values;
    for (const field in values) {
      const value = values[field]!;
      const rules = rulesOf(field);
      const previous = memory.fields[field];
      // a finding of nothing for a device without alerts changes nothing (#observe): none is made for it, as
      // every field of every reading would make two
      if (previous) {
        const rate = spikeRate(previous, value, at);
        const max = config.maxRatePerMinute[field];
        const spiking = max !== undefined && rate > max;
        if (spiking) (implausible ??= new Set()).add(field);
        if (spiking || this.#alertsPerDevice.has(device.id)) {
          this.#push(changes, this.#observe(device, rules.spike, { severity: spiking ? 'warning' : null, value: rate }, at, config));
        }
      }
      const since = previous?.value === value ? previous.since : at;
      // the field's memory is updated in place: one object per device and field, not one per reading
      if (previous) {
        previous.value = value;
        previous.since = since;
        previous.ts = at;
      } else {
        memory.fields[field] = { value, since, ts: at };
      }
      const stuck = stuckSeverity(device.kind, field, value, at - since, config);
      if (stuck !== null || this.#alertsPerDevice.has(device.id)) this.#push(changes, this.#observe(device, rules.stuck, { severity: stuck, value }, at, config));
    }

    if (device.kind === 'flood') {
      const level = reading.values.waterLevel;
      if (level !== undefined && !implausible?.has('waterLevel')) {
        const finding = floodFinding(level, config, this.#severity(device.id, FLOOD));
        this.#push(changes, this.#observe(device, FLOOD, finding, at, config));
      }
    } else if (device.kind === 'traffic') {
      // the same 15-minute grading as `latest`, the summary and the dashboards
      const { vehicleCount, intervalSeconds, avgSpeed } = reading.values;
      const plausible = !implausible?.has('avgSpeed') && !implausible?.has('vehicleCount');
      const window = this.#trafficWindow(device.id, memory);
      if (plausible && (vehicleCount !== undefined || avgSpeed !== undefined)) {
        window.put({ ts: at, vehicleCount, intervalSeconds, avgSpeed });
      }
      const los = plausible ? window.los(at, config.traffic) : null;
      if (los) {
        const current = this.#severity(device.id, CONGESTION);
        const { finding, memory: congestion } = trafficFinding(los, memory.congestion, at, config, current);
        memory.congestion = congestion;
        this.#push(changes, this.#observe(device, CONGESTION, finding, at, config));
      }
    }
    return changes;
  }

  /**
   * Judges indices computed by the caller from history the engine does not keep: the ISPU of an air device from
   * its trailing 24-hour means. Call it whenever the index is recomputed (e.g. every INDICES_INTERVAL_MS).
   */
  evaluateIndex(device: EngineDevice, indices: EngineIndices, nowMs: number): AlertChange[] {
    if (indices.ispu === undefined || indices.ispu === null) return [];
    if (device.kind !== 'air') throw new Error(`ISPU given for ${device.kind} device ${device.id}`);
    const config = this.#config(device);
    const changes = this.#observe(device, ISPU, ispuFinding(indices.ispu, config), nowMs, config);
    return changes === NO_CHANGES ? [] : changes;
  }

  /**
   * Time-driven rules: opens silent alerts, and steps down or resolves alerts whose clear time has run out
   * without a new reading. Call it periodically (e.g. every 10–30 s) with every registered device.
   */
  tick(nowMs: number, devices: Iterable<DeviceLastSeen>): AlertChange[] {
    const changes: AlertChange[] = [];
    for (const device of devices) {
      const memory = this.#devices.get(device.id);
      const lastSeen = Math.max(device.lastSeen ?? -Infinity, memory?.lastTs ?? -Infinity);
      if (lastSeen === -Infinity) continue;
      // One device's bad thresholds must not stop the sweep; `evaluate` reports them on its next reading.
      const config = this.#configOrDefaults(device);
      const finding = silentFinding(nowMs - lastSeen, memory?.gaps ?? [], config);
      changes.push(...this.#observe(device, SILENT, finding, nowMs, config));
    }
    for (const tracked of [...this.#alerts.values()]) changes.push(...this.#settle(tracked, nowMs));
    return changes;
  }

  /** Acknowledges an open alert. Nothing changes (empty list) if it is unknown, resolved or already acknowledged. */
  acknowledge(alertId: string, actor: string, nowMs: number): AlertChange[] {
    const tracked = [...this.#alerts.values()].find((t) => t.alert.id === alertId);
    if (!tracked || tracked.alert.state !== 'open') return [];
    tracked.alert.state = 'acknowledged';
    tracked.alert.acknowledgedAt = nowMs;
    return [{ type: 'acknowledged', at: nowMs, alert: { ...tracked.alert }, actor }];
  }

  /** A device was deleted: resolves its alerts and drops what the engine learned about it. */
  forget(deviceId: string, nowMs: number): AlertChange[] {
    const changes: AlertChange[] = [];
    for (const tracked of [...this.#alerts.values()]) {
      if (tracked.alert.deviceId === deviceId) changes.push(this.#resolve(tracked, nowMs));
    }
    this.#devices.delete(deviceId);
    this.#traffic.delete(deviceId);
    return changes;
  }

  /** Open and acknowledged alerts (copies). */
  activeAlerts(): Alert[] {
    return [...this.#alerts.values()].map((t) => ({ ...t.alert }));
  }

  /** An open or acknowledged alert by id (a copy). */
  alert(alertId: string): Alert | undefined {
    const tracked = [...this.#alerts.values()].find((t) => t.alert.id === alertId);
    return tracked ? { ...tracked.alert } : undefined;
  }

  /** Everything the engine knows, as plain JSON-serialisable data. */
  snapshot(): EngineSnapshot {
    const devices: Record<string, DeviceMemory> = {};
    for (const [id, memory] of this.#devices) {
      const window = this.#traffic.get(id);
      devices[id] = window ? { ...memory, traffic: window.intervals(), trafficSeconds: window.seconds() } : memory;
    }
    return structuredClone({ version: 1 as const, alerts: [...this.#alerts.values()], devices });
  }

  /** Replaces the engine's state with a snapshot (e.g. read back from disk); throws if it is not one. */
  restore(snapshot: unknown): void {
    const parsed = engineSnapshotSchema.safeParse(snapshot);
    if (!parsed.success) throw new Error(`not an alert engine snapshot: ${z.prettifyError(parsed.error)}`);
    this.#alerts = new Map(
      parsed.data.alerts
        .filter((t) => t.alert.state !== 'resolved')
        .map((t) => [alertKey(t.alert.deviceId, t.alert.rule), t]),
    );
    this.#alertsPerDevice.clear();
    for (const t of this.#alerts.values()) this.#alertsPerDevice.set(t.alert.deviceId, (this.#alertsPerDevice.get(t.alert.deviceId) ?? 0) + 1);
    this.#devices = new Map(Object.entries(parsed.data.devices));
    this.#traffic.clear();
  }

  /** A counter's 15-minute window, built from its memory (as restored) the first time. */
  #trafficWindow(deviceId: string, memory: DeviceMemory): TrafficWindow {
    let window = this.#traffic.get(deviceId);
    if (!window) {
      window = new TrafficWindow(memory.traffic, memory.trafficSeconds);
      memory.traffic = [];
      memory.trafficSeconds = [];
      this.#traffic.set(deviceId, window);
    }
    return window;
  }

  // Parsed rule configs, by thresholds object: evaluate runs for every reading, and the registry replaces a
  // device's thresholds object when they change, so identity is a safe cache key.
  #configs = new WeakMap<object, RuleConfig>();
  #defaultConfigs = new Map<Kind, RuleConfig>();

  #config(device: EngineDevice): RuleConfig {
    const cached = device.thresholds ? this.#configs.get(device.thresholds) : this.#defaultConfigs.get(device.kind);
    if (cached) return cached;
    try {
      const config = ruleConfig(device.kind, device.thresholds, this.#defaults);
      if (device.thresholds) this.#configs.set(device.thresholds, config);
      else this.#defaultConfigs.set(device.kind, config);
      return config;
    } catch (error) {
      throw new Error(`device ${device.id}: ${(error as Error).message}`, { cause: error });
    }
  }

  #configOrDefaults(device: EngineDevice): RuleConfig {
    try {
      return ruleConfig(device.kind, device.thresholds, this.#defaults);
    } catch {
      return ruleConfig(device.kind, null, this.#defaults);
    }
  }

  #memory(deviceId: string): DeviceMemory {
    let memory = this.#devices.get(deviceId);
    if (!memory) {
      memory = { lastTs: null, gaps: [], fields: {}, congestion: { slowSince: null, jammedSince: null }, traffic: [], trafficSeconds: [] };
      this.#devices.set(deviceId, memory);
    }
    return memory;
  }

  #severity(deviceId: string, rule: string): Severity | null {
    if (!this.#alertsPerDevice.has(deviceId)) return null;
    return this.#alerts.get(alertKey(deviceId, rule))?.alert.severity ?? null;
  }

  #push(changes: AlertChange[], more: AlertChange[]): void {
    for (let i = 0; i < more.length; i++) changes.push(more[i]!);
  }

  /** Feeds one finding of `rule` into the device's alert for it: open, escalate, or start/continue clearing. */
  #observe(device: EngineDevice, rule: string, finding: Finding, at: number, config: RuleConfig): AlertChange[] {
    // nearly every finding of nearly every reading: nothing found, and no alert of the device to settle
    if (finding.severity === null && !this.#alertsPerDevice.has(device.id)) return NO_CHANGES;
    const key = alertKey(device.id, rule);
    const tracked = this.#alerts.get(key);
    if (!tracked) {
      if (finding.severity === null) return NO_CHANGES;
      const alert: Alert = {
        id: this.#newId(),
        deviceId: device.id,
        kind: device.kind,
        rule,
        severity: finding.severity,
        state: 'open',
        value: finding.value,
        message: alertMessage(device.kind, rule, finding.severity, finding.value),
        openedAt: at,
        acknowledgedAt: null,
        resolvedAt: null,
      };
      this.#alerts.set(key, { alert, belowSince: {}, lastValue: finding.value, clearAfterMs: config.clearAfterMs });
      this.#alertsPerDevice.set(device.id, (this.#alertsPerDevice.get(device.id) ?? 0) + 1);
      return [{ type: 'opened', at, alert: { ...alert } }];
    }

    const { alert } = tracked;
    const rank = finding.severity === null ? 0 : SEVERITY_RANK[finding.severity];
    tracked.lastValue = finding.value;
    tracked.clearAfterMs = config.clearAfterMs;
    for (const severity of ladder(ruleFamily(rule))) {
      if (SEVERITY_RANK[severity] > SEVERITY_RANK[alert.severity]) break;
      if (rank >= SEVERITY_RANK[severity]) delete tracked.belowSince[severity];
      else tracked.belowSince[severity] ??= at;
    }

    if (finding.severity !== null && rank > SEVERITY_RANK[alert.severity]) {
      const previousSeverity = alert.severity;
      alert.severity = finding.severity;
      alert.value = finding.value;
      alert.message = alertMessage(alert.kind, rule, finding.severity, finding.value);
      alert.state = 'open';
      alert.acknowledgedAt = null;
      tracked.belowSince = {};
      return [{ type: 'escalated', at, alert: { ...alert }, previousSeverity }];
    }
    return this.#settle(tracked, at);
  }

  /** Steps the alert down to the highest severity not yet clear for the clear time, or resolves it. */
  #settle(tracked: TrackedAlert, at: number): AlertChange[] {
    const { alert } = tracked;
    const steps = ladder(ruleFamily(alert.rule)).filter((s) => SEVERITY_RANK[s] <= SEVERITY_RANK[alert.severity]);
    const holds = (severity: Severity) => {
      const since = tracked.belowSince[severity];
      return since === undefined || at - since < tracked.clearAfterMs;
    };
    const holding = steps.reverse().find(holds);
    if (holding === alert.severity) return [];
    if (holding === undefined) return [this.#resolve(tracked, at)];

    const previousSeverity = alert.severity;
    alert.severity = holding;
    alert.value = tracked.lastValue;
    alert.message = alertMessage(alert.kind, alert.rule, holding, tracked.lastValue);
    for (const severity of Object.keys(tracked.belowSince) as Severity[]) {
      if (SEVERITY_RANK[severity] > SEVERITY_RANK[holding]) delete tracked.belowSince[severity];
    }
    return [{ type: 'de-escalated', at, alert: { ...alert }, previousSeverity }];
  }

  #resolve(tracked: TrackedAlert, at: number): AlertChange {
    tracked.alert.state = 'resolved';
    tracked.alert.resolvedAt = at;
    const { deviceId } = tracked.alert;
    if (this.#alerts.delete(alertKey(deviceId, tracked.alert.rule))) {
      const left = (this.#alertsPerDevice.get(deviceId) ?? 1) - 1;
      if (left > 0) this.#alertsPerDevice.set(deviceId, left);
      else this.#alertsPerDevice.delete(deviceId);
    }
    return { type: 'resolved', at, alert: { ...tracked.alert } };
  }
}
