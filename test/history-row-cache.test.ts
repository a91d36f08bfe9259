// The readings API keeps stored rollup rows in memory (history/row-cache.ts) and must still answer exactly what
// InfluxDB's raw points say: after a late reading changes a past hour and day (the rollup job recomputes them), and
// after a backfill run by another process (as `npm run rollups` is) rebuilds past buckets from corrected raw points.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planBackfill, runBackfill } from '../history/backfill.js';
import { RollupState } from '../history/dirty.js';
import { RollupComputer } from '../history/rollup.js';
import { eventually, startTestPlatform, type TestPlatform } from './support/platform.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const ZONE = 'Asia/Makassar';
const hourOf = (ts: number) => Math.floor(ts / HOUR) * HOUR;

describe('answers from cached rollup rows follow every recomputation', () => {
  let tp: TestPlatform;
  let device: { id: string; token: string };
  const end = hourOf(Date.now()) - 3 * HOUR;
  const begin = end - 6 * DAY;
  let rollupQueries = 0;
  let unique = 0;

  /** One point every 10 minutes, written straight to InfluxDB (as an import would). */
  async function writePoints(from: number, to: number, value: (ts: number) => number): Promise<void> {
    const lines: string[] = [];
    for (let ts = from; ts < to; ts += 600_000) lines.push(`flood,city=Bontang,device_id=${device.id},district=Bontang\\ Utara waterLevel=${value(ts)} ${ts}`);
    const res = await fetch(`${tp.influxUrl}/write?db=${tp.db}&precision=ms`, { method: 'POST', body: lines.join('\n') });
    expect(res.status).toBe(204);
  }

  /** The API's answer and the same windows straight from raw points: [api, raw] as ts → mean. */
  async function both(every: '1h' | '1d', from: number, to: number): Promise<{ source: string; api: Map<number, number>; raw: Map<number, number>; timing: Record<string, number> }> {
    const f = new Date(from + ++unique).toISOString(); // never the API's one-second answer cache
    const t = new Date(to).toISOString();
    const res = await tp.api('GET', `/api/v1/devices/${device.id}/readings?fields=waterLevel&from=${f}&to=${t}&every=${every}&agg=mean`);
    expect(res.status, res.text).toBe(200);
    const body = res.body as { source: string; points: Array<{ ts: string; values: { waterLevel: number } }> };
    const tz = every === '1d' ? ` tz('${ZONE}')` : '';
    const s = await tp.query(`SELECT mean("waterLevel") FROM "flood" WHERE "device_id" = $d AND time >= $f AND time < $t GROUP BY time(${every}) fill(none)${tz}`, { d: device.id, f, t });
    // Server-Timing: `influx;dur=12.3;desc="InfluxDB", total;dur=45.6`
    const timing = Object.fromEntries((res.headers.get('server-timing') ?? '').split(', ').map((m) => [m.split(';')[0], Number(/;dur=([\d.]+)/.exec(m)?.[1])]));
    return {
      timing,
      source: body.source,
      api: new Map(body.points.map((p) => [Date.parse(p.ts), p.values.waterLevel])),
      raw: new Map((s[0]?.values ?? []).map((r) => [Number(r[0]), Number(r[1])])),
    };
  }

  function differences(a: Map<number, number>, b: Map<number, number>): string[] {
    const out: string[] = [];
    for (const t of new Set([...a.keys(), ...b.keys()])) {
      const x = a.get(t);
      const y = b.get(t);
      if (x === undefined || y === undefined || Math.abs(x - y) > 1e-9 * Math.max(1, Math.abs(x), Math.abs(y))) out.push(`${new Date(t).toISOString()}: api ${x} raw ${y}`);
    }
    return out;
  }

  beforeAll(async () => {
    tp = await startTestPlatform({ PANTAU_ROLLUP_DELAY: '2s' });
    await tp.platform.history.retentionReady;
    device = await tp.register('flood', undefined, { city: 'Bontang', district: 'Bontang Utara' });
    await writePoints(begin, end, (ts) => 100 + ((ts / 600_000) % 97));
    const h = tp.platform.history;
    const { plan } = planBackfill(h.state, begin, Date.now(), ZONE);
    await runBackfill({ computer: h.computer, state: h.state, timezone: ZONE, plan });
    const influx = tp.platform.influx;
    // every request to InfluxDB goes through queryEach (query() included): statements reading rollup rows counted
    const realQuery = influx.queryEach.bind(influx);
    influx.queryEach = (statements, p) => {
      rollupQueries += statements.filter((q) => q.includes('"pantau_rollup"')).length;
      return realQuery(statements, p);
    };
  }, 120_000);
  afterAll(async () => {
    await tp?.stop();
  });

  it('a second long-range query reads no rollup rows from InfluxDB and gives the same answer', async () => {
    const from = begin + HOUR + 17 * 60_000;
    const to = end - HOUR - 7 * 60_000;
    const first = await both('1h', from, to);
    expect(first.source).toBe('1h');
    expect(first.api.size).toBeGreaterThan(100);
    expect(differences(first.api, first.raw)).toEqual([]);
    const before = rollupQueries;
    const second = await both('1h', from, to);
    expect(rollupQueries).toBe(before);
    expect(second.api).toEqual(first.api);
    // each says where its time went: both waited for InfluxDB (the raw partial hours at the ends), within the whole
    for (const t of [first.timing, second.timing]) {
      expect(Object.keys(t)).toEqual(['influx', 'total']);
      expect(t.influx).toBeGreaterThan(0);
      expect(t.total).toBeGreaterThanOrEqual(t.influx!);
    }
  });

  it('a late reading into a past hour changes the cached hour and day once the rollup job has recomputed them', async () => {
    const late = begin + 2 * DAY + 5 * HOUR + 30 * 60_000 + 1000;
    const hourFrom = begin + 3 * 60_000;
    const dayFrom = begin + DAY;
    const hoursBefore = await both('1h', hourFrom, end);
    const daysBefore = await both('1d', dayFrom, end);
    expect(daysBefore.source).toBe('1d');
    expect(differences(daysBefore.api, daysBefore.raw)).toEqual([]);
    const client = await tp.connect(device.id, device.token);
    await client.publishAsync(`sensors/flood/${device.id}/telemetry`, JSON.stringify([{ ts: late, waterLevel: 9000 }]), { qos: 1 });
    await client.endAsync();
    await tp.drained();
    // while the hour waits for its recomputation it is read from raw points; after it, from the rollups again
    const was = hoursBefore.api.get(hourOf(late))!;
    await eventually(async () => tp.platform.history.state.pending() === 0 && (await both('1h', hourFrom, end)).api.get(hourOf(late))! > was, 30_000, 200);
    const hours = await both('1h', hourFrom, end);
    const days = await both('1d', dayFrom, end);
    expect([hours.source, days.source]).toEqual(['1h', '1d']);
    expect(differences(hours.api, hours.raw)).toEqual([]);
    expect(differences(days.api, days.raw)).toEqual([]);
    expect(differences(days.api, daysBefore.api).length).toBe(1);
  }, 60_000);

  it('a backfill by another process over corrected raw points is seen at once', async () => {
    const dayFrom = begin + DAY;
    const before = await both('1d', dayFrom, end);
    expect(differences(before.api, before.raw)).toEqual([]);
    // corrected points for a past day, written straight to InfluxDB: no reading of the log marks anything dirty
    const day = [...before.api.keys()].sort((a, b) => a - b)[2]!;
    await writePoints(day + 5 * 60_000, day + DAY, () => 5000);
    const stale = await both('1d', dayFrom, end);
    expect(differences(stale.api, stale.raw).length).toBe(1); // the stored bucket is not rebuilt yet
    // `npm run rollups` over that day: its own connection to rollups.sqlite, its own computer
    const state = new RollupState(tp.dataDir);
    try {
      const computer = new RollupComputer({ influx: tp.platform.influx, rollupRp: 'pantau_rollup', timezone: ZONE });
      const { plan } = planBackfill(state, day, day + DAY, ZONE);
      await runBackfill({ computer, state, timezone: ZONE, plan });
    } finally {
      state.close();
    }
    const after = await both('1d', dayFrom, end);
    expect(after.source).toBe('1d');
    expect(differences(after.api, after.raw)).toEqual([]);
    const hours = await both('1h', day, day + DAY);
    expect(differences(hours.api, hours.raw)).toEqual([]);
  }, 60_000);
});
