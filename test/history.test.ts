// History (docs/contract.md §9) against a real InfluxDB: rollups equal aggregates computed here from the raw points; late
// backlogs update their buckets; a restart (and a crash mid-recomputation) loses no rollup work; raw retention
// really expires raw points (influxd's own retention service) while a 1-year query is still answered from rollups;
// the readings API picks its source and agrees with raw; the CSV export streams in pages.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldNames, type Kind } from '../catalog/index.js';
import { planBackfill, runBackfill } from '../history/backfill.js';
import { RollupState } from '../history/dirty.js';
import { RollupJob } from '../history/job.js';
import { RollupComputer } from '../history/rollup.js';
import { influxQuery, startInfluxd, type InfluxServer } from './support/influxd.js';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';
import { createLogger } from '../platform/logger.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const WITA = 8 * HOUR; // Asia/Makassar, the default PANTAU_TIMEZONE: UTC+8 all year
const STATS = ['sum', 'count', 'min', 'max'] as const;

type Reading = { ts: number; values: Record<string, number> };
type Stats = Record<string, { sum: number; count: number; min: number; max: number }>;

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uneven readings: 0–6 per hour (some hours empty), each with a random subset of fields (never empty). */
function unevenReadings(kind: Kind, fromHour: number, hours: number, seed: number): Reading[] {
  const rand = rng(seed);
  const fields = fieldNames(kind).filter((f) => f !== 'intervalSeconds');
  const required = kind === 'air' ? 'pm25' : kind === 'flood' ? 'waterLevel' : 'avgSpeed';
  const out: Reading[] = [];
  for (let h = 0; h < hours; h++) {
    const n = Math.floor(rand() * 7);
    const used = new Set<number>();
    for (let i = 0; i < n; i++) {
      let ts = fromHour + h * HOUR + Math.floor(rand() * 3600) * 1000;
      while (used.has(ts)) ts += 1000;
      used.add(ts);
      const values: Record<string, number> = {};
      for (const f of fields) {
        if (f !== required && rand() < 0.4) continue;
        values[f] = f === 'rssi' ? -Math.round(rand() * 12000) / 100 : Math.round(rand() * 6000) / 100 + 0.1; // inside every field's range (temperature ≤ 70)
      }
      out.push({ ts, values });
    }
  }
  return out;
}

function bucketStats(readings: Reading[], bucketOf: (ts: number) => number): Map<number, Stats> {
  const out = new Map<number, Stats>();
  for (const r of readings) {
    const b = bucketOf(r.ts);
    let s = out.get(b);
    if (!s) out.set(b, (s = {}));
    for (const [f, v] of Object.entries(r.values)) {
      const x = s[f];
      if (!x) s[f] = { sum: v, count: 1, min: v, max: v };
      else {
        x.sum += v;
        x.count++;
        x.min = Math.min(x.min, v);
        x.max = Math.max(x.max, v);
      }
    }
  }
  return out;
}

const hourOf = (ts: number) => Math.floor(ts / HOUR) * HOUR;
const witaDayOf = (ts: number) => Math.floor((ts + WITA) / DAY) * DAY - WITA;

/** Where a platform's data is (the database named in its configuration, which a test may have chosen). */
type Target = { influxUrl: string; db: string };
const target = (tp: TestPlatform): Target => ({ influxUrl: tp.platform.config.influxUrl, db: tp.platform.config.influxDb });

async function rollupRows(tp: TestPlatform, kind: Kind, resolution: '1h' | '1d', deviceId: string): Promise<Map<number, Record<string, unknown>>> {
  const t = target(tp);
  const series = await influxQuery(t.influxUrl, t.db, `SELECT * FROM "pantau_rollup"."${kind}_${resolution}" WHERE "device_id" = $d`, { d: deviceId });
  const out = new Map<number, Record<string, unknown>>();
  const s = series[0];
  for (const row of s?.values ?? []) out.set(Number(row[0]), Object.fromEntries(s!.columns.map((c, i) => [c, row[i]])));
  return out;
}

/** Differences between expected stats and rollup rows (empty = equal). Sums to 1e-9 relative, the rest exact. */
function compare(kind: Kind, expected: Map<number, Stats>, actual: Map<number, Record<string, unknown>>): string[] {
  const problems: string[] = [];
  const keys = new Set([...expected.keys(), ...actual.keys()]);
  for (const t of keys) {
    const e = expected.get(t);
    const a = actual.get(t);
    const at = new Date(t).toISOString();
    if (!e || !a) {
      problems.push(`${at}: ${e ? 'missing rollup row' : 'unexpected rollup row'}`);
      continue;
    }
    for (const f of fieldNames(kind)) {
      for (const stat of STATS) {
        const want = e[f]?.[stat];
        const got = a[`${f}_${stat}`];
        if (want === undefined) {
          if (got !== null && got !== undefined) problems.push(`${at} ${f}_${stat}: expected no value, got ${String(got)}`);
        } else if (typeof got !== 'number' || Math.abs(got - want) > 1e-9 * Math.max(1, Math.abs(want))) {
          problems.push(`${at} ${f}_${stat}: expected ${want}, got ${String(got)}`);
        }
      }
    }
  }
  return problems;
}

async function rollupsMatch(tp: TestPlatform, kind: Kind, deviceId: string, readings: Reading[]): Promise<string[]> {
  const hours = compare(kind, bucketStats(readings, hourOf), await rollupRows(tp, kind, '1h', deviceId));
  const days = compare(kind, bucketStats(readings, witaDayOf), await rollupRows(tp, kind, '1d', deviceId));
  return [...hours.map((p) => `1h ${p}`), ...days.map((p) => `1d ${p}`)];
}

async function publishBacklog(tp: TestPlatform, device: { id: string; token: string; kind: Kind }, readings: Reading[]): Promise<void> {
  const client = await tp.connect(device.id, device.token);
  for (let i = 0; i < readings.length; i += 500) {
    const batch = readings.slice(i, i + 500).map((r) => ({ ts: r.ts, ...r.values }));
    await client.publishAsync(`sensors/${device.kind}/${device.id}/telemetry`, JSON.stringify(batch), { qos: 1 });
  }
  await client.endAsync();
}

async function writeRaw(url: string, db: string, kind: Kind, device: { id: string; city: string; district: string }, readings: Reading[]): Promise<void> {
  const esc = (v: string) => v.replace(/([ ,=])/g, '\\$1');
  for (let i = 0; i < readings.length; i += 5000) {
    const body = readings.slice(i, i + 5000).map((r) =>
      `${kind},city=${esc(device.city)},device_id=${device.id},district=${esc(device.district)} ${Object.entries(r.values).map(([f, v]) => `${f}=${v}`).join(',')} ${r.ts}`).join('\n');
    const res = await fetch(`${url}/write?db=${db}&precision=ms`, { method: 'POST', body });
    if (res.status !== 204) throw new Error(`write: ${res.status} ${await res.text()}`);
  }
}

function relClose(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

describe('rollups from the ingest log', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await startTestPlatform({ PANTAU_ROLLUP_DELAY: '2s' });
  });
  afterAll(async () => {
    await tp?.stop();
  });

  it('sets raw retention on the default policy and creates the rollup policy', async () => {
    await eventually(async () => {
      const s = await tp.query(`SHOW RETENTION POLICIES ON "${tp.db}"`);
      return s[0]!.values.some((r) => r[0] === 'pantau_rollup');
    });
    const after = (await tp.query(`SHOW RETENTION POLICIES ON "${tp.db}"`))[0]!.values;
    expect(after.find((r) => r[4] === true)?.[1]).toBe('2160h0m0s');
    expect(after.find((r) => r[0] === 'pantau_rollup')?.[1]).toBe('0s');
  });

  it('rolls up every field and stat of uneven hours exactly, and a late backlog updates its hourly and daily buckets', async () => {
    const air = await tp.register('air');
    const flood = await tp.register('flood');
    const traffic = await tp.register('traffic');
    const start = hourOf(Date.now() - 4 * DAY) - 5 * HOUR; // spans local midnights
    const first = {
      air: unevenReadings('air', start, 40, 1),
      flood: unevenReadings('flood', start, 40, 2),
      traffic: unevenReadings('traffic', start, 40, 3),
    };
    for (const [d, rs] of [[air, first.air], [flood, first.flood], [traffic, first.traffic]] as const) {
      expect(new Set([...bucketStats(rs, hourOf).values()].map((s) => Object.values(s)[0]!.count)).size).toBeGreaterThan(3);
      await publishBacklog(tp, d, rs);
    }
    for (const [d, rs] of [[air, first.air], [flood, first.flood], [traffic, first.traffic]] as const) {
      await eventually(async () => (await rollupsMatch(tp, d.kind, d.id, rs)).length === 0, 30_000, 250)
        .catch(async (err) => {
          throw new Error(`${d.kind}: ${(await rollupsMatch(tp, d.kind, d.id, rs)).slice(0, 5).join('; ')} (${(err as Error).message})`);
        });
    }
    // a gateway backlog of late readings into hours (and days) that already have rollups, plus earlier hours
    const late = unevenReadings('flood', start - 10 * HOUR, 30, 4).filter((r) => !first.flood.some((x) => x.ts === r.ts));
    expect(late.length).toBeGreaterThan(20);
    const before = await rollupRows(tp, 'flood', '1h', flood.id);
    await publishBacklog(tp, flood, late);
    const all = [...first.flood, ...late];
    await eventually(async () => (await rollupsMatch(tp, 'flood', flood.id, all)).length === 0, 30_000, 250);
    const after = await rollupRows(tp, 'flood', '1h', flood.id);
    const changed = [...after.keys()].filter((t) => before.has(t) && before.get(t)!.waterLevel_count !== after.get(t)!.waterLevel_count);
    expect(changed.length).toBeGreaterThan(0);
    expect(after.size).toBeGreaterThan(before.size);
    // nothing left waiting, and the lag metric is exposed
    await eventually(() => tp.platform.history.state.pending() === 0, 20_000, 100);
    const metrics = await (await fetch(`${tp.platform.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^pantau_rollup_lag_seconds 0$/m);
  }, 240_000);
});

describe('a restart loses no rollup work', () => {
  it('buckets marked before a stop, and a crash in the middle of a recomputation, are all recomputed after the restart', async () => {
    const first = await startTestPlatform({ PANTAU_ROLLUP_DELAY: '10m' });
    const { db, dataDir } = first;
    const device = await first.register('flood');
    const readings = unevenReadings('flood', hourOf(Date.now() - 3 * DAY), 50, 7);
    await publishBacklog(first, device, readings);
    await first.drained();
    await eventually(() => first.platform.history.state.pending() > 10); // marks are written within 50 ms
    expect((await rollupRows(first, 'flood', '1h', device.id)).size).toBe(0);
    await first.platform.stop();

    // a job that dies after its first write, before it records anything as done
    const state = new RollupState(dataDir);
    const real = new RollupComputer({ influx: first.platform.influx, rollupRp: 'pantau_rollup', timezone: 'Asia/Makassar' });
    let calls = 0;
    const crashing = {
      async hours(kind: Kind, from: number, to: number, d?: string) {
        if (++calls > 1) throw new Error('killed mid-recomputation');
        return real.hours(kind, from, to, d);
      },
      days: () => Promise.reject(new Error('killed mid-recomputation')),
    } as unknown as RollupComputer;
    const job = new RollupJob({ state, computer: crashing, position: { durableEnd: () => Number.MAX_SAFE_INTEGER, writtenEnd: () => Number.MAX_SAFE_INTEGER }, delayMs: 2000, timezone: 'Asia/Makassar', log: createLogger('silent') });
    const pendingBefore = state.pending();
    expect(await job.runOnce(true)).toBe(0);
    expect(calls).toBeGreaterThan(0);
    expect(state.pending()).toBe(pendingBefore);
    state.close();

    const second = await startTestPlatform({ PANTAU_ROLLUP_DELAY: '2s', PANTAU_DATA_DIR: dataDir, PANTAU_INFLUX_DB: db });
    try {
      await eventually(async () => (await rollupsMatch(second, 'flood', device.id, readings)).length === 0, 30_000, 250);
      await eventually(() => second.platform.history.state.pending() === 0, 20_000, 100);
    } finally {
      await second.stop();
    }
  }, 240_000);
});

describe('source selection and the CSV export', () => {
  let tp: TestPlatform;
  const step = 10 * 60_000;
  const now = Date.now();
  const end = hourOf(now) - 2 * HOUR;
  const begin = witaDayOf(end - 30 * DAY);
  const devices: Array<{ id: string; city: string; district: string; readings: Reading[] }> = [];

  beforeAll(async () => {
    tp = await startTestPlatform({ PANTAU_ROLLUP_DELAY: '2s' });
    await tp.platform.history.retentionReady;
    for (let i = 0; i < 4; i++) {
      const city = i < 3 ? 'Bontang' : 'Samarinda';
      const d = await tp.register('flood', undefined, { city, district: 'Bontang Utara' });
      const rand = rng(100 + i);
      const readings: Reading[] = [];
      for (let ts = begin; ts < end; ts += step) {
        const values: Record<string, number> = { waterLevel: Math.round(rand() * 80000) / 100 + 100 };
        if (rand() < 0.5) values.rainfall = Math.round(rand() * 5000) / 100;
        readings.push({ ts: ts + Math.floor(rand() * 500) * 1000, values });
      }
      await writeRaw(tp.influxUrl, tp.db, 'flood', { id: d.id, city, district: 'Bontang Utara' }, readings);
      devices.push({ id: d.id, city, district: 'Bontang Utara', readings });
    }
    const h = tp.platform.history;
    const { plan } = planBackfill(h.state, begin, now, 'Asia/Makassar');
    await runBackfill({ computer: h.computer, state: h.state, timezone: 'Asia/Makassar', plan });
  }, 120_000);
  afterAll(async () => {
    await tp?.stop();
  });

  async function rawAnswer(deviceId: string, agg: string, from: number, to: number, every: string): Promise<Map<number, number>> {
    const tz = every.endsWith('d') ? " tz('Asia/Makassar')" : '';
    const s = await tp.query(`SELECT ${agg}("waterLevel") FROM "flood" WHERE "device_id" = $d AND time >= $f AND time < $t GROUP BY time(${every}) fill(none)${tz}`,
      { d: deviceId, f: new Date(from).toISOString(), t: new Date(to).toISOString() });
    return new Map((s[0]?.values ?? []).map((r) => [Number(r[0]), Number(r[1])]));
  }

  async function apiAnswer(deviceId: string, query: string) {
    const res = await tp.api('GET', `/api/v1/devices/${deviceId}/readings?fields=waterLevel&${query}`);
    expect(res.status, res.text).toBe(200);
    return res.body as { source: string; points: Array<{ ts: string; values: { waterLevel?: number } }> };
  }

  it('backfilled rollups equal aggregates of the raw points', async () => {
    const d = devices[0]!;
    expect(await rollupsMatch(tp, 'flood', d.id, d.readings)).toEqual([]);
  });

  it('reads rollups for whole hours and days, raw otherwise, and agrees with raw to 1e-9', async () => {
    const d = devices[1]!;
    const cases: Array<{ from: number; to: number; every: string; agg: string; source: string }> = [
      { from: end - 5 * DAY, to: end - DAY, every: '1h', agg: 'mean', source: '1h' },
      { from: end - 5 * DAY + 17 * 60_000, to: end - DAY - 7 * 60_000, every: '1h', agg: 'mean', source: '1h' }, // partial edges from raw
      { from: end - 5 * DAY, to: end - DAY, every: '3h', agg: 'sum', source: '1h' },
      { from: end - 5 * DAY, to: end, every: '1h', agg: 'count', source: '1h' },
      { from: end - 5 * DAY, to: end, every: '1h', agg: 'min', source: '1h' },
      { from: end - 5 * DAY, to: end, every: '1h', agg: 'max', source: '1h' },
      { from: begin + DAY, to: end, every: '1d', agg: 'mean', source: '1d' },
      { from: end - 5 * DAY, to: end, every: '30m', agg: 'mean', source: 'raw' },
      { from: end - 5 * DAY, to: end, every: '1h', agg: 'median', source: 'raw' },
      { from: end - 2 * HOUR, to: end, every: '1h', agg: 'mean', source: 'raw' },
    ];
    for (const c of cases) {
      const body = await apiAnswer(d.id, `from=${new Date(c.from).toISOString()}&to=${new Date(c.to).toISOString()}&every=${c.every}&agg=${c.agg}`);
      expect(body.source, JSON.stringify(c)).toBe(c.source);
      const raw = await rawAnswer(d.id, c.agg, c.from, c.to, c.every);
      expect(body.points.length, JSON.stringify(c)).toBe(raw.size);
      expect(raw.size).toBeGreaterThan(0);
      for (const p of body.points) {
        const want = raw.get(Date.parse(p.ts));
        expect(want, `${JSON.stringify(c)} ${p.ts}`).toBeDefined();
        expect(relClose(p.values.waterLevel!, want!), `${JSON.stringify(c)} ${p.ts}: ${p.values.waterLevel} vs ${want}`).toBe(true);
      }
    }
  });

  it('streams CSV of 3 devices × 30 days in pages, with a file name', async () => {
    const influx = tp.platform.influx;
    // every request to InfluxDB (query() is one statement through queryEach)
    const realQuery = influx.queryEach.bind(influx);
    let queries = 0;
    influx.queryEach = (q, p) => {
      queries++;
      return realQuery(q, p);
    };
    const from = new Date(begin).toISOString();
    const to = new Date(end).toISOString();
    const res = await fetch(`${tp.platform.httpUrl}/api/v1/export?kind=flood&city=Bontang&from=${from}&to=${to}&every=1h`, { headers: { authorization: 'Bearer test-admin-key-0123456789' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="pantau_flood_bontang_[0-9t]+_[0-9t]+_1h_mean\.csv"$/);
    expect(res.headers.get('content-length')).toBeNull();
    let chunks = 0;
    let text = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      chunks++;
      text += decoder.decode(chunk, { stream: true });
    }
    influx.queryEach = realQuery;
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe('device_id,city,district,ts,waterLevel,rainfall,flowRate,battery,rssi');
    const bontang = devices.filter((d) => d.city === 'Bontang');
    const hours = (end - begin) / HOUR;
    expect(lines.length - 1).toBe(3 * hours);
    // 720 windows per device in pages of 500: at least two pages (queries) per device
    expect(queries).toBeGreaterThanOrEqual(6);
    expect(chunks).toBeGreaterThan(1);
    for (const d of bontang) {
      const rows = lines.filter((l) => l.startsWith(`${d.id},`));
      expect(rows.length).toBe(hours);
      const expected = bucketStats(d.readings, hourOf);
      for (const row of rows) {
        const [, city, district, ts, water, rain, flow] = row.split(',');
        expect(city).toBe('Bontang');
        expect(district).toBe('Bontang Utara');
        const s = expected.get(Date.parse(ts!))!;
        expect(relClose(Number(water), s.waterLevel!.sum / s.waterLevel!.count)).toBe(true);
        if (s.rainfall) expect(relClose(Number(rain), s.rainfall.sum / s.rainfall.count)).toBe(true);
        else expect(rain).toBe('');
        expect(flow).toBe('');
      }
    }
    expect(text).not.toContain(devices[3]!.id);
  });

  it('refuses an export without kind or every, or with every below 1h', async () => {
    expect((await tp.api('GET', '/api/v1/export?every=1h')).status).toBe(400);
    expect((await tp.api('GET', '/api/v1/export?kind=flood')).status).toBe(400);
    const r = await tp.api('GET', '/api/v1/export?kind=flood&every=5m');
    expect(r.status).toBe(400);
    expect(r.body.detail).toMatch(/^every:/);
  });
});

describe('raw retention expires raw points; rollups still answer a year', () => {
  let influx: InfluxServer;
  beforeAll(async () => {
    // influxd's retention service runs every second here instead of every 30 minutes
    influx = await startInfluxd({ retentionCheckInterval: '1s' });
  });
  afterAll(async () => {
    await influx?.stop();
  });

  it('a 1-year daily query is answered from rollups after influxd has deleted the raw points', async () => {
    const first = await startTestPlatform({ PANTAU_INFLUX_URL: influx.url, PANTAU_RAW_RETENTION: 'inf', PANTAU_ROLLUP_DELAY: '2s' });
    const { db, dataDir } = first;
    const device = await first.register('flood', undefined, { city: 'Samarinda', district: 'Sungai Pinang' });
    const now = Date.now();
    const from = witaDayOf(now - 380 * DAY);
    const to = witaDayOf(now - 15 * DAY);
    const rand = rng(42);
    const readings: Reading[] = [];
    for (let ts = from; ts < to; ts += 30 * 60_000) readings.push({ ts, values: { waterLevel: Math.round(rand() * 100000) / 100, rainfall: Math.round(rand() * 3000) / 100 } });
    await first.platform.history.retentionReady;
    await writeRaw(influx.url, db, 'flood', { id: device.id, city: 'Samarinda', district: 'Sungai Pinang' }, readings);

    // backfill with the command operators run, into the platform's own data dir
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'platform/rollups-cli.ts', '--from', new Date(from).toISOString()], {
        env: { ...process.env, PANTAU_INFLUX_URL: influx.url, PANTAU_INFLUX_DB: db, PANTAU_DATA_DIR: dataDir, PANTAU_RAW_RETENTION: 'inf' },
      });
      let text = '';
      child.stdout.on('data', (c: Buffer) => (text += c.toString()));
      child.stderr.on('data', (c: Buffer) => (text += c.toString()));
      child.on('exit', (code) => resolve({ code, text }));
    });
    expect(out.code, out.text).toBe(0);
    expect(out.text).toMatch(/\[#{30}\] 100%/);
    expect(out.text).toMatch(/done: 17,\d{3} readings rolled up/);
    expect(await rollupsMatch(first, 'flood', device.id, readings)).toEqual([]);

    const yearQuery = `/api/v1/devices/${device.id}/readings?from=-400d&every=1d&agg=mean&fields=waterLevel`;
    const before = await first.api('GET', yearQuery);
    expect(before.status).toBe(200);
    expect(before.body.source).toBe('1d');
    expect(before.body.points.length).toBe(Math.round((to - from) / DAY));
    await first.platform.stop();

    // the same database, now with raw readings kept 1 hour: influxd deletes every shard group older than that
    const second = await startTestPlatform({ PANTAU_INFLUX_URL: influx.url, PANTAU_INFLUX_DB: db, PANTAU_DATA_DIR: dataDir, PANTAU_RAW_RETENTION: '1h' });
    try {
      await second.platform.history.retentionReady;
      const rp = (await influxQuery(influx.url, db, `SHOW RETENTION POLICIES ON "${db}"`))[0]!.values.find((r) => r[4] === true)!;
      expect(rp[1]).toBe('1h0m0s');
      await eventually(async () => {
        const s = await influxQuery(influx.url, db, 'SELECT count("waterLevel") FROM "flood"');
        return (s[0]?.values[0]?.[1] ?? 0) === 0;
      }, 60_000, 500);

      const after = await second.api('GET', yearQuery);
      expect(after.status).toBe(200);
      expect(after.body.source).toBe('1d');
      expect(after.body.points).toEqual(before.body.points);
      const expected = bucketStats(readings, witaDayOf);
      for (const p of after.body.points as Array<{ ts: string; values: { waterLevel: number } }>) {
        const s = expected.get(Date.parse(p.ts))!.waterLevel!;
        expect(relClose(p.values.waterLevel, s.sum / s.count)).toBe(true);
      }
      const median = await second.api('GET', `/api/v1/devices/${device.id}/readings?from=-400d&every=1d&agg=median`);
      expect(median.status).toBe(400);
      expect(median.body.detail).toMatch(/^agg: median/);
      const raw = await second.api('GET', `/api/v1/devices/${device.id}/readings?from=-400d&to=-300d`);
      expect(raw.status).toBe(200);
      expect(raw.body.points).toEqual([]);
    } finally {
      await second.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 240_000);
});
