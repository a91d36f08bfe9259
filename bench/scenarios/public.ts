// `public`: the citizens' page and public API (docs/public.md) under 1,000 anonymous requests/s (autocannon,
// `overallRate`), half `/publik` and half `/api/public/v1/air`, while 20 devices publish over MQTT (rate mode,
// 20 messages/s). The same ingest runs first alone, then under the public load: the ingest acknowledgement p99 of
// both windows shows what the crowd costs the devices. Public answers come from the snapshot (rebuilt every
// minute), so the public p99 should stay low and the ack p99 close to the quiet one.
import autocannon, { type Result } from 'autocannon';
import { startInfluxd } from '../../test/support/influxd.js';
import { seconds, type BenchContext } from '../context.js';
import { type BenchDevice, makeFleet } from '../fleet.js';
import { GeneratorFleet } from '../generators.js';
import { startBenchPlatform } from '../platform-process.js';
import { CpuMeter, waitForQuiet } from '../proc-stats.js';
import type { ScenarioResult } from '../result.js';
import { cpuCores, round, type Scenario } from './scenario.js';

const DEVICES = 20;
const PUBLIC_RATE = 1000;
const CONNECTIONS = 50;
const PATHS = ['/publik', '/api/public/v1/air'];

export const publicScenario: Scenario = {
  name: 'public',
  title: 'Citizens\' page and public API at 1,000 anonymous requests/s while ingesting',
  async run(ctx: BenchContext) {
    const windowMs = seconds(ctx, 20);
    const backgroundCores = await waitForQuiet(90_000, (m) => ctx.log(`[public] ${m}`));
    const influx = await startInfluxd();
    const db = 'bench_public';
    let fleet: GeneratorFleet | undefined;
    const platform = await startBenchPlatform({ influxUrl: influx.url, db, adminKey: ctx.adminKey });
    try {
      const admin = { authorization: `Bearer ${ctx.adminKey}`, 'content-type': 'application/json' };
      const registered: BenchDevice[] = [];
      for (const [i, d] of makeFleet(DEVICES, 'bench-public').entries()) {
        const res = await fetch(`${platform.httpUrl}/api/v1/devices`, {
          method: 'POST',
          headers: admin,
          body: JSON.stringify({ id: d.id, kind: d.kind, name: `Bench public ${i}`, city: d.city, district: d.district, location: { lat: -0.5, lon: 117.15 } }),
        });
        if (res.status !== 201) throw new Error(`POST /api/v1/devices answered ${res.status}: ${await res.text()}`);
        registered.push({ ...d, token: ((await res.json()) as { token: string }).token });
      }
      fleet = await GeneratorFleet.start(platform.mqttUrl, registered, 2);
      const ingest = (durationMs: number) => fleet!.run({ mode: 'rate', rate: DEVICES, window: 5, batch: 1, durationMs, backlogMs: 0, sampleDevices: [], ackWaitMs: 10_000 });

      ctx.log(`[public] ingest alone for ${windowMs / 1000} s…`);
      const quiet = await ingest(windowMs);
      const quietAck = quiet.ackLatency.percentiles();

      ctx.log(`[public] ingest with ${PUBLIC_RATE} public requests/s for ${windowMs / 1000} s…`);
      const f = fleet;
      const meter = new CpuMeter({ platform: () => platform.pids(), influxd: () => [influx.process.pid!], generators: () => f.pids(), orchestrator: () => [process.pid] });
      meter.start();
      const loaded = ingest(windowMs);
      let next = 0;
      const result: Result = await autocannon({
        url: platform.httpUrl,
        connections: CONNECTIONS,
        overallRate: PUBLIC_RATE,
        duration: windowMs / 1000,
        requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: PATHS[next++ % PATHS.length]! }) }],
      });
      const loadedStats = await loaded;
      const cpu = meter.stop();
      const loadedAck = loadedStats.ackLatency.percentiles();
      ctx.log(`[public] public: ${Math.round(result.requests.average)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}, errors ${result.errors}`);
      ctx.log(`[public] ingest ack p99: ${round(quietAck.p99, 1)} ms alone, ${round(loadedAck.p99, 1)} ms under the public load`);

      await fleet.close();
      fleet = undefined;
      await platform.stop();
      return {
        scenario: this.name,
        title: this.title,
        startedAt: new Date().toISOString(),
        cpuProfiled: false,
        config: { devices: DEVICES, ingestMessagesPerS: DEVICES, publicRate: PUBLIC_RATE, connections: CONNECTIONS, paths: PATHS, windowS: windowMs / 1000, backgroundCoresBefore: round(backgroundCores, 2) },
        extra: {
          public: { requestsPerS: round(result.requests.average), requests: result.requests.total, latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max }, non2xx: result.non2xx, errors: result.errors },
          ingestAckMs: { alone: { p50: round(quietAck.p50, 1), p99: round(quietAck.p99, 1) }, underPublicLoad: { p50: round(loadedAck.p50, 1), p99: round(loadedAck.p99, 1) } },
          acked: { alone: quiet.ackedReadings, underPublicLoad: loadedStats.ackedReadings },
        },
        cpuCores: cpuCores(cpu),
        rssMiB: {},
        targets: [
          {
            name: 'public p99',
            goal: `< 50 ms at ${PUBLIC_RATE} req/s`,
            value: `${result.latency.p99} ms (${Math.round(result.requests.average)} req/s, ${result.non2xx} non-2xx, ${result.errors} errors)`,
            pass: result.latency.p99 < 50 && result.non2xx === 0 && result.errors === 0 && result.requests.average >= PUBLIC_RATE * 0.95,
          },
          {
            name: 'ingest ack p99 under public load',
            goal: '< 2 × alone + 10 ms',
            value: `${round(loadedAck.p99, 1)} ms (alone ${round(quietAck.p99, 1)} ms)`,
            pass: loadedAck.p99 < 2 * quietAck.p99 + 10,
          },
        ],
        notes: ['public answers come from the snapshot (docs/public.md): no request reaches InfluxDB or the registry'],
      };
    } finally {
      await fleet?.close().catch(() => undefined);
      await platform.stop().catch(() => undefined);
      await influx.stop();
    }
  },
};
