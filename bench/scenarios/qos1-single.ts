// `qos1-single`: one reading per message, 1,000 devices, QoS 1, each client keeping a window of messages in
// flight (closed loop: a PUBACK frees a slot), sustained. Target ≥ 20,000 readings/s, acknowledged and stored.
import { seconds, type BenchContext } from '../context.js';
import { ingestRun } from './ingest-run.js';
import { fromIngestRun, sustainedRate, zeroLoss, type Scenario } from './scenario.js';

export const QOS1_LOAD = { devices: 1000, processes: 2, mode: 'window', window: 10, batch: 1 } as const;

export const qos1Single: Scenario = {
  name: 'qos1-single',
  title: 'QoS 1, one reading per message, 1,000 devices, window 10 per client',
  async run(ctx: BenchContext) {
    const durationMs = seconds(ctx, 60);
    const run = await ingestRun(ctx, { label: 'qos1-single', ...QOS1_LOAD, durationMs });
    const result = fromIngestRun(this.name, this.title, ctx, { ...QOS1_LOAD, durationS: durationMs / 1000 }, run);
    result.targets.push(sustainedRate(run.figures, 20_000), zeroLoss(run.figures));
    return result;
  },
};
