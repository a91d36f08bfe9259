// The readings API keeps stored rollup rows (history/row-cache.ts) and the raw points of past hours at an answer's
// ends (history/raw-hours.ts) in memory, and must still answer exactly what InfluxDB's raw points say: while a late
// reading waits for its hour's recomputation, after a late reading changes a past hour and day (the rollup job
// recomputes them), and after a backfill run by another process (as `npm run rollups` is) rebuilds past buckets from
// corrected raw points.
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
  let statements = 0;
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
    // every request to InfluxDB goes through queryEach (query() included): statements reading rollup rows counted.
    // The public page's snapshot reads every public gauge's last 24 h once a minute (`now() - 24h`), this device's
    // too, whenever its minute comes: not the answers', so not counted
    const realQuery = influx.queryEach.bind(influx);
    influx.queryEach = (list, p) => {
      const answers = list.filter((q) => !q.includes('now()'));
      rollupQueries += answers.filter((q) => q.includes('"pantau_rollup"')).length;
      statements += answers.length;
      return realQuery(list, p);
    };
  }, 120_000);
  afterAll(async () => {
    await tp?.stop();
  });

  it('a second long-range query asks InfluxDB nothing and gives the same answer, hourly and daily', async () => {
    const from = begin + HOUR + 17 * 60_000;
    const to = end - HOUR - 7 * 60_000;
    const first = await both('1h', from, to);
    expect(first.source).toBe('1h');
    expect(first.api.size).toBeGreaterThan(100);
    expect(differences(first.api, first.raw)).toEqual([]);
    const before = rollupQueries;
    const asked = statements;
    // another `from` and `to` in the same hours (to the millisecond, as every request here): the stored rows and the
    // raw points of the first and last partial hours come from memory
    const second = await both('1h', from + 1000, to - 1000);
    expect(rollupQueries).toBe(before);
    expect(statements - asked).toBe(0); // both()'s own raw query goes by another client
    expect(differences(second.api, second.raw)).toEqual([]);
    expect([...second.api.keys()]).toEqual([...first.api.keys()]);
    // each says where its time went: the first waited for InfluxDB, the second did not
    for (const t of [first.timing, second.timing]) {
      expect(Object.keys(t)).toEqual(['influx', 'total']);
      expect(t.total).toBeGreaterThanOrEqual(t.influx!);
    }
    expect(first.timing.influx).toBeGreaterThan(0);
    expect(second.timing.influx).toBe(0);
    // a daily answer: the whole hours of its partial first and last days from the hourly rows in memory too
    const dayFrom = begin + DAY + 5 * HOUR + 11 * 60_000;
    const days = await both('1d', dayFrom, to);
    expect(days.source).toBe('1d');
    expect(differences(days.api, days.raw)).toEqual([]);
    const dailyAsked = statements;
    const again = await both('1d', dayFrom + 1000, to);
    expect(statements - dailyAsked).toBe(0);
    expect(differences(again.api, again.raw)).toEqual([]);
    expect(again.timing.influx).toBe(0);
    // a first partial day of one whole hour and a part of the hour before it (local midnight is 16:00 UTC): both
    // from memory the second time, whatever the hour the suite runs at
    const midnight = Math.ceil((begin + 2 * DAY - 16 * HOUR) / DAY) * DAY + 16 * HOUR;
    const shortDay = await both('1d', midnight - HOUR - 49 * 60_000, to);
    expect(shortDay.source).toBe('1d');
    expect(differences(shortDay.api, shortDay.raw)).toEqual([]);
    const shortAsked = statements;
    const shortAgain = await both('1d', midnight - HOUR - 49 * 60_000 + 1000, to);
    expect(statements - shortAsked).toBe(0);
    expect(differences(shortAgain.api, shortAgain.raw)).toEqual([]);
    expect(shortAgain.timing.influx).toBe(0);
  });

  it('an hour waiting for its recomputation is read from InfluxDB, and read afresh once recomputed', { timeout: 60_000 }, async () => {
    const hour = begin + 4 * DAY + 7 * HOUR;
    const from = hour + 20 * 60_000;
    const to = end - 2 * HOUR;
    const first = await both('1h', from, to);
    expect(differences(first.api, first.raw)).toEqual([]);
    const asked = statements;
    await both('1h', from, to);
    expect(statements - asked).toBe(0); // the partial first hour is in memory now
    // a reading for that hour reaches InfluxDB and the hour is marked for recomputation, as a late reading through
    // the log does; the job is kept from recomputing it for now (it waits until `since`)
    const h = tp.platform.history;
    await writePoints(hour + 55 * 60_000, hour + 56 * 60_000, () => 7000);
    h.state.markDirty([{ kind: 'flood', deviceId: device.id, hour, since: Date.now() + DAY, logEnd: 0 }]);
    const pending = await both('1h', from, to);
    expect(pending.api.get(hour)).toBeGreaterThan(first.api.get(hour)! + 100);
    expect(differences(pending.api, pending.raw)).toEqual([]);
    // now due: the job recomputes the hour (and its day); the hour's raw points are read again, and kept again
    h.state.markDirty([{ kind: 'flood', deviceId: device.id, hour, since: Date.now() - DAY, logEnd: 0 }]);
    await eventually(async () => h.state.pending() === 0, 30_000, 100);
    const after = await both('1h', from, to);
    expect(differences(after.api, after.raw)).toEqual([]);
    expect(after.api.get(hour)).toBeCloseTo(pending.api.get(hour)!, 9);
    const reread = statements;
    await both('1h', from, to);
    expect(statements - reread).toBe(0);
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
    // an answer whose partial first hour lies in that day: its raw points are in memory now
    const edgeFrom = day + 3 * HOUR + 25 * 60_000;
    const edgeBefore = await both('1h', edgeFrom, end);
    expect(differences(edgeBefore.api, edgeBefore.raw)).toEqual([]);
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
    const edge = await both('1h', edgeFrom, end);
    expect(differences(edge.api, edge.raw)).toEqual([]);
    // the corrected points (at :05, :15, … beside the old ones) are in the partial first hour
    expect(edge.api.get(hourOf(edgeFrom))).toBeGreaterThan(edgeBefore.api.get(hourOf(edgeFrom))! + 1000);
  }, 60_000);

  it('an hour of more than 3,600 points is not kept: its partial window is asked of InfluxDB as statistics, each time, and is right', async () => {
    const hour = begin + 5 * DAY + 9 * HOUR;
    // a device publishing every 0.9 s for the hour: 4,000 points, beside the 6 it had
    const lines: string[] = [];
    for (let n = 0; n < 4000; n++) lines.push(`flood,city=Bontang,device_id=${device.id},district=Bontang\\ Utara waterLevel=${200 + (n % 50)} ${hour + 1 + n * 900}`);
    const res = await fetch(`${tp.influxUrl}/write?db=${tp.db}&precision=ms`, { method: 'POST', body: lines.join('\n') });
    expect(res.status).toBe(204);
    const h = tp.platform.history;
    h.state.markDirty([{ kind: 'flood', deviceId: device.id, hour, since: Date.now() - DAY, logEnd: 0 }]);
    await eventually(async () => h.state.pending() === 0, 30_000, 100);
    const from = hour + 20 * 60_000;
    const to = end - 2 * HOUR;
    const seen: string[][] = [];
    const influx = tp.platform.influx;
    const counted = influx.queryEach;
    influx.queryEach = (list, p) => {
      seen.push(list);
      return counted(list, p);
    };
    try {
      const first = await both('1h', from, to);
      expect(first.source).toBe('1h');
      expect(differences(first.api, first.raw)).toEqual([]);
      expect(first.api.get(hour)).toBeGreaterThan(200);
      // asked whole once (one point more than may be kept), found too large, then asked as statistics of the window
      expect(seen.flat().some((q) => q.includes(`LIMIT 3601`))).toBe(true);
      const statistics = (list: string[]) => list.filter((q) => q.includes('sum("waterLevel")') && q.includes('GROUP BY time(1h)'));
      expect(statistics(seen.flat())).toHaveLength(1);
      seen.length = 0;
      // not kept: the next answer in that hour asks InfluxDB for its statistics again, and nothing for the whole hour
      const second = await both('1h', from + 1000, to);
      expect(differences(second.api, second.raw)).toEqual([]);
      expect(statistics(seen.flat())).toHaveLength(1);
      expect(seen.flat().some((q) => q.includes('LIMIT'))).toBe(false);
    } finally {
      influx.queryEach = counted;
    }
  }, 60_000);
});
