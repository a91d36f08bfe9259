// The `indices` of docs/contract.md §5 `latest`: ISPU for air, flood alert level for gauges, level of service for traffic — and
// the one place they are computed, so `latest`, the summary, the alert engine and the `indices` measurement show
// the same figure.
//
// `IndicesTracker` is fed every accepted reading (`onReadings`) and answers `current(device)` without a query:
// - ISPU (catalog/ispu-window.ts): the trailing 24 hours in 24 equal hourly buckets ending at the evaluation time,
//   from per-minute sums. Older than 15 minutes the sums come from InfluxDB (`GROUP BY time(1m)`, reloaded every
//   `ttlMs`); the last 15 minutes are single readings, those InfluxDB had at the load and those seen since, united by
//   timestamp (a point is its series and time) — so the newest reading counts before InfluxDB has it, a new
//   station's first reading has an ISPU at once, and nothing is counted twice. At most RECENT_ROWS of them per
//   device: a faster device's oldest become per-minute sums until the next load. `pm25Hourly` is the mean PM2.5 of the
//   last 60 minutes.
// - Flood level: the newest water level against the gauge's thresholds; a gauge without thresholds has none.
// - LOS (catalog/traffic-los.ts): the last 15 minutes of counting intervals, as the `traffic_los` alert grades them.
import { NO_FLOOD_LEVEL } from '../catalog/derived.js';
import { floodLevel, hasFloodThresholds, type FloodLevel, type FloodThresholds } from '../catalog/flood-levels.js';
import { ISPU_POLLUTANTS, type IspuPollutant } from '../catalog/ispu.js';
import { addToMinutes, ISPU_WINDOW_MS, ispuWindow, MINUTE_MS, trailingIspu, type MinuteSums, type TrailingIspu } from '../catalog/ispu-window.js';
import type { Kind } from '../catalog/kinds.js';
import { LOS_WINDOW_MS, TrafficWindow, type Los, type TrafficThresholds } from '../catalog/traffic-los.js';
import { ColumnSeries } from '../catalog/column-series.js';
import { quoteIdentifier, type InfluxClient } from '../influx/client.js';

export interface IspuIndex {
  value: number;
  category: string;
  dominant: string;
  /** Hours of the 24 that hold data (0–24). */
  hoursCovered: number;
  averaging: '24h';
  /** The 24-hour window [from, to), RFC 3339; `to` is the end of the evaluation minute. */
  window: { from: string; to: string };
  subIndices: Record<string, number>;
  /** Sub-index of the mean PM2.5 over the last 60 minutes [to − 1 h, to). */
  pm25Hourly: { value: number; category: string; averaging: 'last60min'; from: string; to: string } | null;
}

export interface TrafficWindowIndex {
  /** Vehicles per hour over the window, or null without counts. */
  flowPerHour: number | null;
  /** Space-mean speed ÷ free-flow speed, or null. */
  speedRatio: number | null;
  /** Seconds of counting in the window (at most 900). */
  coveredSeconds: number;
  averaging: '15min';
}

export interface Indices {
  ispu?: IspuIndex | null;
  alertLevel?: FloodLevel | null;
  /** Why `alertLevel` is null: the gauge has no thresholds, so no level can be judged. */
  alertLevelReason?: 'no_thresholds';
  los?: Los | null;
  /** What the LOS was graded from. */
  trafficWindow?: TrafficWindowIndex;
}

export interface IndexDevice {
  id: string;
  kind: Kind;
  thresholds: Record<string, unknown> | null;
}

export interface IndexReading {
  deviceId: string;
  kind: Kind;
  ts: number;
  values: Readonly<Record<string, number>>;
}

/** How far back single readings are kept (and read from InfluxDB) instead of per-minute sums. */
const RECENT_MS = 15 * MINUTE_MS;
/**
 * Single readings kept per air device, at most: a day of one a minute with room. A device reporting faster has its
 * oldest half folded into per-minute sums (`folded`) when it gets there, so memory follows minutes, not readings: one held every
 * reading of its last 24 hours until the next load, 130 MiB for 334 air devices 160 s into the overload benchmark
 * (a heap snapshot: 2,014 Float64Arrays), and at 20,000 readings a second sustained that would have been gigabytes.
 */
export const RECENT_ROWS = 2048;

interface AirState {
  /** Per-minute sums from InfluxDB before `cut`, at the last load (null: never loaded). */
  stored: Map<number, MinuteSums> | null;
  /** Readings from `cut` on are kept one by one in `recent`; older ones come from `stored`. */
  cut: number;
  loadedAt: number;
  /**
   * Readings from `cut` on, in time order: InfluxDB's at the last load and every one seen since, their pollutants
   * only, as columns (catalog/column-series.ts): at 20,000 readings a second, 15 minutes of them as objects was the
   * largest part of the platform's live heap.
   */
  recent: ColumnSeries;
  /**
   * Per-minute sums of readings from `cut` on that `recent` had no room for (its oldest, past RECENT_ROWS): counted
   * once, with the rest. Cleared at a load, which reads them back from InfluxDB (its sums before the cut, its single
   * readings after). A reading older than every single one kept, once some were folded, is left to the next load
   * (as one older than the cut is): it might repeat a folded point.
   */
  folded: Map<number, MinuteSums>;
  loading?: Promise<void>;
  /** Bumped on every change; the computed index is cached per (version, window end). */
  version: number;
  cached?: { version: number; to: number; value: TrailingIspu | null };
}

const iso = (ms: number) => new Date(ms).toISOString();

function formatIspu(r: TrailingIspu): IspuIndex {
  return {
    value: r.value,
    category: r.category,
    dominant: r.dominant,
    hoursCovered: r.hoursCovered,
    averaging: '24h',
    window: { from: iso(r.from), to: iso(r.to) },
    subIndices: r.subIndices as Record<string, number>,
    pm25Hourly: r.pm25Hourly && {
      value: r.pm25Hourly.value,
      category: r.pm25Hourly.category,
      averaging: 'last60min',
      from: iso(r.pm25Hourly.from),
      to: iso(r.pm25Hourly.to),
    },
  };
}

/**
 * At RECENT_ROWS, a device's oldest half of its single readings become per-minute sums (half at once: the columns'
 * space is then reused rather than doubled); sums older than the window go.
 */
function foldOldest(state: AirState): void {
  if (state.recent.size < RECENT_ROWS) return;
  const excess = state.recent.size - RECENT_ROWS / 2;
  const [head] = state.recent.bounds();
  state.recent.dropBefore(state.recent.timeAt(head + excess - 1), true, (ts, values) => addToMinutes(state.folded, ts, values));
  const first = Math.floor((state.recent.newest! - ISPU_WINDOW_MS - MINUTE_MS) / MINUTE_MS);
  // folded oldest first, so the minutes are in order: stop at the first one inside the window
  for (const minute of state.folded.keys()) {
    if (minute >= first) break;
    state.folded.delete(minute);
  }
}

export class IndicesTracker {
  private readonly air = new Map<string, AirState>();
  private readonly traffic = new Map<string, TrafficWindow>();
  private readonly trafficLoaded = new Set<string>();
  private readonly newest = new Map<string, IndexReading>();

  /** `ttlMs`: how old the InfluxDB part of an ISPU may get before `ready` reloads it. */
  constructor(
    private readonly influx: InfluxClient,
    private readonly ttlMs = 60_000,
  ) {}

  /** Every accepted reading, in order per device (a batch may hold several devices). */
  onReadings(readings: readonly IndexReading[]): void {
    for (const r of readings) {
      const newest = this.newest.get(r.deviceId);
      if (!newest || r.ts >= newest.ts) this.newest.set(r.deviceId, r);
      if (r.kind === 'air') {
        if (!ISPU_POLLUTANTS.some((p) => r.values[p] !== undefined)) continue;
        const state = this.airState(r.deviceId);
        // older than the cut: in the stored sums already, or (a late backlog) counted from the next load
        if (r.ts < state.cut) continue;
        if (state.folded.size > 0 && state.recent.size > 0 && r.ts < state.recent.oldest!) continue;
        state.recent.put(r.ts, r.values);
        state.version++;
        // readings are kept until InfluxDB has them or they leave the window, even while InfluxDB is away
        state.recent.dropBefore(state.recent.newest! - ISPU_WINDOW_MS - MINUTE_MS);
        foldOldest(state);
      } else if (r.kind === 'traffic') {
        const { vehicleCount, intervalSeconds, avgSpeed } = r.values;
        if (vehicleCount === undefined && avgSpeed === undefined) continue;
        let window = this.traffic.get(r.deviceId);
        if (!window) this.traffic.set(r.deviceId, (window = new TrafficWindow()));
        window.put({ ts: r.ts, vehicleCount, intervalSeconds, avgSpeed });
      }
    }
  }

  /**
   * Loads what memory lacks from InfluxDB: the ISPU's stored minutes when never loaded or older than `ttlMs`, a
   * traffic counter's last 15 minutes after a restart. `reading`: the device's newest reading, when the caller had
   * to fetch it from InfluxDB itself.
   */
  async ready(device: IndexDevice, reading?: IndexReading, now = Date.now()): Promise<void> {
    if (reading && !this.newest.has(device.id)) this.newest.set(device.id, reading);
    if (device.kind === 'air') {
      const state = this.air.get(device.id);
      if (!state || state.stored === null || now - state.loadedAt >= this.ttlMs) await this.load(device.id, now);
    } else if (device.kind === 'traffic' && !this.trafficLoaded.has(device.id)) {
      await this.loadTraffic(device.id, now);
    }
  }

  /** Reloads the ISPU minutes of an air device from InfluxDB (concurrent calls share one load). */
  load(deviceId: string, now = Date.now()): Promise<void> {
    const state = this.airState(deviceId);
    state.loading ??= this.queryMinutes(deviceId, now)
      .then(({ minutes, cut, readings }) => {
        state.stored = minutes;
        state.cut = cut;
        state.loadedAt = now;
        state.folded.clear();
        state.recent.dropBefore(cut);
        for (const [ts, values] of readings) if (ts >= cut) state.recent.put(ts, values);
        foldOldest(state);
        state.version++;
      })
      .finally(() => {
        state.loading = undefined;
      });
    return state.loading;
  }

  /** The device's indices now, from memory; undefined when nothing is known about it yet. */
  current(device: IndexDevice, now = Date.now()): Indices | undefined {
    switch (device.kind) {
      case 'air': {
        const state = this.air.get(device.id);
        if (!state) return undefined;
        const result = this.ispuOf(state, now);
        return { ispu: result && formatIspu(result) };
      }
      case 'flood': {
        const reading = this.newest.get(device.id);
        if (!reading) return undefined;
        const thresholds = device.thresholds as FloodThresholds | null;
        if (!hasFloodThresholds(thresholds)) return { alertLevel: null, alertLevelReason: 'no_thresholds' };
        const level = reading.values.waterLevel;
        return { alertLevel: level === undefined ? null : floodLevel(level, thresholds) };
      }
      case 'traffic': {
        const window = this.traffic.get(device.id);
        if (!window) return this.newest.has(device.id) ? { los: null } : undefined;
        const result = window.los(now, device.thresholds as TrafficThresholds | null);
        if (!result) return { los: null };
        return {
          los: result.los,
          trafficWindow: {
            flowPerHour: result.flowPerHour,
            speedRatio: result.speedRatio,
            coveredSeconds: result.coveredSeconds,
            averaging: '15min',
          },
        };
      }
    }
  }

  /** `ready` then `current`: what `latest` answers. */
  async of(device: IndexDevice, reading?: IndexReading, now = Date.now()): Promise<Indices> {
    try {
      await this.ready(device, reading, now);
    } catch {
      // InfluxDB unreachable: answer from memory (the newest readings) rather than fail `latest`
    }
    return this.current(device, now) ?? (device.kind === 'air' ? { ispu: null } : device.kind === 'flood' ? { alertLevel: null } : { los: null });
  }

  /** Single readings and folded minutes held for an air device (memory follows these). */
  held(deviceId: string): { readings: number; minutes: number } {
    const state = this.air.get(deviceId);
    return { readings: state?.recent.size ?? 0, minutes: state?.folded.size ?? 0 };
  }

  forget(deviceId: string): void {
    this.air.delete(deviceId);
    this.traffic.delete(deviceId);
    this.trafficLoaded.delete(deviceId);
    this.newest.delete(deviceId);
  }

  private airState(deviceId: string): AirState {
    let state = this.air.get(deviceId);
    if (!state) {
      state = { stored: null, cut: -Infinity, loadedAt: 0, recent: new ColumnSeries(ISPU_POLLUTANTS), folded: new Map(), version: 0 };
      this.air.set(deviceId, state);
    }
    return state;
  }

  private ispuOf(state: AirState, now: number): TrailingIspu | null {
    const { to } = ispuWindow(now);
    if (state.cached && state.cached.version === state.version && state.cached.to === to) return state.cached.value;
    const minutes = new Map<number, MinuteSums>();
    for (const [minute, sums] of state.stored ?? []) {
      minutes.set(minute, Object.fromEntries(Object.entries(sums).map(([p, s]) => [p, { ...s }])) as MinuteSums);
    }
    for (const [minute, sums] of state.folded) {
      const into = minutes.get(minute) ?? {};
      for (const [p, s] of Object.entries(sums) as Array<[IspuPollutant, { sum: number; n: number }]>) {
        const acc = (into[p] ??= { sum: 0, n: 0 });
        acc.sum += s.sum;
        acc.n += s.n;
      }
      minutes.set(minute, into);
    }
    state.recent.forEach((ts, values) => addToMinutes(minutes, ts, values));
    const value = trailingIspu(minutes, now);
    state.cached = { version: state.version, to, value };
    return value;
  }

  private async queryMinutes(
    deviceId: string,
    now: number,
  ): Promise<{ minutes: Map<number, MinuteSums>; cut: number; readings: Map<number, Record<string, number>> }> {
    const { from, to } = ispuWindow(now);
    const cut = to - RECENT_MS;
    const select = ISPU_POLLUTANTS.flatMap((p) => [
      `sum(${quoteIdentifier(p)}) AS ${quoteIdentifier(`${p}_sum`)}`,
      `count(${quoteIdentifier(p)}) AS ${quoteIdentifier(`${p}_n`)}`,
    ]).join(', ');
    const [series, raw] = await Promise.all([
      this.influx.query(
        `SELECT ${select} FROM "air" WHERE "device_id" = $device AND time >= $from AND time < $cut GROUP BY time(1m) fill(none)`,
        { device: deviceId, from: iso(from), cut: iso(cut) },
      ),
      this.influx.query(
        `SELECT ${ISPU_POLLUTANTS.map(quoteIdentifier).join(', ')} FROM "air" WHERE "device_id" = $device AND time >= $cut`,
        { device: deviceId, cut: iso(cut) },
      ),
    ]);
    const minutes = new Map<number, MinuteSums>();
    const rows = series[0];
    if (rows) {
      const column = (name: string) => rows.columns.indexOf(name);
      for (const row of rows.values) {
        const sums: MinuteSums = {};
        for (const p of ISPU_POLLUTANTS) {
          const sum = row[column(`${p}_sum`)];
          const n = row[column(`${p}_n`)];
          if (typeof sum === 'number' && typeof n === 'number' && n > 0) sums[p as IspuPollutant] = { sum, n };
        }
        if (Object.keys(sums).length > 0) minutes.set(Math.floor(Number(row[0]) / MINUTE_MS), sums);
      }
    }
    const readings = new Map<number, Record<string, number>>();
    const recent = raw[0];
    for (const row of recent?.values ?? []) {
      const values: Record<string, number> = {};
      recent!.columns.forEach((c, i) => {
        if (i > 0 && typeof row[i] === 'number') values[c] = row[i] as number;
      });
      readings.set(Number(row[0]), values);
    }
    return { minutes, cut, readings };
  }

  private async loadTraffic(deviceId: string, now: number): Promise<void> {
    const series = await this.influx.query(
      `SELECT "vehicleCount", "intervalSeconds", "avgSpeed" FROM "traffic" WHERE "device_id" = $device AND time > $from AND time <= $to`,
      { device: deviceId, from: iso(now - LOS_WINDOW_MS), to: iso(now) },
    );
    const rows = series[0];
    const stored: IndexReading[] = (rows?.values ?? []).map((row) => {
      const values: Record<string, number> = {};
      rows!.columns.forEach((c, i) => {
        if (i > 0 && typeof row[i] === 'number') values[c] = row[i] as number;
      });
      return { deviceId, kind: 'traffic', ts: Number(row[0]), values };
    });
    this.onReadings(stored);
    this.trafficLoaded.add(deviceId);
  }
}

/** The fields of the `indices` measurement for a gauge without thresholds. */
export const NO_LEVEL_FIELDS = { alert_level: NO_FLOOD_LEVEL.level, alert_level_num: NO_FLOOD_LEVEL.num } as const;
