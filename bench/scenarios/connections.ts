// `connections`: 10,000 devices connected at once (4 generator processes × 2,500), held for 30 s while each
// device reports every 10 s (1,000 readings/s in all). Targets: all connected and held, platform RSS < 1 GiB.
import { seconds, type BenchContext } from '../context.js';
import { ingestRun } from './ingest-run.js';
import { fromIngestRun, round, zeroLoss, type Scenario } from './scenario.js';

const DEVICES = 10_000;
const LOAD = { devices: DEVICES, processes: 4, mode: 'rate', rate: DEVICES / 10, window: 1, batch: 1, connectConcurrency: 50 } as const;

export const connections: Scenario = {
  name: 'connections',
  title: '10,000 concurrent device connections held, each reporting every 10 s',
  async run(ctx: BenchContext) {
    const durationMs = seconds(ctx, 30);
    const held: number[] = [];
    const run = await ingestRun(ctx, {
      label: 'connections',
      ...LOAD,
      durationMs,
      // the platform's own gauge, every 2 s while the connections are held
      during: async ({ platformMetrics }) => {
        const until = Date.now() + durationMs - 1000;
        while (Date.now() < until) {
          const m = await platformMetrics().catch(() => undefined);
          if (m?.pantau_mqtt_connections !== undefined) held.push(m.pantau_mqtt_connections);
          await new Promise((r) => setTimeout(r, 2000));
        }
        return {};
      },
    });
    const result = fromIngestRun(this.name, this.title, ctx, { ...LOAD, durationS: durationMs / 1000, openFiles: 'ulimit -n 65535 in the platform wrapper; generators ≤ 2,500 sockets each' }, run);
    const minHeld = held.length ? Math.min(...held) : 0;
    result.extra = {
      connectRampS: round(run.connect.ms / 1000, 1),
      connectPerS: round(run.connect.connected / (run.connect.ms / 1000)),
      platformConnectionsMin: minHeld,
      platformConnectionsMax: held.length ? Math.max(...held) : 0,
      disconnectsDuringHold: run.figures.disconnects,
      platformRssPerConnectionKiB: round((run.rssMiB.platformPeak! * 1024) / DEVICES, 1),
    };
    result.targets.push(
      { name: 'connections held', goal: `${DEVICES.toLocaleString('en')} for ${durationMs / 1000} s`, value: `${run.connect.connected} connected (${run.connect.failed} failed), platform gauge min ${minHeld}, ${run.figures.disconnects} dropped`, pass: run.connect.connected === DEVICES && minHeld >= DEVICES && run.figures.disconnects === 0 },
      { name: 'platform RSS', goal: '< 1024 MiB', value: `${round(run.rssMiB.platformPeak!)} MiB peak`, pass: run.rssMiB.platformPeak! < 1024 },
      zeroLoss(run.figures),
    );
    if (run.connect.errors.length) result.notes.push(`connect errors: ${run.connect.errors.join('; ')}`);
    return result;
  },
};
