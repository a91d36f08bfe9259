// `history`: years of data. 20 devices × 1 year at one reading a minute (about 10.5 M readings) written straight to
// InfluxDB as the platform writes them, rolled up by the backfill (the code `npm run rollups` runs), then the
// long-range queries through the API of a running platform, each measured in 3 rounds (median of the 3 rounds'
// p99, with min–max):
//   - one device, one year, daily means (target p99 < 50 ms, and ≥ 20× faster than the same query on raw points,
//     which is run straight against InfluxDB — without the API's overhead, in raw's favour);
//   - one device, one year, hourly means (8,760 windows; p99 < 200 ms);
//   - all 20 devices of a city, 30 days hourly (20 requests at once, time until the last answer; p99 < 300 ms),
//     twice: with every hour settled (its last partial hour's raw points come from the platform's memory after the
//     first read), and with its last hour still being written (marked pending in rollups.sqlite before the platform
//     starts, as a reading coming in makes it; that hour is read from InfluxDB on every request, as on a live
//     dashboard);
// and the backfill's throughput and the disk used per device-year, raw vs rollups. Every request has its own
// from/to (to the millisecond, not on bucket boundaries), so no answer comes from the API's one-second cache and
// the partial first and last windows are read from raw points, as a real `from=-365d` is. The stored rollup rows
// come from the platform's row cache once a device's rows have been read (the first round holds the first read of
// every device); where the time goes is shown by the same year of hourly rollup rows read straight from InfluxDB.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fieldNames, type Kind } from '../../catalog/index.js';
import { planBackfill, runBackfill } from '../../history/backfill.js';
import { RollupState } from '../../history/dirty.js';
import { RollupComputer, tzClause } from '../../history/rollup.js';
import { ensureRetention } from '../../history/schema.js';
import { dayStart, DAY_MS, HOUR_MS } from '../../catalog/time.js';
import { InfluxClient } from '../../influx/client.js';
import { line, seriesKey } from '../../influx/line-protocol.js';
import { startInfluxd } from '../../test/support/influxd.js';
import type { BenchContext } from '../context.js';
import { makeFleet, readingValues, writeFleetFile, type BenchDevice } from '../fleet.js';
import { startBenchPlatform } from '../platform-process.js';
import { CpuMeter, waitForQuiet } from '../proc-stats.js';
import type { ScenarioResult, Target } from '../result.js';
import { round, type Scenario } from './scenario.js';

const DEVICES = 20;
const STEP_MS = 60_000;
const ZONE = 'Asia/Makassar';
const ROUNDS = 3;

interface Round {
  p50: number;
  p99: number;
  max: number;
  /** Requests that failed (non-200, wrong source, no points); their times are not in the percentiles. */
  errors: number;
  /** The slowest request: its index in the round and what it asked. */
  slowest?: { k: number; ms: number; what: string };
}

function percentile(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

/** Median of the rounds' p99 with min–max, and the median p50. */
function summary(rounds: Round[]): { p99: number; p99Min: number; p99Max: number; p50: number; errors: number; rounds: Round[] } {
  const errors = rounds.reduce((n, r) => n + r.errors, 0);
  const p99s = rounds.map((r) => r.p99).sort((a, b) => a - b);
  const p50s = rounds.map((r) => r.p50).sort((a, b) => a - b);
  return { p99: p99s[Math.floor(p99s.length / 2)]!, p99Min: p99s[0]!, p99Max: p99s[p99s.length - 1]!, p50: p50s[Math.floor(p50s.length / 2)]!, errors, rounds };
}

const fmt = (s: ReturnType<typeof summary>) => `p99 ${round(s.p99, 1)} ms (median of ${ROUNDS} rounds, ${round(s.p99Min, 1)}–${round(s.p99Max, 1)}), p50 ${round(s.p50, 1)} ms${s.errors ? `, ${s.errors} failed requests` : ''}`;

function du(path: string): number {
  try {
    return Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);
  } catch {
    return 0;
  }
}

export const history: Scenario = {
  name: 'history',
  title: '20 devices × 1 year at 1/min: backfill, long-range queries from rollups vs raw, disk per device-year',
  async run(ctx: BenchContext) {
    const log = (m: string) => ctx.log(`[history] ${m}`);
    const backgroundCores = await waitForQuiet(90_000, log);
    log(`background load before the run: ${backgroundCores.toFixed(2)} cores`);
    const influxd = await startInfluxd();
    const db = 'bench_history';
    const dataDir = mkdtempSync(join(tmpdir(), 'pantau-bench-history-'));
    const influx = new InfluxClient({ url: influxd.url, database: db, timeoutMs: 600_000, maxConcurrentQueries: 4 });
    let platform: Awaited<ReturnType<typeof startBenchPlatform>> | undefined;
    try {
      await influx.createDatabase();
      await ensureRetention(influx, { rawRetentionMs: null, rollupRp: 'pantau_rollup', rollupRetentionMs: null });
      const devices: BenchDevice[] = makeFleet(DEVICES, 'bench-hist').map((d) => ({ ...d, city: 'Samarinda', district: 'Samarinda Ulu' }));
      const end = dayStart(ZONE, Date.now());
      const start = end - 365 * DAY_MS;

      // 1. a year of raw readings, written straight to InfluxDB (a week of one device per request, 3 in flight)
      const t0 = performance.now();
      let written = 0;
      const jobs: Array<() => Promise<void>> = [];
      for (const d of devices) {
        const key = seriesKey(d.kind, { device_id: d.id, city: d.city, district: d.district });
        for (let from = start; from < end; from += 7 * DAY_MS) {
          jobs.push(async () => {
            const lines: string[] = [];
            let seq = Math.floor((from - start) / STEP_MS);
            for (let ts = from; ts < Math.min(end, from + 7 * DAY_MS); ts += STEP_MS) lines.push(line(key, readingValues(d.kind, seq++), ts));
            await influx.write(lines.join('\n'));
            written += lines.length;
          });
        }
      }
      let lastLog = performance.now();
      await Promise.all(Array.from({ length: 3 }, async () => {
        for (let job = jobs.shift(); job; job = jobs.shift()) {
          await job();
          if (performance.now() - lastLog > 15_000) {
            lastLog = performance.now();
            log(`raw: ${written.toLocaleString('en')} readings written…`);
          }
        }
      }));
      const writeS = (performance.now() - t0) / 1000;
      log(`raw: ${written.toLocaleString('en')} readings written in ${writeS.toFixed(0)} s (${Math.round(written / writeS).toLocaleString('en')}/s)`);

      // 2. the backfill, as `npm run rollups -- --from …` runs it
      const state = new RollupState(dataDir);
      const computer = new RollupComputer({ influx, rollupRp: 'pantau_rollup', timezone: ZONE });
      const { plan } = planBackfill(state, start, end, ZONE);
      const cpu = new CpuMeter({ influxd: () => [influxd.process.pid!], orchestrator: () => [process.pid] });
      cpu.start();
      let lastProgress = performance.now();
      const backfill = await runBackfill({
        computer, state, timezone: ZONE, plan,
        onProgress: (p) => {
          if (performance.now() - lastProgress > 15_000) {
            lastProgress = performance.now();
            log(`backfill: ${Math.round((100 * p.done) / p.total)} % · ${p.readings.toLocaleString('en')} readings`);
          }
        },
      });
      const backfillCpu = cpu.stop();
      // the last hour waits for its recomputation, as an hour that readings are coming in for does (`since` far ahead,
      // so the platform's rollup job does not recompute it during the run): the city query "while written" ends in
      // it; every other query ends at least 3 hours before it, in hours that are settled
      const writtenHour = end - HOUR_MS;
      state.markDirty(devices.map((d) => ({ kind: d.kind as Kind, deviceId: d.id, hour: writtenHour, since: end + 365 * DAY_MS, logEnd: 0 })));
      state.close();
      const backfillPerS = backfill.readings / (backfill.elapsedMs / 1000);
      log(`backfill: ${backfill.readings.toLocaleString('en')} readings → ${backfill.rows.toLocaleString('en')} rollup rows in ${(backfill.elapsedMs / 1000).toFixed(1)} s (${Math.round(backfillPerS).toLocaleString('en')} readings/s)`);

      // 3. disk per device-year (TSM files and WAL of each retention policy)
      await new Promise((r) => setTimeout(r, 5000));
      const bytes = (rp: string) => du(join(influxd.dir, 'data', db, rp)) + du(join(influxd.dir, 'wal', db, rp));
      const rawBytes = bytes('autogen');
      const rollupBytes = bytes('pantau_rollup');
      const perDeviceYear = { rawMiB: round(rawBytes / DEVICES / 2 ** 20, 2), rollupMiB: round(rollupBytes / DEVICES / 2 ** 20, 2) };
      log(`disk per device-year: raw ${perDeviceYear.rawMiB} MiB · rollups (1h + 1d) ${perDeviceYear.rollupMiB} MiB`);

      // 4. the platform (raw kept forever here, so raw and rollups can be compared), on the same data dir
      const fleetFile = join(dataDir, 'fleet.json');
      writeFleetFile(fleetFile, devices);
      platform = await startBenchPlatform({ influxUrl: influxd.url, db, adminKey: ctx.adminKey, fleetFile, env: { PANTAU_DATA_DIR: dataDir, PANTAU_RAW_RETENTION: 'inf', PANTAU_LOG_LEVEL: 'warn' } });
      const p = platform;
      const auth = { authorization: `Bearer ${ctx.adminKey}` };
      let unique = 0;
      /** What the request being measured asks (for the slowest request's report). */
      let asked = '';
      /** The Server-Timing header of the request being measured (of the slowest of a city's 20). */
      let served = '';
      const iso = (ms: number) => new Date(ms).toISOString();
      const timed = async (path: string, expectSource: string): Promise<number> => {
        asked = path;
        const t = performance.now();
        const res = await fetch(`${p.httpUrl}${path}`, { headers: auth });
        const body = (await res.json()) as { source?: string; points?: unknown[] };
        const ms = performance.now() - t;
        served = res.headers.get('server-timing') ?? '';
        if (res.status !== 200 || body.source !== expectSource || !body.points?.length) throw new Error(`${path}: ${res.status} source ${body.source} (${JSON.stringify(body).slice(0, 200)})`);
        return ms;
      };
      const yearPath = (d: BenchDevice, every: string) => {
        const i = ++unique;
        return `/api/v1/devices/${d.id}/readings?from=${iso(start + 5 * HOUR_MS + i)}&to=${iso(end - 5 * HOUR_MS - i)}&every=${every}&agg=mean`;
      };
      const rawYear = async (d: BenchDevice): Promise<number> => {
        const i = ++unique;
        asked = `raw year of ${d.id} from InfluxDB`;
        served = '';
        const fields = fieldNames(d.kind as Kind).map((f) => `mean("${f}") AS "${f}"`).join(', ');
        const t = performance.now();
        const series = await influx.query(`SELECT ${fields} FROM "${d.kind}" WHERE "device_id" = $d AND time >= $f AND time < $t GROUP BY time(1d) fill(none) ${tzClause(ZONE)}`,
          { d: d.id, f: iso(start + 5 * HOUR_MS + i), t: iso(end - 5 * HOUR_MS - i) });
        const ms = performance.now() - t;
        if ((series[0]?.values.length ?? 0) < 360) throw new Error('raw year query returned too few days');
        return ms;
      };
      // where the time of an uncached hourly year goes: InfluxDB reading and encoding 8,760 stored rows, parsed here
      const rollupYear = async (d: BenchDevice): Promise<number> => {
        const i = ++unique;
        asked = `hourly rollup rows of ${d.id} from InfluxDB`;
        served = '';
        const t = performance.now();
        const series = await influx.query(`SELECT /_(sum|count)$/ FROM "pantau_rollup"."${d.kind}_1h" WHERE "device_id" = $d AND time >= $f AND time < $t`,
          { d: d.id, f: iso(start + 6 * HOUR_MS + i), t: iso(end - 6 * HOUR_MS) });
        const ms = performance.now() - t;
        if ((series[0]?.values.length ?? 0) < 8000) throw new Error('hourly rollup year returned too few rows');
        return ms;
      };
      const city30d = async (): Promise<number> => {
        const t = performance.now();
        let worst = { ms: -1, served: '' };
        await Promise.all(devices.map(async (d) => {
          const i = ++unique;
          const ms = await timed(`/api/v1/devices/${d.id}/readings?from=${iso(end - 30 * DAY_MS + 3 * HOUR_MS + i)}&to=${iso(writtenHour - 2 * HOUR_MS - i)}&every=1h&agg=mean`, '1h');
          if (ms > worst.ms) worst = { ms, served };
        }));
        asked = `the slowest of 20 took ${round(worst.ms, 1)} ms`;
        served = worst.served;
        return performance.now() - t;
      };
      // the same, with the last partial hour in the hour still being written
      const city30dWritten = async (): Promise<number> => {
        const t = performance.now();
        let worst = { ms: -1, served: '' };
        await Promise.all(devices.map(async (d) => {
          const i = ++unique;
          const ms = await timed(`/api/v1/devices/${d.id}/readings?from=${iso(end - 30 * DAY_MS + 3 * HOUR_MS + i)}&to=${iso(end - i)}&every=1h&agg=mean`, '1h');
          if (ms > worst.ms) worst = { ms, served };
        }));
        asked = `the slowest of 20 took ${round(worst.ms, 1)} ms`;
        served = worst.served;
        return performance.now() - t;
      };
      const measure = async (n: number, fn: (k: number) => Promise<number>): Promise<Round> => {
        await fn(0).catch(() => undefined); // warm-up
        const samples: number[] = [];
        let errors = 0;
        let slowest: Round['slowest'];
        for (let k = 0; k < n; k++) {
          try {
            const ms = await fn(k);
            samples.push(ms);
            if (!slowest || ms > slowest.ms) slowest = { k, ms: round(ms, 1), what: asked.replace(/\?.*/, '') + (served ? ` (Server-Timing: ${served})` : '') };
          } catch (err) {
            errors++;
            if (errors <= 3) log(`request failed: ${(err as Error).message.slice(0, 300)}`);
          }
        }
        if (samples.length === 0) return { p50: NaN, p99: NaN, max: NaN, errors };
        return { p50: round(percentile(samples, 50), 2), p99: round(percentile(samples, 99), 2), max: round(Math.max(...samples), 2), errors, slowest };
      };
      const rounds: Record<string, Round[]> = { yearDaily: [], yearDailyRaw: [], yearHourly: [], yearHourlyRollupRows: [], city30dHourly: [], city30dHourlyWritten: [] };
      const queryCpu = new CpuMeter({ platform: () => p.pids(), influxd: () => [influxd.process.pid!], orchestrator: () => [process.pid] });
      queryCpu.start();
      for (let r = 0; r < ROUNDS; r++) {
        rounds.yearDaily!.push(await measure(100, (k) => timed(yearPath(devices[k % DEVICES]!, '1d'), '1d')));
        rounds.yearDailyRaw!.push(await measure(10, (k) => rawYear(devices[k % DEVICES]!)));
        rounds.yearHourly!.push(await measure(50, (k) => timed(yearPath(devices[k % DEVICES]!, '1h'), '1h')));
        rounds.yearHourlyRollupRows!.push(await measure(20, (k) => rollupYear(devices[k % DEVICES]!)));
        rounds.city30dHourly!.push(await measure(30, () => city30d()));
        rounds.city30dHourlyWritten!.push(await measure(30, () => city30dWritten()));
        const slow = (x: Round) => (x.slowest ? `request ${x.slowest.k + 1} ${x.slowest.ms} ms${x.slowest.what ? ` ${x.slowest.what}` : ''}` : '-');
        log(`round ${r + 1}: slowest: year hourly ${slow(rounds.yearHourly!.at(-1)!)} · city ${slow(rounds.city30dHourly!.at(-1)!)} · city, last hour being written ${slow(rounds.city30dHourlyWritten!.at(-1)!)} · year daily ${slow(rounds.yearDaily!.at(-1)!)}`);
        log(`round ${r + 1}: year daily p99 ${rounds.yearDaily!.at(-1)!.p99} ms (raw ${rounds.yearDailyRaw!.at(-1)!.p99} ms) · year hourly p99 ${rounds.yearHourly!.at(-1)!.p99} ms (rollup rows straight from InfluxDB ${rounds.yearHourlyRollupRows!.at(-1)!.p99} ms) · city 30 d hourly p99 ${rounds.city30dHourly!.at(-1)!.p99} ms (last hour being written ${rounds.city30dHourlyWritten!.at(-1)!.p99} ms)`);
      }
      const queryCores = queryCpu.stop();
      const s = Object.fromEntries(Object.entries(rounds).map(([k, v]) => [k, summary(v)])) as Record<string, ReturnType<typeof summary>>;
      const speedup = s.yearDailyRaw!.p99 / s.yearDaily!.p99;
      const lag = (await p.metrics())['pantau_rollup_lag_seconds'];

      const targets: Target[] = [
        { name: 'one device, one year, daily means', goal: 'p99 < 50 ms', value: fmt(s.yearDaily!), pass: s.yearDaily!.p99 < 50 && s.yearDaily!.errors === 0 },
        { name: 'daily means vs raw', goal: '≥ 20× faster', value: `${round(speedup, 1)}× (raw straight from InfluxDB: ${fmt(s.yearDailyRaw!)})`, pass: speedup >= 20 && s.yearDaily!.errors === 0 && s.yearDailyRaw!.errors === 0 },
        { name: 'one device, one year, hourly means (8,760 windows)', goal: 'p99 < 200 ms', value: fmt(s.yearHourly!), pass: s.yearHourly!.p99 < 200 && s.yearHourly!.errors === 0 },
        { name: 'all 20 devices of a city, 30 days hourly', goal: 'p99 < 300 ms', value: fmt(s.city30dHourly!), pass: s.city30dHourly!.p99 < 300 && s.city30dHourly!.errors === 0 },
        { name: 'the same, its last hour still being written (read from InfluxDB every time)', goal: 'p99 < 300 ms', value: fmt(s.city30dHourlyWritten!), pass: s.city30dHourlyWritten!.p99 < 300 && s.city30dHourlyWritten!.errors === 0 },
      ];
      return {
        scenario: 'history',
        title: this.title,
        startedAt: new Date().toISOString(),
        cpuProfiled: false,
        config: { devices: DEVICES, stepS: STEP_MS / 1000, days: 365, timezone: ZONE, rounds: ROUNDS, backgroundCoresBefore: round(backgroundCores, 2) },
        extra: {
          rawReadings: written,
          rawWriteS: round(writeS, 1),
          backfill: { readings: backfill.readings, rollupRows: backfill.rows, seconds: round(backfill.elapsedMs / 1000, 1), readingsPerS: Math.round(backfillPerS), influxdCores: round(backfillCpu.cores.influxd ?? 0, 2), orchestratorCores: round(backfillCpu.cores.orchestrator ?? 0, 2) },
          diskPerDeviceYear: perDeviceYear,
          rollupLagSecondsAtEnd: lag,
          queries: s,
        },
        cpuCores: Object.fromEntries(Object.entries(queryCores.cores).map(([k, v]) => [k, round(v, 2)])),
        rssMiB: {},
        targets,
        notes: [
          `background load before the run: ${backgroundCores.toFixed(2)} cores of 2`,
          `backfill: ${Math.round(backfillPerS).toLocaleString('en')} raw readings rolled up per second (${backfill.readings.toLocaleString('en')} in ${round(backfill.elapsedMs / 1000, 1)} s)`,
          `disk per device-year: raw ${perDeviceYear.rawMiB} MiB, rollups ${perDeviceYear.rollupMiB} MiB (hourly + daily, TSM + WAL, right after writing: InfluxDB compacts later)`,
          `a year of one device's hourly rollup rows straight from InfluxDB (what an uncached hourly year costs before the platform's own work): ${fmt(s.yearHourlyRollupRows!)}`,
          'rollup lag under the 20,000/s ingest load is read from pantau_rollup_lag_seconds during the open-loop ingest scenarios',
        ],
      } satisfies ScenarioResult;
    } finally {
      await platform?.stop().catch(() => undefined);
      await influxd.stop().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};
