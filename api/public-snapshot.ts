// The public snapshot (docs/public.md): everything the citizens' page and the public API show, built from the
// registry, the latest-values cache, the indices tracker and the active alerts — the same figures the console and
// the summary show — every minute and at start, never for a request. Anonymous requests are answered from it alone,
// so a crowd on `/publik` never reaches InfluxDB or the registry. Only public devices (catalog/public.ts) enter it:
// nothing about another device, no token, key or person.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Alert } from '../alerts/engine.js';
import { FLOOD_LEVEL_LABELS, FLOOD_LEVEL_ORDER, floodLevel, type FloodLevel, type FloodThresholds } from '../catalog/flood-levels.js';
import { GLOSSARY, type Term } from '../catalog/glossary.js';
import { ISPU_ADVICE, ISPU_COLORS, type IspuCategory } from '../catalog/ispu.js';
import { isPublicDevice, PUBLIC_WARNING_WORDS } from '../catalog/public.js';
import type { Series } from '../influx/client.js';
import type { DeviceRecord, Registry } from '../registry/registry.js';
import type { Indices } from './indices.js';
import type { LatestReading } from './latest-cache.js';

export interface PublicIspu {
  value: number;
  category: IspuCategory;
  color: string;
  label: Term;
  advice: Term;
  /** Hours of the trailing 24 that held data. */
  hoursCovered: number;
}

export interface PublicAirMonitor {
  id: string;
  name: string;
  district: string;
  location: { lat: number; lon: number };
  ispu: PublicIspu | null;
  /** RFC 3339 time of its newest reading, or null. */
  updatedAt: string | null;
}

export interface PublicGauge {
  id: string;
  name: string;
  district: string;
  location: { lat: number; lon: number };
  /** Newest water level, cm. */
  waterLevel: number | null;
  level: FloodLevel | null;
  levelLabel: Term | null;
  thresholds: { waspada?: number; siaga?: number; awas?: number };
  updatedAt: string | null;
  /** Hourly mean water level of the last 24 hours (cm), oldest first. */
  last24h: Array<{ ts: string; waterLevel: number }>;
}

export interface PublicWarning {
  type: 'flood' | 'haze';
  severity: string;
  severityLabel: Term;
  deviceId: string;
  place: string;
  since: string;
  /** Plain words: "Peringatan banjir — Siaga: Pos Lempake". */
  text: Term;
}

export interface PublicCity {
  city: string;
  /** The worst public air monitor's ISPU (the city's current ISPU), or null when none has one. */
  ispu: (PublicIspu & { monitor: string }) | null;
  /** The public river gauge at the highest level, or null. */
  worstGauge: { id: string; name: string; level: FloodLevel; levelLabel: Term; waterLevel: number | null } | null;
  airMonitors: PublicAirMonitor[];
  gauges: PublicGauge[];
  warnings: PublicWarning[];
}

export interface PublicSnapshot {
  generatedAt: string;
  cities: PublicCity[];
}

export interface PublicSnapshotSources {
  registry: Registry;
  latest(deviceId: string): LatestReading | undefined;
  indices(deviceId: string): Indices | undefined;
  activeAlerts(): Alert[];
  /** InfluxQL, as InfluxClient.query; used only while the snapshot is rebuilt. */
  query(q: string, params?: Record<string, string | number>): Promise<Series[]>;
}

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

function publicIspu(idx: Indices | undefined): PublicIspu | null {
  const i = idx?.ispu;
  if (!i) return null;
  const category = i.category as IspuCategory;
  return { value: i.value, category, color: ISPU_COLORS[category], label: GLOSSARY.ispuCategory[category], advice: ISPU_ADVICE[category], hoursCovered: i.hoursCovered };
}

function gaugeThresholds(d: DeviceRecord): PublicGauge['thresholds'] {
  const t = d.thresholds ?? {};
  const out: PublicGauge['thresholds'] = {};
  for (const k of ['waspada', 'siaga', 'awas'] as const) if (typeof t[k] === 'number') out[k] = t[k] as number;
  return out;
}

/** One rebuilt snapshot. `history` holds each public gauge's last 24 h, read once per rebuild (see PublicSnapshots). */
export function buildPublicSnapshot(src: PublicSnapshotSources, history: ReadonlyMap<string, PublicGauge['last24h']>, now = Date.now()): PublicSnapshot {
  const alertsByDevice = new Map<string, Alert[]>();
  for (const a of src.activeAlerts()) if (a.state !== 'resolved') alertsByDevice.set(a.deviceId, [...(alertsByDevice.get(a.deviceId) ?? []), a]);
  const byCity = new Map<string, PublicCity>();
  for (const d of src.registry.listDevices()) {
    if (d.kind === 'traffic' || !isPublicDevice(d)) continue;
    let city = byCity.get(d.city.toLowerCase());
    if (!city) byCity.set(d.city.toLowerCase(), (city = { city: d.city, ispu: null, worstGauge: null, airMonitors: [], gauges: [], warnings: [] }));
    const latest = src.latest(d.id);
    const idx = src.indices(d.id);
    const location = { lat: d.lat, lon: d.lon };
    if (d.kind === 'air') {
      const ispu = publicIspu(idx);
      city.airMonitors.push({ id: d.id, name: d.name, district: d.district, location, ispu, updatedAt: iso(latest?.ts) });
      if (ispu && (!city.ispu || ispu.value > city.ispu.value)) city.ispu = { ...ispu, monitor: d.name };
    } else {
      const waterLevel = latest?.values.waterLevel ?? null;
      const level = idx?.alertLevel ?? (waterLevel === null ? null : floodLevel(waterLevel, d.thresholds as FloodThresholds | null));
      city.gauges.push({
        id: d.id, name: d.name, district: d.district, location, waterLevel, level,
        levelLabel: level ? FLOOD_LEVEL_LABELS[level] : null,
        thresholds: gaugeThresholds(d), updatedAt: iso(latest?.ts), last24h: history.get(d.id) ?? [],
      });
      if (level && (!city.worstGauge || FLOOD_LEVEL_ORDER[level] > FLOOD_LEVEL_ORDER[city.worstGauge.level])) {
        city.worstGauge = { id: d.id, name: d.name, level, levelLabel: FLOOD_LEVEL_LABELS[level], waterLevel };
      }
    }
    for (const a of alertsByDevice.get(d.id) ?? []) {
      const type = d.kind === 'flood' ? 'flood' : 'haze';
      // a flood gauge's rainfall or a monitor's silence is not a warning to the public: only the flood levels and
      // the air monitors' ISPU rules are (docs/public.md)
      if (a.rule.split(':', 1)[0] !== (type === 'flood' ? 'flood_level' : 'ispu')) continue;
      const severityLabel = (GLOSSARY.alertSeverity as Record<string, Term>)[a.severity] ?? { id: a.severity, en: a.severity };
      const words = PUBLIC_WARNING_WORDS[type];
      city.warnings.push({
        type, severity: a.severity, severityLabel, deviceId: d.id, place: d.name, since: new Date(a.openedAt).toISOString(),
        text: { id: `${words.id} — ${severityLabel.id}: ${d.name}`, en: `${words.en} — ${severityLabel.en}: ${d.name}` },
      });
    }
  }
  const cities = [...byCity.values()].sort((a, b) => a.city.localeCompare(b.city));
  for (const c of cities) {
    c.airMonitors.sort((a, b) => a.name.localeCompare(b.name));
    c.gauges.sort((a, b) => a.name.localeCompare(b.name));
    c.warnings.sort((a, b) => a.since.localeCompare(b.since));
  }
  return { generatedAt: new Date(now).toISOString(), cities };
}

/**
 * A body served from the snapshot, with its strong validator, and its gzip form (made once, on first demand, for
 * bodies worth compressing) with a validator of its own: a strong ETag names one representation.
 */
export interface Rendered {
  body: string;
  etag: string;
  gzipped(): { body: Buffer; etag: string } | null;
}

export function rendered(body: string): Rendered {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
  let gz: { body: Buffer; etag: string } | null | undefined;
  const gzipped = () => {
    if (gz === undefined) gz = Buffer.byteLength(body) < 1024 ? null : { body: gzipSync(body, { level: 9 }), etag: `${etag.slice(0, -1)}-gz"` };
    return gz;
  };
  return { body, etag, gzipped };
}

/**
 * Keeps the current snapshot, rebuilt every `intervalMs` (and at start). Rendered answers are cached per snapshot, so
 * a request costs a map lookup. A failed history read keeps the gauges' previous 24 hours.
 */
export class PublicSnapshots {
  private current: PublicSnapshot = { generatedAt: new Date(0).toISOString(), cities: [] };
  private history = new Map<string, PublicGauge['last24h']>();
  private cache = new Map<string, Rendered>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly src: PublicSnapshotSources, private readonly intervalMs = 60_000) {}

  get snapshot(): PublicSnapshot {
    return this.current;
  }

  async start(): Promise<void> {
    await this.rebuild();
    this.timer = setInterval(() => void this.rebuild().catch(() => undefined), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async rebuild(): Promise<void> {
    await this.readHistory().catch(() => undefined);
    this.current = buildPublicSnapshot(this.src, this.history);
    this.cache = new Map();
  }

  /** The body for `key` from the current snapshot, rendered once per snapshot. */
  render(key: string, make: (s: PublicSnapshot) => string): Rendered {
    let r = this.cache.get(key);
    if (!r) this.cache.set(key, (r = rendered(make(this.current))));
    return r;
  }

  private async readHistory(): Promise<void> {
    const gauges = this.src.registry.listDevices().filter((d) => d.kind === 'flood' && isPublicDevice(d));
    const next = new Map<string, PublicGauge['last24h']>();
    for (const d of gauges) {
      const series = await this.src.query(
        'SELECT mean("waterLevel") FROM "flood" WHERE "device_id" = $device AND time > now() - 24h GROUP BY time(1h) fill(none)',
        { device: d.id },
      );
      const points = (series[0]?.values ?? [])
        .filter((v) => typeof v[1] === 'number')
        .map((v) => ({ ts: new Date(v[0] as string | number).toISOString(), waterLevel: Math.round((v[1] as number) * 10) / 10 }));
      next.set(d.id, points);
    }
    this.history = next;
  }
}
