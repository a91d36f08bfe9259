// `ack-after-store` (issue 24): what PANTAU_ACK_AFTER=store costs a cluster (docs/scale-out.md "Stateless workers").
// A private Mosquitto, PostgreSQL (the shared registry) and InfluxDB; two ingest workers (PANTAU_ROLE=ingest) on
// Mosquitto's shared subscription; the same open-loop QoS 1 load (one reading per message, from devices publishing
// to Mosquitto) at each offered rate, with the workers first in `spool` mode (a PUBACK to the broker once the
// readings are fsync'd in the worker's spool) and then, from nothing, in `store` mode (a PUBACK only once the
// InfluxDB writer has committed them).
//
// Mosquitto acknowledges the devices itself, so their PUBACKs say nothing about the workers: what is measured is
// what reaches InfluxDB (stored/s in the window), how long a reading takes from the device's publish to being in
// InfluxDB (the probe), and what waits at the end of a window — in Mosquitto's store (messages queued or in flight
// toward the workers' sessions, `$SYS/broker/store/messages/count`) and in the workers' spools. In store mode the
// throughput is bounded by about in-flight window ÷ InfluxDB write time per worker, so both windows are sized to
// fit: the worker takes 256 messages at once (ingest/mqtt-source.ts, `maxInFlight`), and Mosquitto's
// `max_inflight_messages` toward it is the same 256 (its default, 20, would bound store mode at 20 messages per
// write round trip); `max_queued_messages 0` (no limit) so Mosquitto drops nothing it acknowledged to a device.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import type { ChildProcess } from 'node:child_process';
import { Registry } from '../../registry/registry.js';
import { startClusterNode, tempDirIn, type ClusterNode } from '../../test/support/cluster-node.js';
import { startInfluxd } from '../../test/support/influxd.js';
import { startMosquittoServer } from '../../test/support/mosquitto.js';
import { startPostgres } from '../../test/support/postgres.js';
import { seconds, type BenchContext } from '../context.js';
import { KIND_CYCLE, makeFleet } from '../fleet.js';
import { GeneratorFleet, type FleetStats } from '../generators.js';
import { LatencyProbe } from '../latency-probe.js';
import { ROOT } from '../paths.js';
import { CpuMeter, descendants, RssSampler, waitForQuiet } from '../proc-stats.js';
import type { ScenarioResult, Target } from '../result.js';
import { storedCounts, total, type KindCounts } from '../stored.js';
import { cpuCores, DISTURBED_CORES, round, type Scenario } from './scenario.js';

const DEVICES = 500;
/**
 * Offered readings/s (one reading per message), one step after the other on the same cluster: both within what a
 * two-worker cluster carries on 2 shared cores in spool mode (docs/scale-out.md), so a difference is the mode's.
 */
const RATES = [2_000, 4_000];
const WORKERS = 2;
/** The worker's own window (ingest/mqtt-source.ts `maxInFlight` default) and Mosquitto's toward each worker. */
const WORKER_IN_FLIGHT = 256;
const BROKER_IN_FLIGHT = 256;
const WARMUP_MS = 5_000;
/** Every reading of one device in this many goes to the publish → stored probe (50 devices, 1 in 10 readings). */
const SAMPLE_ONE_DEVICE_IN = 10;
const DRAIN_TIMEOUT_MS = 120_000;
const LOSS_CHECK_TIMEOUT_MS = 300_000;
const DB = 'bench_ack_after';
const MiB = 2 ** 20;

type Mode = 'spool' | 'store';

interface StepFigures {
  offeredPerS: number;
  scheduledPerS: number;
  /** Readings that reached InfluxDB in the window, per second. */
  storedPerS: number;
  /** Publish (by the device) → in InfluxDB, for every reading of the probed devices, ms. */
  storedLatencyMs: { p50: number; p95: number; p99: number; max: number; seen: number; samples: number };
  /** Mosquitto's message store at the end of the window: messages queued or in flight toward the workers. */
  brokerHeldAtEnd: number | null;
  /** The workers' spools at the end of the window (what they took but InfluxDB does not have yet), MiB. */
  workerSpoolMiBAtEnd: number;
  /** Published by the end of the window and not yet in InfluxDB (broker + workers + writer). */
  notStoredAtEnd: number;
  /** Seconds from the end of the window until every reading published was stored. */
  drainS: number;
  /** False when the drain gave up (DRAIN_TIMEOUT_MS, or the count stood still for 10 s): later steps inherit a backlog. */
  drainedCompletely: boolean;
  generatorLagP99Ms: number;
  notSent: number;
  /** Bytes the devices had written that Mosquitto had not read yet at the end of the run (a broker short of CPU). */
  generatorSocketBacklogKiB: number;
  /** Devices' publish → Mosquitto's PUBACK (the broker's, not the workers'), ms. */
  brokerAckP99Ms: number;
  cpuCores: Record<string, number>;
}

interface ModeRun {
  mode: Mode;
  backgroundCores: number;
  startS: number;
  steps: StepFigures[];
  published: number;
  /** Acknowledged by Mosquitto to the devices. */
  brokerAcked: number;
  stored: number;
  /** Acknowledged to a device and not in InfluxDB (must be 0). */
  lost: number;
  rssMiB: Record<string, number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const ackAfterStore: Scenario = {
  name: 'ack-after-store',
  title: `Cluster (Mosquitto, 2 ingest workers): PANTAU_ACK_AFTER=spool vs store, open loop ${RATES.map((r) => r.toLocaleString('en')).join(' and ')} readings/s`,
  async run(ctx: BenchContext) {
    const durationMs = seconds(ctx, 30);
    const spool = await runMode(ctx, 'spool', durationMs);
    const store = await runMode(ctx, 'store', durationMs);
    const runs = [spool, store];

    const phases: ScenarioResult[] = runs.map((r) => ({
      scenario: `ack-after-store/${r.mode}`,
      title: `PANTAU_ACK_AFTER=${r.mode}`,
      startedAt: new Date().toISOString(),
      cpuProfiled: false,
      config: { backgroundCoresBefore: round(r.backgroundCores, 2), clusterStartS: round(r.startS, 1) },
      extra: { published: r.published, brokerAcked: r.brokerAcked, stored: r.stored, lost: r.lost, steps: r.steps.map((s) => ({ ...s, cpuCores: undefined })) },
      cpuCores: r.steps[0]?.cpuCores ?? {},
      rssMiB: r.rssMiB,
      targets: [],
      notes: [],
    }));
    const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? round(n, digits).toLocaleString('en') : '–');
    const cost = RATES.map((rate, i) => {
      const a = spool.steps[i]!;
      const b = store.steps[i]!;
      return {
        offeredPerS: rate,
        storedPerSSpool: round(a.storedPerS),
        storedPerSStore: round(b.storedPerS),
        storedCostPercent: round(100 * (1 - b.storedPerS / a.storedPerS), 1),
        p99MsSpool: round(a.storedLatencyMs.p99),
        p99MsStore: round(b.storedLatencyMs.p99),
        p99DifferenceMs: round(b.storedLatencyMs.p99 - a.storedLatencyMs.p99),
        brokerHeldAtEndSpool: a.brokerHeldAtEnd,
        brokerHeldAtEndStore: b.brokerHeldAtEnd,
      };
    });
    const targets: Target[] = runs.map((r) => ({
      name: `zero loss (${r.mode})`,
      goal: 'every reading acknowledged to a device is in InfluxDB',
      value: `${r.lost} lost of ${r.brokerAcked} acknowledged by Mosquitto (${r.published} published, ${r.stored} stored)`,
      pass: r.lost === 0 && r.brokerAcked > 0,
    }));
    const notes: string[] = [];
    for (const r of runs) {
      r.steps.forEach((s, i) => {
        const c = s.cpuCores;
        notes.push(
          `${r.mode} @ ${fmt(RATES[i]!)}/s: stored ${fmt(s.storedPerS)}/s (offered ${fmt(s.offeredPerS)}/s); publish → stored p50 ${fmt(s.storedLatencyMs.p50)} ms, p99 ${fmt(s.storedLatencyMs.p99)} ms, max ${fmt(s.storedLatencyMs.max)} ms (${s.storedLatencyMs.seen} of ${s.storedLatencyMs.samples} probed); at the end of the window: Mosquitto holding ${s.brokerHeldAtEnd ?? '–'} messages, worker spools ${fmt(s.workerSpoolMiBAtEnd, 1)} MiB, ${fmt(s.notStoredAtEnd)} readings not yet stored (${fmt(s.generatorSocketBacklogKiB)} KiB still in the devices' sockets), ${s.drainedCompletely ? `drained ${fmt(s.drainS, 1)} s later` : `NOT drained within ${DRAIN_TIMEOUT_MS / 1000} s (the next step inherited a backlog)`}; background ${r.backgroundCores.toFixed(2)} cores before, ${(c.unattributed ?? NaN).toFixed(2)} unattributed in the window (workers ${fmt(c.workers ?? NaN, 2)}, mosquitto ${fmt(c.mosquitto ?? NaN, 2)}, influxd ${fmt(c.influxd ?? NaN, 2)}, generators ${fmt(c.generators ?? NaN, 2)}, workers' run-queue wait ${fmt(c.workersRunQueueWait ?? NaN, 2)})${(c.unattributed ?? 0) > DISTURBED_CORES ? ' DISTURBED' : ''}`,
        );
        if (s.notSent > 0 || s.generatorLagP99Ms > 250) notes.push(`${r.mode} @ ${fmt(RATES[i]!)}/s: GENERATOR BEHIND (lag p99 ${fmt(s.generatorLagP99Ms)} ms, ${fmt(s.notSent)} due but not sent): the load was smaller or burstier than scheduled`);
      });
    }
    for (const c of cost) {
      notes.push(`cost of store mode @ ${fmt(c.offeredPerS)}/s: stored/s ${fmt(c.storedPerSStore)} vs ${fmt(c.storedPerSSpool)} (${fmt(c.storedCostPercent, 1)} % lower), publish → stored p99 ${fmt(c.p99MsStore)} vs ${fmt(c.p99MsSpool)} ms (${c.p99DifferenceMs >= 0 ? '+' : ''}${fmt(c.p99DifferenceMs)} ms)`);
    }
    notes.push(`windows: the worker takes ${WORKER_IN_FLIGHT} messages at once, Mosquitto max_inflight_messages ${BROKER_IN_FLIGHT} toward each worker, max_queued_messages 0 (no limit); ${WORKERS} workers, ${DEVICES} devices; PostgreSQL's processes are not measured (idle under ingest) and count as unattributed`);
    return {
      scenario: this.name,
      title: this.title,
      startedAt: new Date().toISOString(),
      cpuProfiled: false,
      config: { devices: DEVICES, workers: WORKERS, rates: RATES, durationS: durationMs / 1000, warmupS: WARMUP_MS / 1000, workerInFlight: WORKER_IN_FLIGHT, brokerMaxInflight: BROKER_IN_FLIGHT, brokerMaxQueued: 0, sampleOneDeviceIn: SAMPLE_ONE_DEVICE_IN, backgroundCoresBeforeSpool: round(spool.backgroundCores, 2), backgroundCoresBeforeStore: round(store.backgroundCores, 2) },
      extra: { cost, costLabel: cost.map((c) => `store @ ${fmt(c.offeredPerS)}/s: stored/s ${c.storedCostPercent >= 0 ? '−' : '+'}${fmt(Math.abs(c.storedCostPercent), 1)} %, p99 ${c.p99DifferenceMs >= 0 ? '+' : ''}${fmt(c.p99DifferenceMs)} ms`).join('; ') },
      cpuCores: phases[1]!.cpuCores,
      rssMiB: {},
      targets,
      notes,
      phases,
    };
  },
};

/** One mode from nothing: the cluster started, each rate offered for `durationMs` and drained, then stopped. */
async function runMode(ctx: BenchContext, mode: Mode, durationMs: number): Promise<ModeRun> {
  const log = (m: string) => ctx.log(`[ack-after-store/${mode}] ${m}`);
  const backgroundCores = await waitForQuiet(90_000, log);
  const dirs: string[] = [];
  const temp = (p: string) => tempDirIn(dirs, p);
  const children: ChildProcess[] = [];
  const t0 = performance.now();
  // sys_interval 1: the broker's store count is at most a second old when a window ends
  const mosquitto = await startMosquittoServer(temp('bench-ack-mq-'), { maxInflight: BROKER_IN_FLIGHT, maxQueued: 0, sysInterval: 1 });
  children.push(mosquitto.child);
  const [influx, pg] = await Promise.all([startInfluxd(), startPostgres()]);
  let fleet: GeneratorFleet | undefined;
  let sys: mqtt.MqttClient | undefined;
  const workers: ClusterNode[] = [];
  try {
    // the registry's schema, then the devices, before any worker starts (each loads them at start)
    const registry = await Registry.open(pg.url, temp('bench-ack-migrate-'), { log: pino({ level: 'warn' }) });
    await registry.close();
    const devices = makeFleet(DEVICES, `ack-${mode}`);
    await pg.sql(`INSERT INTO devices (id, kind, name, city, district, lat, lon, token_hash, created_at) VALUES ${devices.map((d) => `('${d.id}', '${d.kind}', '${d.id}', '${d.city}', '${d.district}', -0.5, 117.1, 'unused', 0)`).join(', ')}`);
    const started = await Promise.all(
      Array.from({ length: WORKERS }, (_, i) =>
        startClusterNode({
          id: `ack-${mode}-w${i + 1}`,
          role: 'ingest',
          dataDir: temp(`bench-ack-w${i + 1}-`),
          // as `npm start` runs it (tsx on the sources), like the other ingest scenarios
          command: [process.execPath, ['--import', 'tsx', join(ROOT, 'platform', 'main.ts')]],
          env: {
            PANTAU_REGISTRY_URL: pg.url, PANTAU_BROKER_URL: mosquitto.url, PANTAU_INFLUX_URL: influx.url, PANTAU_INFLUX_DB: DB,
            PANTAU_ADMIN_KEY: ctx.adminKey, PANTAU_ACK_AFTER: mode, PANTAU_DEVICE_RATE_LIMIT: '0', PANTAU_API_RATE_LIMIT: '0',
            // info: the readiness line ("subscribed to the shared telemetry …"); nothing is logged per message
            PANTAU_LOG_LEVEL: 'info',
          },
          children,
        }),
      ),
    );
    workers.push(...started);
    const startS = (performance.now() - t0) / 1000;
    log(`Mosquitto, PostgreSQL, InfluxDB and ${WORKERS} ingest workers up in ${startS.toFixed(1)} s; connecting ${DEVICES} devices…`);

    let brokerHeld: number | null = null;
    sys = await mqtt.connectAsync(mosquitto.url, { clientId: `ack-bench-sys-${mode}`, clean: true, reconnectPeriod: 0 });
    sys.on('message', (_topic, payload) => (brokerHeld = Number(payload.toString())));
    await sys.subscribeAsync('$SYS/broker/store/messages/count', { qos: 0 });

    fleet = await GeneratorFleet.start(mosquitto.url, devices, 2);
    if (fleet.connect.failed > 0) throw new Error(`${fleet.connect.failed} devices could not connect: ${fleet.connect.errors.join('; ')}`);
    const f = fleet;
    const load = { mode: 'open' as const, window: 0, batch: 1, backlogMs: 0, ackWaitMs: 20_000 };
    const acked: KindCounts = { air: 0, flood: 0, traffic: 0 };
    let published = 0;
    const count = (s: FleetStats) => {
      for (const k of KIND_CYCLE) acked[k] += s.ackedByKind[k];
      published += s.publishedReadings;
    };
    const workerSpoolBytes = async () => {
      let bytes = 0;
      for (const w of workers) {
        const text = await fetch(`${w.httpUrl}/metrics`).then((r) => r.text(), () => '');
        const m = /^pantau_spool_bytes(?:\{[^}]*\})?\s+(\S+)/m.exec(text);
        bytes += m ? Number(m[1]) : 0;
      }
      return bytes;
    };
    /**
     * Until every reading published so far is stored, or the count stands still for 10 s, or `timeoutMs`; returns
     * when the count last moved and whether everything was stored.
     */
    const drain = async (timeoutMs: number) => {
      const deadline = performance.now() + timeoutMs;
      let last = -1;
      let lastChange = performance.now();
      for (;;) {
        const n = total(await storedCounts(influx.url, DB));
        const now = performance.now();
        if (n !== last) [last, lastChange] = [n, now];
        if (n >= published || now - lastChange > 10_000 || now > deadline) return { at: lastChange, complete: n >= published };
        await sleep(250);
      }
    };

    log(`warming up for ${WARMUP_MS / 1000} s at ${RATES[0]!.toLocaleString('en')} readings/s (not measured)…`);
    count(await f.run({ ...load, rate: RATES[0]!, durationMs: WARMUP_MS, sampleDevices: [] }));
    await drain(DRAIN_TIMEOUT_MS);

    const sampleDevices = devices.filter((_, i) => i % SAMPLE_ONE_DEVICE_IN === 0).map((d) => d.id);
    const rss = new RssSampler({ workers: () => workers.map((w) => w.child.pid!), mosquitto: () => [mosquitto.child.pid!], influxd: () => [influx.process.pid!] });
    rss.start();
    const steps: StepFigures[] = [];
    for (const rate of RATES) {
      const meter = new CpuMeter({
        workers: () => workers.flatMap((w) => [w.child.pid!, ...descendants(w.child.pid!)]),
        mosquitto: () => [mosquitto.child.pid!],
        influxd: () => [influx.process.pid!],
        generators: () => f.pids(),
        orchestrator: () => [process.pid],
      });
      const probe = new LatencyProbe(influx.url, DB);
      probe.start();
      const storedBefore = total(await storedCounts(influx.url, DB));
      const publishedBefore = published;
      let end: Promise<{ stored: number; held: number | null; spool: number; cpu: ReturnType<CpuMeter['stop']> }> | undefined;
      meter.start();
      const tStart = performance.now();
      const timer = setTimeout(() => {
        const cpu = meter.stop();
        const held = brokerHeld;
        end = Promise.all([storedCounts(influx.url, DB), workerSpoolBytes()]).then(([c, spool]) => ({ stored: total(c), held, spool, cpu }));
      }, durationMs);
      log(`${rate.toLocaleString('en')} readings/s offered for ${durationMs / 1000} s…`);
      const stats = await f.run({ ...load, rate, durationMs, sampleDevices, onSamples: (items) => probe.add(items) });
      clearTimeout(timer);
      const tEnd = performance.now();
      const atEnd = await (end ?? Promise.all([storedCounts(influx.url, DB), workerSpoolBytes()]).then(([c, spool]) => ({ stored: total(c), held: brokerHeld, spool, cpu: meter.stop() })));
      count(stats);
      // a step that leaves a backlog would hand it to the next step's window: its figures would be the backlog's
      const drained = await drain(DRAIN_TIMEOUT_MS);
      const seen = await probe.stop(10_000);
      const q = probe.histogram.percentiles();
      const step: StepFigures = {
        offeredPerS: round(stats.publishedReadings / (durationMs / 1000)),
        scheduledPerS: rate,
        storedPerS: round((atEnd.stored - storedBefore) / atEnd.cpu.seconds),
        storedLatencyMs: { p50: round(q.p50), p95: round(q.p95), p99: round(q.p99), max: round(q.max), seen: q.count, samples: probe.samples },
        brokerHeldAtEnd: atEnd.held,
        workerSpoolMiBAtEnd: round(atEnd.spool / MiB, 1),
        notStoredAtEnd: Math.max(0, publishedBefore + stats.publishedReadings - atEnd.stored),
        drainS: round(Math.max(0, drained.at - Math.min(tEnd, tStart + durationMs)) / 1000, 1),
        drainedCompletely: drained.complete,
        generatorLagP99Ms: round(stats.scheduleLag.percentiles().p99, 1),
        notSent: Math.max(0, stats.dueMessages - stats.publishedMessages),
        generatorSocketBacklogKiB: Math.round(stats.socketBacklogBytes / 1024),
        brokerAckP99Ms: round(stats.ackLatency.percentiles().p99, 1),
        cpuCores: { ...cpuCores(atEnd.cpu), ...groupWaits(atEnd.cpu) },
      };
      if (seen.missing > 0) log(`${seen.missing} probed readings never seen in InfluxDB`);
      steps.push(step);
      if (!drained.complete) log(`WARNING: not everything published was stored ${DRAIN_TIMEOUT_MS / 1000} s after the window; the next step starts with a backlog`);
      log(`${rate.toLocaleString('en')}/s: stored ${Math.round(step.storedPerS)}/s, publish → stored p50 ${Math.round(q.p50)} ms p99 ${Math.round(q.p99)} ms; Mosquitto holding ${step.brokerHeldAtEnd ?? '–'} messages, ${step.notStoredAtEnd} readings not yet stored at the end; drained in ${step.drainS} s`);
    }
    rss.stop();

    // the loss check waits longer than a step's drain: a backlog left by an overloaded step is not a loss
    await drain(LOSS_CHECK_TIMEOUT_MS);
    const counts = await storedCounts(influx.url, DB);
    const brokerAcked = total(acked);
    const lost = KIND_CYCLE.reduce((n, k) => n + Math.max(0, acked[k] - counts[k]), 0);
    return {
      mode,
      backgroundCores,
      startS,
      steps,
      published,
      brokerAcked,
      stored: total(counts),
      lost,
      rssMiB: { workersPeak: round((rss.peak.workers ?? 0) / MiB), mosquittoPeak: round((rss.peak.mosquitto ?? 0) / MiB), influxdPeak: round((rss.peak.influxd ?? 0) / MiB) },
    };
  } finally {
    await fleet?.close().catch(() => undefined);
    await sys?.endAsync(true).catch(() => undefined);
    for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
    await Promise.all(workers.map((w) => Promise.race([w.exited, sleep(20_000)])));
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await influx.stop().catch(() => undefined);
    await pg.stop().catch(() => undefined);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

/** cpuCores() reports run-queue waits for the single-platform groups only; the workers' here. */
function groupWaits(cpu: ReturnType<CpuMeter['stop']>): Record<string, number> {
  return cpu.waitCores.workers === undefined ? {} : { workersRunQueueWait: round(cpu.waitCores.workers, 2) };
}
