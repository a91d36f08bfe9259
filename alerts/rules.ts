// The alert rules: what each one watches, its severities, its defaults and its words. Each rule is a pure
// function from what was observed to a finding — the severity its condition is at (null when clear) and the value
// an alert reports; the engine (engine.ts) turns findings into alerts that open, escalate, step down and resolve.
import { z } from 'zod';
import {
  FLOOD_ALERT_LEVELS,
  FLOOD_LEVEL_LABELS,
  FLOOD_LEVEL_ORDER,
  ISPU_CATEGORIES,
  LOS_GRADES,
  LOS_ORDER,
  fieldSpec,
  floodLevel,
  ispuCategory,
  thresholdGaps,
  thresholdsSchema,
  withTrafficDefaults,
  type AirThresholds,
  type FloodAlertLevel,
  type FloodDeviceThresholds,
  type FloodThresholds,
  type Kind,
  type TrafficDeviceThresholds,
  type TrafficLosResult,
  type TrafficThresholds,
} from '../catalog/index.js';

// Flood alerts speak the BPBDs' words; the other rules have two grades.
export const SEVERITIES = ['waspada', 'siaga', 'awas', 'warning', 'critical'] as const;
export const severitySchema = z.enum(SEVERITIES);
export type Severity = z.infer<typeof severitySchema>;

/** Comparable rank (also `device_state.severity`, catalog/derived.ts): 1 waspada/warning, 2 siaga, 3 awas/critical. */
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = {
  waspada: 1,
  warning: 1,
  siaga: 2,
  awas: 3,
  critical: 3,
};

export const RULE_FAMILIES = ['flood_level', 'ispu', 'traffic_los', 'silent', 'stuck', 'spike'] as const;
export type RuleFamily = (typeof RULE_FAMILIES)[number];

/**
 * An alert's `rule`. Per-field rules carry their field (`stuck:pm25`, `spike:waterLevel`) so that one device
 * has at most one open alert per rule and field.
 */
export function ruleId(family: RuleFamily, field?: string): string {
  return field === undefined ? family : `${family}:${field}`;
}

export function ruleFamily(rule: string): RuleFamily {
  const family = rule.split(':', 1)[0];
  if (!(RULE_FAMILIES as readonly string[]).includes(family ?? '')) throw new Error(`unknown alert rule "${rule}"`);
  return family as RuleFamily;
}

/** The severities a rule can reach, lowest first. */
export function ladder(family: RuleFamily): readonly Severity[] {
  switch (family) {
    case 'flood_level':
      return FLOOD_ALERT_LEVELS;
    case 'ispu':
    case 'traffic_los':
      return ['warning', 'critical'];
    default:
      return ['warning'];
  }
}

export const RULE_DEFAULTS = {
  /** An alert resolves (or steps down) only after its condition has been clear this long. */
  clearAfterSeconds: 300,
  /** A field keeping exactly one value this long is stuck. */
  stuckAfterSeconds: 6 * 3600,
  /** Silent after `silentFactor` × the median gap between its recent readings, but never sooner than this. */
  silentMinSeconds: 60,
  silentFactor: 3,
  /** Gaps remembered to learn a device's interval, and how many are needed before it is trusted. */
  silentHistory: 20,
  silentMinGaps: 3,
  /** Water must fall this far below a threshold before a flood alert steps down past it. */
  floodHysteresisCm: 10,
  /** LOS E or F must last this long to alert. */
  losAlertAfterSeconds: 600,
  ispuAlertFrom: 101,
  ispuCriticalFrom: 201,
} as const;
export type RuleDefaults = { readonly [K in keyof typeof RULE_DEFAULTS]: number };

/**
 * Largest plausible change per minute of a field, per kind; a device may override or add fields with
 * `maxRatePerMinute`. A river does not rise a metre in a minute and ambient PM2.5 does not climb 500 µg/m³ in one:
 * such jumps are a sensor or transmission fault, not an event.
 */
export const DEFAULT_MAX_RATE_PER_MINUTE: Readonly<Record<Kind, Readonly<Partial<Record<string, number>>>>> = {
  air: { pm25: 500, pm10: 1000 },
  flood: { waterLevel: 100 },
  traffic: {},
};

/** Rate changes are measured over at least this long, so jitter between readings a second apart is no spike. */
export const SPIKE_MIN_SPAN_MS = 60_000;

/**
 * Fields judged by the stuck rule. Battery, signal and the counting interval may rightly stay put for days, and
 * humidity rests at 100 % through a tropical night. A value of 0 is never stuck (see `stuckFinding`).
 */
export const STUCK_FIELDS: Readonly<Record<Kind, readonly string[]>> = {
  air: ['pm25', 'pm10', 'co', 'no2', 'so2', 'o3', 'hc', 'temperature'],
  flood: ['waterLevel', 'rainfall', 'flowRate'],
  traffic: ['vehicleCount', 'avgSpeed', 'occupancy'],
};

/** Everything the rules need to judge one device: its thresholds with the defaults filled in. */
export interface RuleConfig {
  clearAfterMs: number;
  stuckAfterMs: number;
  /** A fixed silence limit set on the device, or null to learn it. */
  silentAfterMs: number | null;
  silentMinMs: number;
  silentFactor: number;
  silentHistory: number;
  silentMinGaps: number;
  maxRatePerMinute: Readonly<Partial<Record<string, number>>>;
  flood: FloodThresholds;
  hysteresisCm: number;
  traffic: Required<TrafficThresholds>;
  losAlertAfterMs: number;
  ispuAlertFrom: number;
  ispuCriticalFrom: number;
}

type AnyThresholds = Partial<AirThresholds & FloodDeviceThresholds & TrafficDeviceThresholds>;

/** Parses a device's stored thresholds with its kind's schema and fills in the defaults. */
export function ruleConfig(kind: Kind, thresholds: unknown, defaults: RuleDefaults = RULE_DEFAULTS): RuleConfig {
  const parsed = thresholdsSchema(kind).safeParse(thresholds ?? {});
  if (!parsed.success) {
    throw new Error(`invalid ${kind} thresholds ${JSON.stringify(thresholds)}: ${z.prettifyError(parsed.error)}`);
  }
  // One view over the three kinds' objects: every key is optional and each kind has its own subset.
  const t: AnyThresholds = parsed.data;
  const flood: FloodThresholds = {};
  for (const level of FLOOD_ALERT_LEVELS) if (t[level] !== undefined) flood[level] = t[level];
  return {
    clearAfterMs: (t.clearAfterSeconds ?? defaults.clearAfterSeconds) * 1000,
    stuckAfterMs: (t.stuckAfterSeconds ?? defaults.stuckAfterSeconds) * 1000,
    silentAfterMs: t.silentAfterSeconds === undefined ? null : t.silentAfterSeconds * 1000,
    silentMinMs: defaults.silentMinSeconds * 1000,
    silentFactor: defaults.silentFactor,
    silentHistory: defaults.silentHistory,
    silentMinGaps: defaults.silentMinGaps,
    maxRatePerMinute: { ...DEFAULT_MAX_RATE_PER_MINUTE[kind], ...t.maxRatePerMinute },
    flood,
    hysteresisCm: effectiveHysteresisCm(flood, t.hysteresisCm, defaults.floodHysteresisCm),
    traffic: withTrafficDefaults({ freeFlowSpeed: t.freeFlowSpeed, capacity: t.capacity }),
    losAlertAfterMs: (t.losAlertAfterSeconds ?? defaults.losAlertAfterSeconds) * 1000,
    ispuAlertFrom: t.ispuAlertFrom ?? defaults.ispuAlertFrom,
    ispuCriticalFrom: t.ispuCriticalFrom ?? defaults.ispuCriticalFrom,
  };
}

/** What a rule saw: the severity its condition is at (null: clear) and the number an alert would report. */
export interface Finding {
  severity: Severity | null;
  /** Unit depends on the rule; see alerts/README.md. */
  value: number;
}

function isFloodLevel(severity: Severity | null): severity is FloodAlertLevel {
  return severity !== null && (FLOOD_ALERT_LEVELS as readonly string[]).includes(severity);
}

/**
 * Flood level of a gauge, with hysteresis: rising, a level is reached at its threshold; falling, the level of the
 * open alert (`current`) holds until the water is `hysteresisCm` below that level's threshold, so a river
 * hovering at a threshold does not flap between two levels.
 */
export function floodFinding(waterLevelCm: number, config: RuleConfig, current: Severity | null): Finding {
  let level = floodLevel(waterLevelCm, config.flood);
  if (level === null) return { severity: null, value: waterLevelCm };
  if (isFloodLevel(current) && FLOOD_LEVEL_ORDER[current] > FLOOD_LEVEL_ORDER[level]) {
    // FLOOD_ALERT_LEVELS[i] has order i + 1: walk down from the alert's level to just above the raw level.
    for (let i = FLOOD_LEVEL_ORDER[current] - 1; i >= FLOOD_LEVEL_ORDER[level]; i--) {
      const held = FLOOD_ALERT_LEVELS[i]!;
      const from = config.flood[held];
      if (from !== undefined && waterLevelCm > from - config.hysteresisCm) {
        level = held;
        break;
      }
    }
  }
  return { severity: level === 'normal' ? null : level, value: waterLevelCm };
}

/**
 * The hysteresis of a gauge: its own `hysteresisCm` (validated smaller than every gap between its thresholds), else
 * the default, reduced to half the smallest gap where thresholds are closer than twice the default — so a level is
 * never held below the threshold under it.
 */
export function effectiveHysteresisCm(flood: FloodThresholds, own: number | undefined, defaultCm: number): number {
  if (own !== undefined) return own;
  const smallest = Math.min(...thresholdGaps(flood).map((g) => g.gap));
  return Math.min(defaultCm, smallest / 2);
}

/** ISPU (the caller's trailing 24-hour index): warning from Tidak Sehat, critical from Sangat Tidak Sehat. */
export function ispuFinding(ispu: number, config: RuleConfig): Finding {
  const value = Math.round(ispu);
  if (value < config.ispuAlertFrom) return { severity: null, value };
  return { severity: value >= config.ispuCriticalFrom ? 'critical' : 'warning', value };
}

/** When the current run of LOS E-or-worse, and of F, began (reading time, ms). */
export interface CongestionMemory {
  slowSince: number | null;
  jammedSince: number | null;
}

function higher(a: Severity | null, b: Severity | null): Severity | null {
  if (a === null) return b;
  if (b === null) return a;
  return SEVERITY_RANK[b] > SEVERITY_RANK[a] ? b : a;
}

function lower(a: Severity | null, b: Severity | null): Severity | null {
  if (a === null || b === null) return null;
  return SEVERITY_RANK[b] < SEVERITY_RANK[a] ? b : a;
}

/**
 * Congestion: LOS E (warning) or F (critical) that has lasted `losAlertAfterMs`. A grade must last the full time
 * to open or raise an alert — one slow minute at a junction is not congestion — but an alert already raised holds
 * as long as its grade lasts.
 */
export function trafficFinding(
  result: TrafficLosResult,
  memory: CongestionMemory,
  at: number,
  config: RuleConfig,
  current: Severity | null,
): { finding: Finding; memory: CongestionMemory } {
  const slow = result.los === 'E' || result.los === 'F';
  const jammed = result.los === 'F';
  const next: CongestionMemory = {
    slowSince: slow ? (memory.slowSince ?? at) : null,
    jammedSince: jammed ? (memory.jammedSince ?? at) : null,
  };
  const lasted = (since: number | null) => since !== null && at - since >= config.losAlertAfterMs;
  const sustained: Severity | null = lasted(next.jammedSince) ? 'critical' : lasted(next.slowSince) ? 'warning' : null;
  const now: Severity | null = jammed ? 'critical' : slow ? 'warning' : null;
  const severity = higher(sustained, lower(now, current));
  return { finding: { severity, value: LOS_ORDER[result.los] }, memory: next };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * How long a device may stay quiet: its own `silentAfterSeconds`, else `silentFactor` × the median of its recent
 * gaps (the median, so one outage or one gateway backlog does not teach it a wrong interval), at least
 * `silentMinMs`. Null while too few gaps are known to tell.
 */
export function expectedSilenceMs(gaps: readonly number[], config: RuleConfig): number | null {
  if (config.silentAfterMs !== null) return config.silentAfterMs;
  if (gaps.length < config.silentMinGaps) return null;
  return Math.max(config.silentMinMs, config.silentFactor * median(gaps));
}

/** Silent: no reading for longer than expected (never, while the interval is unknown). Value: silence in seconds. */
export function silentFinding(silentForMs: number, gaps: readonly number[], config: RuleConfig): Finding {
  const limit = expectedSilenceMs(gaps, config);
  const severity = limit !== null && silentForMs > limit ? 'warning' : null;
  return { severity, value: Math.round(silentForMs / 1000) };
}

/**
 * Stuck: a field has reported exactly the same value for `stuckAfterMs`. Zero is exempt: no rain, no traffic,
 * a gas below the detection limit or a dry channel all rightly read 0 for hours. The value is the stuck value.
 */
export function stuckFinding(
  kind: Kind,
  field: string,
  value: number,
  unchangedForMs: number,
  config: RuleConfig,
): Finding {
  return { severity: stuckSeverity(kind, field, value, unchangedForMs, config), value };
}

/** `stuckFinding`'s severity alone (no object: the engine asks it for every field of every reading). */
export function stuckSeverity(kind: Kind, field: string, value: number, unchangedForMs: number, config: RuleConfig): Severity | null {
  const judged = value !== 0 && STUCK_FIELDS[kind].includes(field);
  return judged && unchangedForMs >= config.stuckAfterMs ? 'warning' : null;
}

/**
 * Spike: a field changed faster than physically plausible since its previous reading (fields without a limit are
 * never spikes). The value is the rate, in the field's unit per minute.
 */
export function spikeFinding(
  previous: { value: number; ts: number },
  value: number,
  at: number,
  maxPerMinute: number | undefined,
): Finding {
  const perMinute = spikeRate(previous, value, at);
  const severity = maxPerMinute !== undefined && perMinute > maxPerMinute ? 'warning' : null;
  return { severity, value: perMinute };
}

/** `spikeFinding`'s value alone: the change since the previous reading, per minute (rounded to 0.1). */
export function spikeRate(previous: { value: number; ts: number }, value: number, at: number): number {
  const span = Math.max(at - previous.ts, SPIKE_MIN_SPAN_MS);
  return round1((Math.abs(value - previous.value) * 60_000) / span);
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function duration(seconds: number): { id: string; en: string } {
  if (seconds < 120) return { id: `${seconds} detik`, en: `${seconds} s` };
  if (seconds < 2 * 3600) return { id: `${Math.round(seconds / 60)} menit`, en: `${Math.round(seconds / 60)} min` };
  const hours = round1(seconds / 3600);
  return { id: `${hours} jam`, en: `${hours} h` };
}

function fieldWords(kind: Kind, field: string | undefined): { id: string; en: string; unit: string } {
  const spec = field === undefined ? undefined : fieldSpec(kind, field);
  return { id: spec?.label.id ?? field ?? '', en: spec?.label.en ?? field ?? '', unit: spec?.unit ?? '' };
}

/** The alert's message in Indonesian, then English: "Siaga: tinggi muka air 790 cm / water level 790 cm". */
export function alertMessage(kind: Kind, rule: string, severity: Severity, value: number): string {
  const family = ruleFamily(rule);
  const field = fieldWords(kind, rule.includes(':') ? rule.slice(rule.indexOf(':') + 1) : undefined);
  const v = round1(value);
  switch (family) {
    case 'flood_level': {
      const label = isFloodLevel(severity) ? FLOOD_LEVEL_LABELS[severity].id : severity;
      return `${label}: tinggi muka air ${v} cm / water level ${v} cm`;
    }
    case 'ispu': {
      const category = ispuCategory(value);
      const en = ISPU_CATEGORIES.find((c) => c.category === category)?.label.en ?? category;
      return `Kualitas udara ${category} (ISPU ${v}) / air quality ${en.toLowerCase()} (ISPU ${v})`;
    }
    case 'traffic_los': {
      const los = LOS_GRADES[value - 1] ?? '?';
      return severity === 'critical'
        ? `Macet: tingkat pelayanan jalan ${los} / traffic jam: level of service ${los}`
        : `Lalu lintas padat: tingkat pelayanan jalan ${los} / heavy traffic: level of service ${los}`;
    }
    case 'silent': {
      const d = duration(value);
      return `Sensor tidak mengirim data selama ${d.id} / no readings for ${d.en}`;
    }
    case 'stuck':
      return (
        `Sensor macet: ${field.id} tetap ${v} ${field.unit} / ` +
        `sensor stuck: ${field.en.toLowerCase()} unchanged at ${v} ${field.unit}`
      );
    case 'spike':
      return (
        `Lonjakan tidak wajar: ${field.id} berubah ${v} ${field.unit}/menit / ` +
        `implausible jump: ${field.en.toLowerCase()} changed ${v} ${field.unit}/min`
      );
  }
}
