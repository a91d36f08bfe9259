// `latency`: an open-loop offered load of 10,000 readings/s (1,000 devices × 10/s, one reading per message), and
// for every reading of 1 device in 100 the time from publish until a query against InfluxDB returns it.
// Target p99 < 1 s.
import { seconds, type BenchContext } from '../context.js';
import { ingestRun } from './ingest-run.js';
import { fromIngestRun, round, zeroLoss, type Scenario } from './scenario.js';

const LOAD = { devices: 1000, processes: 2, mode: 'rate', rate: 10_000, window: 20, batch: 1, sampleOneDeviceIn: 100 } as const;

export const latency: Scenario = {
  name: 'latency',
  title: 'Publish → queryable latency at 10,000 readings/s offered',
  async run(ctx: BenchContext) {
    const durationMs = seconds(ctx, 30);
    const run = await ingestRun(ctx, { label: 'latency', ...LOAD, durationMs });
    const result = fromIngestRun(this.name, this.title, ctx, { ...LOAD, durationS: durationMs / 1000, pollMs: 50 }, run);
    const h = run.probe!.histogram.percentiles();
    result.queryableLatencyMs = { ...h, missing: run.probeMissing ?? 0, samples: run.probe!.samples };
    const f = run.figures;
    result.targets.push(
      { name: 'publish → queryable p99', goal: '< 1000 ms', value: `${round(h.p99)} ms (p50 ${round(h.p50)}, p95 ${round(h.p95)}; ${h.count} samples, ${run.probeMissing ?? 0} never seen)`, pass: h.p99 < 1000 && h.count > 0 && (run.probeMissing ?? 0) === 0 },
      { name: 'offered load reached', goal: '≥ 9,500 readings/s', value: `${Math.round(f.offeredPerS)}/s (${f.skipped} publishes skipped by back-pressure)`, pass: f.offeredPerS >= 9_500 },
      zeroLoss(f),
    );
    result.notes.push(`latency resolution: 50 ms poll interval plus query time (a reading counts as queryable when the answer containing it arrives); ${run.probe!.queries} probe queries`);
    return result;
  },
};
