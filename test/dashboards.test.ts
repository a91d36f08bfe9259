// The Grafana dashboards, tested for what Grafana would do with them: Grafana itself cannot run here, so its
// InfluxQL template-variable and macro substitution is reproduced below and every query runs against the real
// InfluxDB of the test run, seeded with a small Kaltim fleet written as docs/contract.md §4 and catalog/derived.ts describe.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  NO_FLOOD_LEVEL,
  CATALOG,
  FLOOD_ALERT_LEVELS,
  FLOOD_LEVEL_ORDER,
  ISPU_CATEGORIES,
  ISPU_POLLUTANTS,
  LOS_ORDER,
  floodLevel,
  ispu,
  ispuCategory,
  subIndex,
  trafficLos,
  type FloodThresholds,
  type Kind,
} from '../catalog/index.js';
import { DATASOURCE_UID } from '../dashboards/influxql.js';
import { GENERATED_DIR, renderDashboards } from '../dashboards/index.js';
import {
  ALERT_STATES,
  DEVICE_STATE_FIELDS,
  INDEX_FIELDS,
  MEASUREMENT,
  PLATFORM_FIELDS,
  floodThresholdField,
} from '../dashboards/measurements.js';
import { concentrationAtIndex } from '../dashboards/scales.js';
import { isGrafanaUnit } from '../dashboards/units.js';
import { influxQuery } from './support/influxd.js';
import { seedRollups } from './support/rollups.js';

// --- the dashboards as Grafana receives them ----------------------------------------------------------------

interface Target {
  refId?: string;
  query?: string;
  rawQuery?: boolean;
  resultFormat?: string;
  datasource?: { type?: string; uid?: string };
  hide?: boolean;
}
interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}
interface Panel {
  id?: number;
  type: string;
  title?: string;
  description?: string;
  gridPos?: GridPos;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
  repeat?: string;
  interval?: string;
  timeFrom?: string;
  maxDataPoints?: number;
  fieldConfig?: {
    defaults?: { unit?: string };
    overrides?: Array<{ matcher: { id: string; options?: string }; properties: Array<{ id: string; value?: unknown }> }>;
  };
}
interface Variable {
  name: string;
  type: string;
  query?: string;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
  datasource?: { uid?: string };
}
interface GrafanaDashboard {
  uid: string;
  title: string;
  refresh?: string;
  time?: { from: string; to: string };
  panels?: Panel[];
  templating: { list?: Variable[] };
  annotations: { list?: Array<{ name: string; target?: Target; datasource?: { uid?: string } }> };
}

const generated = [...renderDashboards()].map(([file, json]) => ({ file, json, dashboard: JSON.parse(json) as GrafanaDashboard }));

/** Every panel, rows' collapsed children included. */
function allPanels(d: GrafanaDashboard): Panel[] {
  return (d.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
}
const queryPanels = (d: GrafanaDashboard) => allPanels(d).filter((p) => p.type !== 'row');

// --- Grafana's substitution for InfluxQL ------------------------------------------------------------------------

/** Grafana's template variable syntax: `$var`, `[[var]]`, `${var}`, `${var:format}`. */
const VARIABLE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g;

/** @grafana/data `escapeRegex`, which the InfluxDB data source applies to multi-value and All selections. */
const escapeRegex = (value: string) => value.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');

interface VariableValue {
  value: string | string[];
  multi: boolean;
  includeAll: boolean;
}

/** The InfluxDB data source's `interpolateQueryExpr`: regex-escaped, a list as `(a|b)`. */
function formatValue(v: VariableValue): string {
  if (!v.multi && !v.includeAll) return Array.isArray(v.value) ? v.value.join(',') : v.value;
  if (typeof v.value === 'string') return escapeRegex(v.value);
  return `(${v.value.map(escapeRegex).join('|')})`;
}

function interpolateVariables(text: string, vars: Readonly<Record<string, VariableValue>>): string {
  return text.replace(VARIABLE, (match, a?: string, b?: string, _f?: string, c?: string) => {
    const name = a ?? b ?? c ?? '';
    const v = vars[name];
    return v ? formatValue(v) : match;
  });
}

interface TimeRange {
  /** Grafana's raw range, e.g. `now-6h`. */
  from: string;
  fromMs: number;
  toMs: number;
}

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

function relativeRange(spanText: string, now: number): TimeRange {
  const m = /^(?:now-)?(\d+)([smhdw])$/.exec(spanText);
  if (!m) throw new Error(`unsupported range ${spanText}`);
  const span = Number(m[1]) * UNIT_MS[m[2]!]!;
  return { from: `now-${m[1]}${m[2]}`, fromMs: now - span, toMs: now };
}

/** How Grafana writes `$timeFilter`: the old frontend form for relative ranges, or the backend's epoch form. */
type TimeFilterStyle = 'relative' | 'absolute';

function timeFilter(range: TimeRange, style: TimeFilterStyle): string {
  if (style === 'absolute') return `time > ${range.fromMs}ms and time < ${range.toMs}ms`;
  const m = /^now-(\d+[smhdw])$/.exec(range.from)!;
  return `time >= now() - ${m[1]} and time <= now()`;
}

const NICE_INTERVALS_MS = [10, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map(
  (s) => s * 1000,
);

/** `$__interval`: range / max data points, at least the panel's (or the data source's 10 s) minimum, rounded. */
function interval(range: TimeRange, panel: Panel): { text: string; ms: number } {
  const min = panel.interval ? parseDuration(panel.interval) : 10_000;
  const raw = Math.max((range.toMs - range.fromMs) / (panel.maxDataPoints ?? 1000), min);
  const ms = NICE_INTERVALS_MS.find((n) => n >= raw) ?? NICE_INTERVALS_MS[NICE_INTERVALS_MS.length - 1]!;
  const text = ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`;
  return { text, ms };
}

function parseDuration(text: string): number {
  const m = /^(\d+)([smhdw])$/.exec(text);
  if (!m) throw new Error(`bad duration ${text}`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}

function interpolateMacros(query: string, range: TimeRange, style: TimeFilterStyle, panel: Panel): string {
  const iv = interval(range, panel);
  return query
    .replaceAll('$timeFilter', timeFilter(range, style))
    .replaceAll('$__interval_ms', String(iv.ms))
    .replaceAll('$__interval', iv.text)
    .replaceAll('$interval', iv.text);
}

// --- the seed: a small fleet, six hours of it ---------------------------------------------------------------------

interface SeedDevice {
  id: string;
  kind: Kind;
  name: string;
  city: string;
  district: string;
  lat: number;
  lon: number;
  online: boolean;
  thresholds?: FloodThresholds;
}

const FLEET: SeedDevice[] = [
  { id: 'smd-air-01', kind: 'air', name: 'Taman Lansia Segiri', city: 'Samarinda', district: 'Samarinda Ulu', lat: -0.49, lon: 117.15, online: true },
  { id: 'bpn-air-01', kind: 'air', name: 'Plaza Balikpapan', city: 'Balikpapan', district: 'Balikpapan Kota', lat: -1.27, lon: 116.83, online: true },
  { id: 'bpn-air-02', kind: 'air', name: 'Balikpapan Baru', city: 'Balikpapan', district: 'Balikpapan Selatan', lat: -1.24, lon: 116.87, online: false },
  {
    id: 'smd-flood-01',
    kind: 'flood',
    name: 'Simpang Sempaja',
    city: 'Samarinda',
    district: 'Samarinda Utara',
    lat: -0.4579,
    lon: 117.1554,
    online: true,
    thresholds: { waspada: 150, siaga: 200, awas: 250 },
  },
  {
    id: 'smd-flood-02',
    kind: 'flood',
    name: 'Bendung Benanga',
    city: 'Samarinda',
    district: 'Sungai Pinang',
    lat: -0.429,
    lon: 117.1683,
    online: true,
    thresholds: { siaga: 775, awas: 825 },
  },
  { id: 'smd-traffic-01', kind: 'traffic', name: 'Simpang Lembuswana', city: 'Samarinda', district: 'Samarinda Ulu', lat: -0.4727, lon: 117.1438, online: true },
  { id: 'bpn-traffic-01', kind: 'traffic', name: 'Rapak Plaza', city: 'Balikpapan', district: 'Balikpapan Kota', lat: -1.25, lon: 116.86, online: true },
];
const OFFLINE = FLEET.filter((d) => !d.online).map((d) => d.id);

/** A plausible value of a catalog field at step `i` of device number `n`. */
function reading(device: SeedDevice, n: number, i: number): Record<string, number> {
  const wave = Math.sin(i / 6 + n);
  const base: Record<string, number> = {
    pm25: 35 + 25 * wave + 10 * n,
    pm10: 60 + 30 * wave,
    co: 3000 + 800 * wave,
    no2: 60 + 20 * wave,
    so2: 30 + 10 * wave,
    o3: 90 + 30 * wave,
    hc: 40 + 10 * wave,
    temperature: 29 + 3 * wave,
    humidity: 75 + 10 * wave,
    waterLevel: device.thresholds?.waspada ? 140 + 40 * wave : 760 + 30 * wave,
    rainfall: Math.max(0, 12 * wave),
    flowRate: 80 + 20 * wave,
    vehicleCount: Math.round(25 + 12 * wave),
    intervalSeconds: 60,
    avgSpeed: 35 + 12 * wave,
    occupancy: 30 + 15 * wave,
    battery: 90 - i / 20,
    rssi: -70 + 5 * wave,
  };
  return Object.fromEntries(CATALOG[device.kind].fields.map((f) => [f.name, base[f.name] ?? (f.min + f.max) / 2]));
}

const escTag = (v: string) => v.replace(/[ ,=]/g, '\\$&');
const escString = (v: string) => `"${v.replace(/[\\"]/g, '\\$&')}"`;

function line(measurement: string, tags: Record<string, string>, fields: Record<string, number | string>, ts: number): string {
  const t = Object.entries(tags)
    .map(([k, v]) => `${k}=${escTag(v)}`)
    .join(',');
  const f = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? escString(v) : Number(v.toFixed(4))}`)
    .join(',');
  return `${measurement},${t} ${f} ${ts}`;
}

const STEP_MS = 5 * 60_000;
const STEPS = 7 * 12; // seven hours, so the six-hour dashboards are full

function seedLines(now: number): string[] {
  const lines: string[] = [];
  const start = now - STEPS * STEP_MS;
  FLEET.forEach((device, n) => {
    const place = { device_id: device.id, city: device.city, district: device.district };
    const placeKind = { ...place, kind: device.kind };
    for (let i = 0; i <= STEPS; i++) {
      const ts = start + i * STEP_MS;
      // An offline device stopped reporting an hour ago.
      const reporting = device.online || ts < now - 3_600_000;
      const values = reading(device, n, i);
      if (reporting) lines.push(line(device.kind, place, values, ts));

      let severity = 0;
      if (reporting && device.kind === 'air') {
        const result = ispu(Object.fromEntries(ISPU_POLLUTANTS.map((p) => [p, values[p]!])))!;
        severity = result.value > 200 ? 2 : result.value > 100 ? 1 : 0;
        lines.push(
          line(
            MEASUREMENT.indices,
            placeKind,
            {
              [INDEX_FIELDS.air.ispu]: result.value,
              [INDEX_FIELDS.air.category]: result.category,
              [INDEX_FIELDS.air.dominant]: result.dominant,
              [INDEX_FIELDS.air.pm25Hourly]: Math.round(subIndex('pm25', values.pm25!)),
            },
            ts,
          ),
        );
      }
      if (reporting && device.kind === 'flood') {
        const judged = floodLevel(values.waterLevel!, device.thresholds);
        const level = judged ?? NO_FLOOD_LEVEL.level;
        severity = judged ? FLOOD_LEVEL_ORDER[judged] : 0;
        const thresholds = Object.fromEntries(
          FLOOD_ALERT_LEVELS.filter((l) => device.thresholds?.[l] !== undefined).map((l) => [
            floodThresholdField(l),
            device.thresholds![l]!,
          ]),
        );
        lines.push(
          line(
            MEASUREMENT.indices,
            placeKind,
            { [INDEX_FIELDS.flood.level]: level, [INDEX_FIELDS.flood.levelNum]: judged ? severity : NO_FLOOD_LEVEL.num, ...thresholds },
            ts,
          ),
        );
      }
      if (reporting && device.kind === 'traffic') {
        const los = trafficLos(values, { freeFlowSpeed: 50, capacity: 1800 })!;
        severity = los.los === 'E' || los.los === 'F' ? 1 : 0;
        lines.push(
          line(
            MEASUREMENT.indices,
            placeKind,
            {
              [INDEX_FIELDS.traffic.los]: los.los,
              [INDEX_FIELDS.traffic.losNum]: LOS_ORDER[los.los],
              [INDEX_FIELDS.traffic.flowPerHour]: los.flowPerHour!,
            },
            ts,
          ),
        );
      }
      const online = reporting ? 1 : 0;
      const status = online ? 'online' : 'offline';
      lines.push(
        line(
          MEASUREMENT.deviceState,
          placeKind,
          {
            [DEVICE_STATE_FIELDS.lat]: device.lat,
            [DEVICE_STATE_FIELDS.lon]: device.lon,
            [DEVICE_STATE_FIELDS.name]: device.name,
            [DEVICE_STATE_FIELDS.status]: status,
            [DEVICE_STATE_FIELDS.online]: online,
            [DEVICE_STATE_FIELDS.severity]: severity,
          },
          ts,
        ),
      );
    }
  });

  // Pantau's own health every minute.
  for (let ts = start; ts <= now; ts += 60_000) {
    const i = (ts - start) / 60_000;
    const spool = i % 90 < 10 ? 40 * (10 - (i % 90)) : 0;
    lines.push(
      line(
        MEASUREMENT.platform,
        { instance: 'pantau-1' },
        {
          [PLATFORM_FIELDS.readingsPerSecond]: 0.12 + 0.01 * Math.sin(i),
          [PLATFORM_FIELDS.rejectionsPerSecond]: 0.01,
          [PLATFORM_FIELDS.readingsTotal]: 7 * i,
          [PLATFORM_FIELDS.rejectionsTotal]: Math.floor(i / 10),
          [PLATFORM_FIELDS.spoolBytes]: spool * 180,
          [PLATFORM_FIELDS.spoolOldestAge]: spool ? 60 * (10 - (i % 90)) : 0,
          [PLATFORM_FIELDS.influxUp]: spool ? 0 : 1,
          [PLATFORM_FIELDS.mqttConnections]: FLEET.filter((d) => d.online).length,
          [PLATFORM_FIELDS.droppedTotal]: 0,
        },
        ts,
      ),
    );
  }

  // Rejections: a sensor over its range and a counter with a firmware typo.
  for (let ts = start; ts <= now; ts += 20 * 60_000) {
    lines.push(
      line(MEASUREMENT.rejections, { device_id: 'smd-air-01', kind: 'air', reason: 'out_of_range' }, { detail: 'pm25 1200 is above 1000', count: 1 }, ts),
      line(MEASUREMENT.rejections, { device_id: 'bpn-traffic-01', kind: 'traffic', reason: 'unknown_field' }, { detail: 'field "speed" is not a traffic field', count: 1 }, ts + 1000),
    );
  }

  // Alerts: open, acknowledged, resolved, and one opened days ago that is still open.
  const alert = (device: string, kind: Kind, rule: string, severity: string, state: string, value: number, message: string, ts: number) =>
    line(MEASUREMENT.alerts, { device_id: device, kind, rule, severity }, { state, value, message }, ts);
  lines.push(
    alert('smd-flood-01', 'flood', 'flood_level', 'warning', ALERT_STATES.open, 172, 'Tinggi muka air 172 cm ≥ waspada 150 cm', now - 2 * 3_600_000),
    alert('bpn-air-01', 'air', 'ispu', 'warning', ALERT_STATES.open, 118, 'ISPU 118 (Tidak Sehat)', now - 5 * 3_600_000),
    alert('bpn-air-01', 'air', 'ispu', 'warning', ALERT_STATES.acknowledged, 118, 'ISPU 118 (Tidak Sehat), diakui', now - 4 * 3_600_000),
    alert('smd-traffic-01', 'traffic', 'los', 'warning', ALERT_STATES.open, 5, 'LOS E selama 10 menit', now - 3 * 3_600_000),
    alert('smd-traffic-01', 'traffic', 'los', 'warning', ALERT_STATES.resolved, 2, 'LOS B', now - 3_600_000),
    alert('bpn-air-02', 'air', 'silent', 'critical', ALERT_STATES.open, 0, 'Tidak ada data sejak 3 hari', now - 3 * 86_400_000),
  );
  return lines;
}

// --- running dashboards against InfluxDB ----------------------------------------------------------------------------

let influxUrl = '';
const DB = `dash_${randomBytes(4).toString('hex')}`;
let now = 0;

type Series = Awaited<ReturnType<typeof influxQuery>>;
const run = (q: string): Promise<Series> => influxQuery(influxUrl, DB, q);
const rowCount = (series: Series) => series.reduce((n, s) => n + s.values.length, 0);

/** What the user picked: every variable All, or explicit values. */
type Selection = Record<string, 'all' | string[]>;

interface Resolved {
  vars: Record<string, VariableValue>;
  options: Record<string, string[]>;
}

/** Resolves the dashboard's variables in order, as Grafana does: each query sees the choices before it. */
async function resolveVariables(d: GrafanaDashboard, selection: Selection): Promise<Resolved> {
  const vars: Record<string, VariableValue> = {};
  const options: Record<string, string[]> = {};
  for (const v of d.templating.list ?? []) {
    const q = interpolateVariables(v.query ?? '', vars);
    const series = await run(q);
    const values = [...new Set(series.flatMap((s) => s.values.map((row) => String(row[1]))))].sort();
    options[v.name] = values;
    const picked = selection[v.name] ?? 'all';
    const value = picked === 'all' ? (v.allValue ? v.allValue : values) : picked;
    vars[v.name] = { value, multi: v.multi ?? false, includeAll: v.includeAll ?? false };
  }
  return { vars, options };
}

function panelRange(d: GrafanaDashboard, panel: Panel): TimeRange {
  return relativeRange(panel.timeFrom ?? d.time!.from, now);
}

/** The final InfluxQL of every target of a panel, once per repeated copy. */
function panelQueries(d: GrafanaDashboard, panel: Panel, resolved: Resolved, style: TimeFilterStyle) {
  const copies = panel.repeat
    ? resolved.options[panel.repeat]!.map((value) => ({
        ...resolved.vars,
        [panel.repeat!]: { ...resolved.vars[panel.repeat!]!, value },
      }))
    : [resolved.vars];
  return copies.flatMap((vars) =>
    (panel.targets ?? []).map((t) => ({
      refId: t.refId,
      query: interpolateMacros(interpolateVariables(t.query ?? '', vars), panelRange(d, panel), style, panel),
    })),
  );
}

async function panelRows(title: string, dashboardFile: string, style: TimeFilterStyle = 'relative'): Promise<Series[]> {
  const d = generated.find((g) => g.file === dashboardFile)!.dashboard;
  const panel = queryPanels(d).find((p) => p.title === title);
  if (!panel) throw new Error(`no panel "${title}" in ${dashboardFile}`);
  const resolved = await resolveVariables(d, {});
  return Promise.all(panelQueries(d, panel, resolved, style).map((q) => run(q.query)));
}

beforeAll(async () => {
  influxUrl = inject('influxUrl');
  now = Date.now();
  await influxQuery(influxUrl, DB, `CREATE DATABASE "${DB}"`);
  const res = await fetch(`${influxUrl}/write?db=${DB}&precision=ms`, { method: 'POST', body: seedLines(now).join('\n') });
  if (res.status !== 204) throw new Error(`seeding InfluxDB failed: ${res.status} ${await res.text()}`);
  await seedRollups(influxUrl, DB, now);
});

afterAll(async () => {
  if (influxUrl) await influxQuery(influxUrl, DB, `DROP DATABASE "${DB}"`).catch(() => undefined);
});

// --- the tests -----------------------------------------------------------------------------------------------------------

describe('generated dashboards', () => {
  it('the committed JSON is what the TypeScript sources generate (run `npm run dashboards` after a change)', () => {
    const dir = fileURLToPath(GENERATED_DIR);
    const committed = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
    expect(committed, 'dashboards/generated/ holds other files than the sources make: run `npm run dashboards`').toEqual(
      generated.map((g) => g.file).sort(),
    );
    for (const { file, json } of generated) {
      const onDisk = readFileSync(new URL(file, GENERATED_DIR), 'utf8');
      if (onDisk !== json) {
        expect.fail(`dashboards/generated/${file} is stale: run \`npm run dashboards\` and commit the result`);
      }
    }
  });

  it.each(generated.map((g) => [g.file, g.dashboard] as const))('%s has unique uid, panel ids, titles and refIds', (_file, d) => {
    expect(d.uid).toMatch(/^[a-z0-9-]{8,40}$/);
    const titles = queryPanels(d).map((p) => p.title);
    expect(new Set(titles).size, 'two panels share a title').toBe(titles.length);
    const ids = allPanels(d).map((p) => p.id);
    expect(ids.every((id) => typeof id === 'number')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of queryPanels(d)) {
      const refIds = (panel.targets ?? []).map((t) => t.refId);
      expect(new Set(refIds).size, `${panel.title}: duplicate refId`).toBe(refIds.length);
    }
    expect(new Set(generated.map((g) => g.dashboard.uid)).size).toBe(generated.length);
  });

  it.each(generated.map((g) => [g.file, g.dashboard] as const))('%s lays its panels out on the grid without overlap', (_file, d) => {
    const placed = allPanels(d).map((p) => ({ title: p.title, ...p.gridPos! }));
    for (const p of placed) {
      expect(p.w, `${p.title} width`).toBeGreaterThan(0);
      expect(p.h, `${p.title} height`).toBeGreaterThan(0);
      expect(p.x, `${p.title} x`).toBeGreaterThanOrEqual(0);
      expect(p.x + p.w, `${p.title} runs off the 24-column grid`).toBeLessThanOrEqual(24);
    }
    for (let i = 0; i < placed.length; i++) {
      for (let j = i + 1; j < placed.length; j++) {
        const a = placed[i]!;
        const b = placed[j]!;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `"${a.title}" overlaps "${b.title}"`).toBe(false);
      }
    }
  });

  it.each(generated.map((g) => [g.file, g.dashboard] as const))(
    '%s suits a wall screen: 30 s refresh, 6 or 24 h, Indonesian titles with English descriptions',
    (_file, d) => {
      expect(d.refresh).toBe('30s');
      expect(['now-6h', 'now-24h']).toContain(d.time?.from);
      expect(d.time?.to).toBe('now');
      for (const panel of queryPanels(d)) {
        expect(panel.title, 'panel without title').toBeTruthy();
        expect(panel.description?.length ?? 0, `${panel.title}: English description`).toBeGreaterThan(20);
        expect(panel.datasource?.uid, `${panel.title}: data source`).toBe(DATASOURCE_UID);
        expect(panel.targets?.length ?? 0, `${panel.title}: no query`).toBeGreaterThan(0);
        for (const t of panel.targets ?? []) {
          expect(t.datasource).toEqual({ type: 'influxdb', uid: DATASOURCE_UID });
          expect(t.rawQuery).toBe(true);
          expect(['time_series', 'table']).toContain(t.resultFormat);
        }
        const units = [
          panel.fieldConfig?.defaults?.unit,
          ...(panel.fieldConfig?.overrides ?? []).flatMap((o) => o.properties.filter((p) => p.id === 'unit').map((p) => p.value)),
        ].filter((u): u is string => typeof u === 'string');
        for (const unit of units) expect(isGrafanaUnit(unit), `${panel.title}: Grafana does not know unit ${unit}`).toBe(true);
      }
    },
  );

  it.each(generated.map((g) => [g.file, g.dashboard] as const))(
    '%s has the chained city → district → device variables and alert annotations',
    (_file, d) => {
      const list = d.templating.list ?? [];
      expect(list.map((v) => v.name)).toEqual(['city', 'district', 'device']);
      for (const v of list) {
        expect(v.type).toBe('query');
        expect(v.datasource?.uid).toBe(DATASOURCE_UID);
        expect(v.query).toMatch(/^SHOW TAG VALUES FROM "device_state" WITH KEY = /);
      }
      expect(list[1]!.query).toContain('/^$city$/');
      expect(list[2]!.query).toContain('/^$district$/');
      const alerts = d.annotations.list?.find((a) => a.target?.query?.includes('FROM "alerts"'));
      expect(alerts, 'alert annotations').toBeDefined();
      expect(alerts!.datasource?.uid).toBe(DATASOURCE_UID);
    },
  );

  it.each(generated.map((g) => [g.file, g.dashboard] as const))(
    '%s: overrides and sorting name table columns as the organize transformation renamed them',
    (_file, d) => {
      for (const panel of queryPanels(d) as Array<Panel & { transformations?: Array<{ id: string; options: any }>; options?: any }>) {
        const renamed: Record<string, string> = Object.assign(
          {},
          ...(panel.transformations ?? []).filter((t) => t.id === 'organize').map((t) => t.options.renameByName ?? {}),
        );
        const names = [
          ...(panel.fieldConfig?.overrides ?? [])
            .filter((o) => o.matcher.id === 'byName')
            .map((o) => o.matcher.options!),
          ...((panel.options?.sortBy ?? []) as Array<{ displayName: string }>).map((s) => s.displayName),
        ];
        for (const name of names) expect(Object.keys(renamed), `${panel.title}: "${name}" was renamed`).not.toContain(name);
      }
    },
  );

  it('panel units and thresholds come from the catalog', () => {
    const air = generated.find((g) => g.file === 'air-quality.json')!.dashboard;
    const pm25 = queryPanels(air).find((p) => p.targets?.some((t) => t.query?.includes('mean("pm25")')))!;
    expect(pm25.fieldConfig?.defaults?.unit).toBe(CATALOG.air.fields.find((f) => f.name === 'pm25')!.grafanaUnit);
    const steps = (pm25.fieldConfig?.defaults as { thresholds?: { steps: Array<{ value: number | null; color: string }> } })
      .thresholds!.steps;
    expect(steps.map((s) => s.color)).toEqual(ISPU_CATEGORIES.map((c) => c.color));
  });

  it('concentration bands start exactly where the rounded ISPU changes category', () => {
    for (const pollutant of ISPU_POLLUTANTS) {
      ISPU_CATEGORIES.slice(1).forEach((category, i) => {
        const start = concentrationAtIndex(pollutant, category.from - 0.5);
        expect(ispuCategory(subIndex(pollutant, start + 0.002)), `${pollutant} at ${start}`).toBe(category.category);
        expect(ispuCategory(subIndex(pollutant, start - 0.002)), `${pollutant} below ${start}`).toBe(
          ISPU_CATEGORIES[i]!.category,
        );
      });
    }
  });
});

describe('dashboards against a real InfluxDB 1.x', () => {
  it('every template variable query lists the seeded places, narrowed by the choice before it', async () => {
    for (const { file, dashboard } of generated) {
      const kind = dashboard.templating.list![2]!.query!.match(/"kind" = '(\w+)'/)?.[1];
      const fleet = FLEET.filter((d) => !kind || d.kind === kind);
      const all = await resolveVariables(dashboard, {});
      expect(all.options.city, file).toEqual([...new Set(fleet.map((d) => d.city))].sort());
      expect(all.options.device, file).toEqual(fleet.map((d) => d.id).sort());

      const samarinda = await resolveVariables(dashboard, { city: ['Samarinda'] });
      expect(samarinda.options.district, file).toEqual(
        [...new Set(fleet.filter((d) => d.city === 'Samarinda').map((d) => d.district))].sort(),
      );
      expect(samarinda.options.device!.every((id) => id.startsWith('smd-')), file).toBe(true);
    }
  });

  const selections: Array<[string, Selection]> = [
    ['everything (All)', {}],
    ['two cities picked', { city: ['Samarinda', 'Balikpapan'] }],
    ['one city, one district', { city: ['Samarinda'], district: ['Samarinda Ulu'] }],
  ];

  it.each(generated.map((g) => [g.file, g.dashboard] as const))(
    '%s: every panel query runs without error and shows data',
    async (file, d) => {
      for (const [label, selection] of selections) {
        const resolved = await resolveVariables(d, selection);
        for (const style of ['relative', 'absolute'] as const) {
          for (const panel of queryPanels(d)) {
            const queries = panelQueries(d, panel, resolved, style);
            let rows = 0;
            for (const q of queries) {
              expect(q.query, `${file} "${panel.title}": unreplaced variable`).not.toMatch(/\$[A-Za-z_]/);
              let series: Series;
              try {
                series = await run(q.query);
              } catch (err) {
                throw new Error(`${file} "${panel.title}" ${q.refId} (${label}, ${style}): ${String(err)}\n  ${q.query}`);
              }
              rows += rowCount(series);
            }
            if (label === 'everything (All)' || label === 'two cities picked') {
              expect(rows, `${file} "${panel.title}" shows no data (${label}, ${style})`).toBeGreaterThan(0);
            }
          }
        }
      }
    },
  );

  it.each(generated.map((g) => [g.file, g.dashboard] as const))('%s: alert annotations find the alert changes', async (_file, d) => {
    const resolved = await resolveVariables(d, {});
    for (const annotation of d.annotations.list ?? []) {
      if (!annotation.target?.query) continue;
      const q = interpolateMacros(
        interpolateVariables(annotation.target.query, resolved.vars),
        relativeRange(d.time!.from, now),
        'relative',
        { type: 'annotation' },
      );
      const series = await run(q);
      expect(rowCount(series), annotation.name).toBeGreaterThan(0);
    }
  });

  it('the city map places every device with its state: offline grey, else 1 + severity', async () => {
    const [series] = await panelRows('Peta sensor', 'city-overview.json');
    const rows = series!.flatMap((s) => s.values.map((v) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) })));
    expect(rows.map((r) => r.device_id).sort()).toEqual(FLEET.map((d) => d.id).sort());
    for (const device of FLEET) {
      const row = rows.find((r) => r.device_id === device.id)!;
      expect(row.lat).toBe(device.lat);
      expect(row.lon).toBe(device.lon);
      expect(row.name).toBe(device.name);
      if (device.online) expect(row.state).toBeGreaterThanOrEqual(1);
      else expect(row.state).toBe(0);
    }
  });

  it('the city overview counts devices online and offline, and open and acknowledged alerts', async () => {
    const value = async (title: string) => (await panelRows(title, 'city-overview.json'))[0]![0]?.values[0]?.[1];
    expect(await value('Perangkat daring')).toBe(FLEET.length - OFFLINE.length);
    expect(await value('Perangkat luring')).toBe(OFFLINE.length);
    expect(await value('Peringatan terbuka')).toBe(2); // smd-flood-01 today, bpn-air-02 three days ago
    expect(await value('Peringatan diakui')).toBe(1); // bpn-air-01
  });

  it('the active alerts table leaves out resolved alerts', async () => {
    const [series] = await panelRows('Peringatan aktif', 'city-overview.json');
    const devices = series!.map((s) => s.tags?.device_id).sort();
    expect(devices).toEqual(['bpn-air-01', 'bpn-air-02', 'smd-flood-01']);
  });

  it('the offline table lists exactly the offline devices', async () => {
    const [series] = await panelRows('Daftar perangkat luring', 'city-overview.json');
    expect(series!.map((s) => s.tags?.device_id)).toEqual(OFFLINE);
  });

  it("each gauge's panel draws its own thresholds and none it does not have", async () => {
    const results = await panelRows('Tinggi muka air $device', 'flood.json');
    // Per repeated copy: A (water level), B (threshold lines).
    const lines = results.filter((_, i) => i % 2 === 1);
    const gauges = FLEET.filter((d) => d.kind === 'flood').sort((a, b) => a.id.localeCompare(b.id));
    gauges.forEach((gauge, i) => {
      const columns = lines[i]![0]!.columns;
      const lastRow = lines[i]![0]!.values.at(-1)!;
      for (const level of FLOOD_ALERT_LEVELS) {
        const col = columns.findIndex((c) => c.toLowerCase().startsWith(level));
        expect(lastRow[col], `${gauge.id} ${level}`).toBe(gauge.thresholds?.[level] ?? null);
      }
    });
  });
});
