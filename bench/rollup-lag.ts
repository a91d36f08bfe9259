// The rollup job's lag under ingest load (docs/history.md: a reading is in its rollups at most PANTAU_ROLLUP_DELAY
// after its acknowledgement): `pantau_rollup_lag_seconds` and `pantau_rollup_pending_buckets` read from the
// platform's /metrics once a second through a measured window, for an ingest run's `during` hook.
export interface RollupLag {
  /** Largest lag seen (s). */
  maxS: number;
  /** Lag at the end of the window (s). */
  endS: number;
  maxPendingBuckets: number;
  samples: number;
  /** Log bytes the durable consumers read back from disk within the window (they fell behind the memory tail). */
  readBackBytes?: number;
}

export function sampleRollupLag(durationMs: number) {
  return async ({ platformMetrics }: { platformMetrics: () => Promise<Record<string, number>> }): Promise<{ rollupLag: RollupLag }> => {
    const lag: RollupLag = { maxS: 0, endS: NaN, maxPendingBuckets: 0, samples: 0 };
    const until = performance.now() + durationMs;
    let readBackFirst: number | undefined;
    while (performance.now() < until) {
      await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, until - performance.now()))));
      const m = await platformMetrics().catch(() => undefined);
      const back = m?.pantau_log_consumer_read_back_bytes_total ?? (m ? 0 : undefined);
      if (back !== undefined) {
        readBackFirst ??= back;
        lag.readBackBytes = back - readBackFirst;
      }
      const s = m?.pantau_rollup_lag_seconds;
      if (s === undefined) continue;
      lag.samples++;
      lag.maxS = Math.max(lag.maxS, s);
      lag.endS = s;
      lag.maxPendingBuckets = Math.max(lag.maxPendingBuckets, m?.pantau_rollup_pending_buckets ?? 0);
    }
    return { rollupLag: lag };
  };
}

export function rollupLagNote(lag: RollupLag | undefined, delayS: number): string | undefined {
  if (!lag || lag.samples === 0) return undefined;
  return `rollup lag (pantau_rollup_lag_seconds, sampled every second through the window): max ${lag.maxS.toFixed(1)} s, ${lag.endS.toFixed(1)} s at the end, up to ${lag.maxPendingBuckets.toLocaleString('en')} pending device-hours (target < ${delayS} s, PANTAU_ROLLUP_DELAY)`;
}

/** How much the durable log consumers read back from disk in the window, against the readings stored. */
export function readBackNote(lag: RollupLag | undefined): string | undefined {
  if (!lag || lag.readBackBytes === undefined) return undefined;
  return `log consumers read back from disk (pantau_log_consumer_read_back_bytes_total, every consumer, over the window): ${(lag.readBackBytes / 2 ** 20).toFixed(1)} MiB`;
}
