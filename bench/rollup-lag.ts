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
}

export function sampleRollupLag(durationMs: number) {
  return async ({ platformMetrics }: { platformMetrics: () => Promise<Record<string, number>> }): Promise<{ rollupLag: RollupLag }> => {
    const lag: RollupLag = { maxS: 0, endS: NaN, maxPendingBuckets: 0, samples: 0 };
    const until = performance.now() + durationMs;
    while (performance.now() < until) {
      await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, until - performance.now()))));
      const m = await platformMetrics().catch(() => undefined);
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
