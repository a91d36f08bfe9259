// History in a running platform: retention policies set at start, the rollup job fed by the ingest log, the
// first-start backfill, and the rollup lag metric. `platform.ts` calls `startHistory` once and `stop` on shutdown.
import { Gauge } from 'prom-client';
import type { Logger } from 'pino';
import type { InfluxClient } from '../influx/client.js';
import type { Spool } from '../ingest/spool.js';
import type { Config } from './config.js';
import type { Metrics } from './metrics.js';
import { oldestReading, planBackfill, progressLine, runBackfill, savedPlan } from '../history/backfill.js';
import { RollupState } from '../history/dirty.js';
import { RollupJob } from '../history/job.js';
import { RollupComputer } from '../history/rollup.js';
import { ensureRetention } from '../history/schema.js';
import { FieldKeys } from '../history/field-keys.js';
import type { HistorySettings } from '../history/source.js';
import { RollupRowCache } from '../history/row-cache.js';
import { RawHourCache } from '../history/raw-hours.js';

export interface History {
  job: RollupJob;
  state: RollupState;
  computer: RollupComputer;
  /** Resolves once the retention policies are in place (retried in the background while InfluxDB is away). */
  retentionReady: Promise<void>;
  /** What the readings API and the export need to pick a source. */
  settings: HistorySettings;
  /** The first-start or resumed backfill, while one runs. */
  backfill: Promise<void> | undefined;
  stop(): Promise<void>;
}

/** What the history needs of a platform (named here, not taken from platform.ts, which imports this file). */
interface PlatformCore {
  config: Config;
  log: Logger;
  influx: InfluxClient;
  spool: Spool;
  metrics: Metrics;
}

export function startHistory(platform: PlatformCore): History {
  const { config, influx, spool, metrics } = platform;
  const log = platform.log.child({ component: 'history' });
  const state = new RollupState(config.dataDir);
  let stopped = false;
  // Stored rollup rows in memory, forgotten as this process rewrites them or a backfill in another process commits
  // progress. Not on a node of a cluster: there, other nodes recompute buckets of the readings they took in.
  const rowCache = !config.registryUrl ? new RollupRowCache({ externalVersion: () => (stopped ? -1 : state.dataVersion()) }) : undefined;
  // Raw points of past hours for the partial windows at an answer's ends: forgotten as the job recomputes an hour,
  // which it does only once every reading of the hour is in InfluxDB. Not in a cluster, for the same reason.
  const rawHours = rowCache ? new RawHourCache({ externalVersion: () => (stopped ? -1 : state.dataVersion()) }) : undefined;
  const computer = new RollupComputer({
    influx,
    rollupRp: config.rollupRp,
    timezone: config.timezone,
    onWritten: (kind, resolution, from, to, device) => {
      rowCache?.invalidate(kind, resolution, from, to, device);
      if (resolution === '1h') rawHours?.invalidate(kind, from, to, device);
    },
  });
  const job = new RollupJob({
    state,
    computer,
    position: { durableEnd: () => spool.stats().durableEnd, writtenEnd: () => spool.stats().committed },
    delayMs: config.rollupDelayMs,
    timezone: config.timezone,
    log,
  });

  new Gauge({
    name: 'pantau_rollup_lag_seconds',
    help: 'How long the oldest reading not yet in its hourly and daily rollups has waited since its acknowledgement',
    registers: [metrics.registry],
    collect() {
      this.set(stopped ? 0 : job.lagSeconds());
    },
  });
  new Gauge({
    name: 'pantau_rollup_pending_buckets',
    help: 'Hourly rollup buckets (device × hour) waiting for recomputation',
    registers: [metrics.registry],
    collect() {
      this.set(stopped ? 0 : state.pending());
    },
  });

  // The ingest log hands every acknowledged entry to its consumers; the job's checkpoint is kept by the log.
  spool.addConsumer(job);

  const retentionReady = (async () => {
    for (let attempt = 0; !stopped; attempt++) {
      try {
        const raw = await ensureRetention(influx, config);
        log.info({ rawRp: raw, rawRetention: config.rawRetentionMs === null ? 'inf' : `${config.rawRetentionMs / 3_600_000}h`, rollupRp: config.rollupRp }, 'retention policies set');
        return;
      } catch (err) {
        if (attempt === 0) log.warn({ err: (err as Error).message }, 'retention policies not set yet (InfluxDB not usable); retrying every 10 s');
        await new Promise((r) => setTimeout(r, 10_000).unref());
      }
    }
  })();

  const history: History = {
    job,
    state,
    computer,
    retentionReady,
    settings: {
      rollupRp: config.rollupRp,
      rawRetentionMs: config.rawRetentionMs,
      timezone: config.timezone,
      fieldKeys: new FieldKeys(influx),
      // while stopping, every bucket counts as pending: answers come from raw readings
      firstPending: (kind, deviceId, from, to) => (stopped ? from : state.firstPending(kind, deviceId, from, to)),
      rowCache,
      rawHours,
    },
    backfill: undefined,
    async stop() {
      stopped = true;
      await job.stop();
      await history.backfill?.catch(() => undefined);
      state.close();
    },
  };

  // First start on a database that already holds readings (or a backfill cut short): roll up what predates the job.
  const startedAt = Date.now();
  history.backfill = (async () => {
    await retentionReady;
    if (stopped) return;
    let plan = savedPlan(state);
    if (!plan) {
      const oldest = await oldestReading(influx);
      if (oldest === null || oldest >= startedAt) {
        state.set('backfill', JSON.stringify({ from: startedAt, to: startedAt, next: startedAt }));
        return;
      }
      plan = planBackfill(state, oldest, startedAt, config.timezone).plan;
    }
    if (plan.next >= plan.to) return;
    log.info({ from: new Date(plan.next).toISOString(), to: new Date(plan.to).toISOString() }, 'backfilling rollups for history that predates them');
    let lastLog = 0;
    const result = await runBackfill({
      computer, state, timezone: config.timezone, plan, shouldStop: () => stopped,
      onProgress: (p) => {
        if (Date.now() - lastLog > 10_000) {
          lastLog = Date.now();
          log.info(`rollup backfill ${progressLine(p, config.timezone)}`);
        }
      },
    });
    if (!stopped) log.info({ readings: result.readings, rows: result.rows, seconds: Math.round(result.elapsedMs / 1000) }, 'rollup backfill finished');
  })().catch((err) => log.warn({ err: (err as Error).message }, 'rollup backfill stopped; it resumes at the next start'))
    .finally(() => {
      history.backfill = undefined;
    });

  job.start();
  return history;
}
