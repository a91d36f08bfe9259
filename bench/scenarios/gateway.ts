// `gateway`: 100 gateway devices, each message an array of 100 readings (a backlog, timestamps in the past),
// 4 messages in flight per gateway. Target ≥ 50,000 readings/s, acknowledged and stored.
import { seconds, type BenchContext } from '../context.js';
import { ingestRun } from './ingest-run.js';
import { fromIngestRun, sustainedRate, zeroLoss, type Scenario } from './scenario.js';

const LOAD = { devices: 100, processes: 2, mode: 'window', window: 4, batch: 100, backlogMs: 10 * 60_000 } as const;

export const gateway: Scenario = {
  name: 'gateway',
  title: 'QoS 1 gateways: 100 devices × 100 readings per message, window 4',
  async run(ctx: BenchContext) {
    const durationMs = seconds(ctx, 60);
    const run = await ingestRun(ctx, { label: 'gateway', ...LOAD, durationMs });
    const result = fromIngestRun(this.name, this.title, ctx, { ...LOAD, durationS: durationMs / 1000 }, run);
    result.targets.push(sustainedRate(run.figures, 50_000), zeroLoss(run.figures));
    return result;
  },
};
