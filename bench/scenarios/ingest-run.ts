// One measured ingest run, shared by the MQTT scenarios: private InfluxDB, a platform seeded from a fleet file,
// load-generator processes, a measured window, then the drain and the count in InfluxDB.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kind } from '../../catalog/index.js';
import { startInfluxd } from '../../test/support/influxd.js';
import type { BenchContext } from '../context.js';
import { formatProfile, monotonicUs, otherThreadProfiles, summariseProfile, type ProfileSummary } from '../cpu-profile.js';
import { KIND_CYCLE, makeFleet, writeFleetFile } from '../fleet.js';
import { GeneratorFleet, type FleetStats } from '../generators.js';
import { LatencyProbe } from '../latency-probe.js';
import { startBenchPlatform } from '../platform-process.js';
import { CpuMeter, RssSampler, waitForQuiet, type CpuReport } from '../proc-stats.js';
import type { IngestFigures } from '../result.js';
import { rejectionCount, storedCounts, total, waitDrained, type KindCounts } from '../stored.js';

export interface IngestRunOptions {
  label: string;
  devices: number;
  processes: number;
  mode: 'window' | 'rate' | 'open';
  window: number;
  batch: number;
  /** Total messages/s for modes `rate` and `open`. */
  rate?: number;
  /** After the run, how long the generators wait for outstanding PUBACKs. Default 20 s. */
  ackWaitMs?: number;
  durationMs: number;
  /** Load before the measured window (JIT, connection set-up), counted for loss but not for rates. Default 5 s. */
  warmupMs?: number;
  backlogMs?: number;
  platformEnv?: Record<string, string>;
  /** Report every reading of one device in this many for the publish → queryable probe (0 = no probe). */
  sampleOneDeviceIn?: number;
  connectConcurrency?: number;
  kinds?: readonly Kind[];
  /** Called while connected and loaded, e.g. to read the platform's connection count. */
  during?: (info: { platformMetrics: () => Promise<Record<string, number>> }) => Promise<Record<string, unknown>>;
}

export interface IngestRunResult {
  figures: IngestFigures;
  cpu: CpuReport;
  rssMiB: Record<string, number>;
  startMs: number;
  connect: GeneratorFleet['connect'];
  stats: FleetStats;
  probe?: LatencyProbe;
  probeMissing?: number;
  profile?: ProfileSummary;
  threadProfiles?: ProfileSummary[];
  during?: Record<string, unknown>;
  platformOutput: string;
  /** Cores busy on the machine just before the platform started (other work; should be ~0). */
  backgroundCores: number;
}

const MiB = 1024 * 1024;

export async function ingestRun(ctx: BenchContext, o: IngestRunOptions): Promise<IngestRunResult> {
  const backgroundCores = await waitForQuiet(90_000, (m) => ctx.log(`[${o.label}] ${m}`));
  const influx = await startInfluxd();
  const tmp = mkdtempSync(join(tmpdir(), 'pantau-bench-fleet-'));
  let platform: Awaited<ReturnType<typeof startBenchPlatform>> | undefined;
  let fleet: GeneratorFleet | undefined;
  try {
    const db = `bench_${o.label.replace(/[^a-z0-9]/g, '_')}`;
    const devices = makeFleet(o.devices, 'bench', o.kinds ?? KIND_CYCLE);
    const fleetFile = join(tmp, 'fleet.json');
    writeFleetFile(fleetFile, devices);
    ctx.log(`[${o.label}] starting platform with ${o.devices} devices (fleet file)…`);
    platform = await startBenchPlatform({
      influxUrl: influx.url,
      db,
      adminKey: ctx.adminKey,
      fleetFile,
      env: o.platformEnv,
      cpuProfDir: ctx.cpuProf ? join(ctx.profileDir, o.label) : undefined,
    });
    ctx.log(`[${o.label}] platform up in ${(platform.startMs / 1000).toFixed(1)} s; connecting ${o.devices} MQTT clients from ${o.processes} processes…`);
    fleet = await GeneratorFleet.start(platform.mqttUrl, devices, o.processes, { connectConcurrency: o.connectConcurrency });
    ctx.log(`[${o.label}] ${fleet.connect.connected} connected, ${fleet.connect.failed} failed in ${(fleet.connect.ms / 1000).toFixed(1)} s${fleet.connect.errors.length ? ` (${fleet.connect.errors.join('; ')})` : ''}`);

    const p = platform;
    const f = fleet;
    const warmupMs = o.warmupMs ?? 5000;
    const load = { mode: o.mode, window: o.window, batch: o.batch, rate: o.rate, backlogMs: o.backlogMs ?? 0, ackWaitMs: o.ackWaitMs ?? 20_000 };
    let warm: FleetStats | undefined;
    if (warmupMs > 0) {
      ctx.log(`[${o.label}] warming up for ${warmupMs / 1000} s (not measured)…`);
      warm = await fleet.run({ ...load, durationMs: warmupMs, sampleDevices: [] });
    }
    // the warm-up's readings are stored before the measured window starts, so the stored rate is the window's own
    const storedBefore = warm ? total((await waitDrained(p, influx.url, db, warm.ackedByKind, warm.publishedReadings, 60_000)).counts) : 0;
    const meter = new CpuMeter({
      platform: () => p.pids(),
      influxd: () => [influx.process.pid!],
      generators: () => f.pids(),
      orchestrator: () => [process.pid],
    });
    const rss = new RssSampler({ platform: () => [p.mainPid()], influxd: () => [influx.process.pid!], generators: () => f.pids() });
    const sampleEvery = o.sampleOneDeviceIn ?? 0;
    const sampleDevices = sampleEvery > 0 ? devices.filter((_, i) => i % sampleEvery === 0).map((d) => d.id) : [];
    const probe = sampleDevices.length > 0 ? new LatencyProbe(influx.url, db) : undefined;
    probe?.start();

    const metricsBefore = await p.metrics();
    let metricsAfter: Promise<Record<string, number>> | undefined;
    let storedAtEnd: Promise<KindCounts> | undefined;
    rss.start();
    const memory = traceMemory(() => p.metrics());
    meter.start();
    const t0 = performance.now();
    const windowUs = { fromUs: monotonicUs(), toUs: Infinity };
    let cpu: CpuReport | undefined;
    const cpuTimer = setTimeout(() => {
      cpu = meter.stop();
      windowUs.toUs = monotonicUs();
      metricsAfter = p.metrics();
      storedAtEnd = storedCounts(influx.url, db);
    }, o.durationMs);
    let lastLog = 0;
    const duringPromise = o.during?.({ platformMetrics: () => p.metrics() });
    const stats = await fleet.run({
      ...load,
      durationMs: o.durationMs,
      sampleDevices,
      onSamples: (items) => probe?.add(items),
      onProgress: (published, acked, connected) => {
        const now = performance.now();
        if (now - lastLog < 10_000) return;
        lastLog = now;
        const s = (now - t0) / 1000;
        ctx.log(`[${o.label}] ${s.toFixed(0)} s: published ${published}, acknowledged ${acked} (${Math.round(acked / s)}/s), ${connected} connected`);
      },
    });
    clearTimeout(cpuTimer);
    cpu ??= meter.stop();
    if (windowUs.toUs === Infinity) windowUs.toUs = monotonicUs();
    const metricsEnd = await (metricsAfter ?? p.metrics());
    // where the platform's memory is at the end of the window: JS heap (objects) or outside it (buffers)
    const mib = (name: string) => Math.round((metricsEnd[name] ?? NaN) / 1048576);
    ctx.log(`[${o.label}] platform memory at the end of the window: JS heap used ${mib('pantau_nodejs_heap_size_used_bytes')} MiB of ${mib('pantau_nodejs_heap_size_total_bytes')}, external (buffers) ${mib('pantau_nodejs_external_memory_bytes')} MiB, RSS ${mib('pantau_process_resident_memory_bytes')} MiB`);
    const writer = writerFigures(metricsBefore, metricsEnd, cpu.seconds);
    const storedInWindow = total(await (storedAtEnd ?? storedCounts(influx.url, db))) - storedBefore;
    const during = await duringPromise;
    rss.stop();
    const peakMemory = await memory.stop();
    if (peakMemory) ctx.log(`[${o.label}] ${describePeakMemory(peakMemory, t0)}`);
    const platformMetrics = await p.metrics().catch(() => ({}) as Record<string, number>);

    ctx.log(`[${o.label}] run over; waiting for the spool to drain into InfluxDB…`);
    const acked = addKinds(stats.ackedByKind, warm?.ackedByKind);
    const published = stats.publishedReadings + (warm?.publishedReadings ?? 0);
    const drained = await waitDrained(p, influx.url, db, acked, published);
    const probeResult = probe ? await probe.stop() : undefined;
    const rejected = await rejectionCount(influx.url, db);
    const runS = stats.runMs / 1000;
    const lost = KIND_CYCLE.reduce((n, k) => n + Math.max(0, acked[k] - drained.counts[k]), 0);
    const stored = total(drained.counts);
    const open = o.mode === 'open';
    const figures: IngestFigures = {
      devices: o.devices,
      durationS: runS,
      // open loop: everything sent went out within the scheduled window (a send later than that is counted as not
      // sent), so the window is the denominator; a late last tick would otherwise lower the rate
      offeredPerS: stats.publishedReadings / (open ? o.durationMs / 1000 : runS),
      ...(open
        ? {
            scheduledPerS: (o.rate ?? 0) * o.batch,
            notSent: Math.max(0, stats.dueMessages - stats.publishedMessages) * o.batch,
            scheduleLagMs: stats.scheduleLag.percentiles(),
          }
        : {}),
      generatorSocketBacklogKiB: Math.round(stats.socketBacklogBytes / 1024),
      // every thread of every process of the platform's tree (utime + stime in /proc/<pid>/stat) over the window
      platformCpuUsPerStored: storedInWindow > 0 ? (1e6 * (cpu.cores.platform ?? 0) * cpu.seconds) / storedInWindow : NaN,
      ...gcShare(metricsBefore, metricsEnd, (cpu.cores.platform ?? 0) * cpu.seconds),
      ackedPerS: stats.ackedReadingsInRun / runS,
      storedPerS: storedInWindow / cpu.seconds,
      storedInclDrainPerS: (stored - storedBefore) / ((drained.storedAt - t0) / 1000),
      spoolMiBAtEnd: Math.round((metricsEnd.pantau_spool_bytes ?? 0) / 1048576),
      published,
      acked: total(acked),
      stored,
      lost,
      unacked: published - total(acked),
      skipped: stats.skipped * o.batch,
      rejected,
      disconnects: stats.disconnects,
      drainS: Math.max(0, (drained.storedAt - t0) / 1000 - runS),
      ackLatencyMs: stats.ackLatency.percentiles(),
      ...writer,
    };
    if (drained.timedOut) ctx.log(`[${o.label}] WARNING: InfluxDB count still below the acknowledged count after 180 s`);
    if (platformMetrics.pantau_ingest_rejected_total) ctx.log(`[${o.label}] platform counted ${platformMetrics.pantau_ingest_rejected_total} rejections`);

    await fleet.close();
    fleet = undefined;
    const stop = await platform.stop();
    if (stop.code !== 0) ctx.log(`[${o.label}] platform exited with ${stop.code ?? stop.signal} after SIGTERM`);
    let profile: ProfileSummary | undefined;
    let threadProfiles: ProfileSummary[] | undefined;
    const profFile = platform.profileFile();
    if (profFile) {
      profile = { ...summariseProfile(profFile, 15, windowUs), thread: 0 };
      ctx.log(formatProfile(profile));
      // worker threads (an InfluxDB writer off the main event loop) write profiles of their own
      threadProfiles = otherThreadProfiles(join(ctx.profileDir, o.label), platform.mainPid())
        .map(({ thread, file }) => ({ ...summariseProfile(file, 10, windowUs), thread }))
        .filter((t) => t.totalMs - t.idleMs >= 100);
      for (const t of threadProfiles) ctx.log(formatProfile(t));
    }
    return {
      figures,
      cpu,
      rssMiB: {
        platformPeak: (rss.peak.platform ?? 0) / MiB,
        platformEnd: (rss.last.platform ?? 0) / MiB,
        influxdPeak: (rss.peak.influxd ?? 0) / MiB,
        generatorsPeak: (rss.peak.generators ?? 0) / MiB,
      },
      startMs: platform.startMs,
      connect: f.connect,
      stats,
      probe,
      probeMissing: probeResult?.missing,
      profile,
      threadProfiles,
      during,
      platformOutput: platform.output(),
      backgroundCores,
    };
  } finally {
    await fleet?.close().catch(() => undefined);
    if (platform) await platform.stop().catch(() => undefined);
    await influx.stop().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
}

function addKinds(a: KindCounts, b: KindCounts | undefined): KindCounts {
  return { air: a.air + (b?.air ?? 0), flood: a.flood + (b?.flood ?? 0), traffic: a.traffic + (b?.traffic ?? 0) };
}

const GC_SECONDS = 'pantau_nodejs_gc_duration_seconds_sum';

/** GC pause time of the platform's main thread over the window ÷ the platform's CPU seconds in it. */
function gcShare(before: Record<string, number>, after: Record<string, number>, cpuSeconds: number): { gcShare?: number } {
  if (after[GC_SECONDS] === undefined || before[GC_SECONDS] === undefined || cpuSeconds <= 0) return {};
  return { gcShare: (after[GC_SECONDS] - before[GC_SECONDS]) / cpuSeconds };
}

/** The InfluxDB writer over the window, from the platform's own metrics: requests/s and points per request. */
function writerFigures(before: Record<string, number>, after: Record<string, number>, seconds: number) {
  const delta = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
  const writes = delta('pantau_influx_write_duration_seconds_count');
  return {
    influxWritesPerS: Math.round((10 * writes) / seconds) / 10,
    pointsPerWrite: writes > 0 ? Math.round(delta('pantau_influx_points_written_total') / writes) : 0,
    influxWriteMeanMs: writes > 0 ? Math.round((10_000 * delta('pantau_influx_write_duration_seconds_sum')) / writes) / 10 : 0,
  };
}

/** One reading of the platform's /metrics: where its memory is (main thread's heap, buffers) and what it holds. */
interface MemorySample {
  at: number;
  m: Record<string, number>;
}

/**
 * The platform's /metrics once a second from the start of the window until the generators are done (their wait for
 * owed PUBACKs included: under overload, that drain is where RSS peaks), keeping the reading with the largest RSS.
 */
function traceMemory(read: () => Promise<Record<string, number>>) {
  let peak: MemorySample | undefined;
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = performance.now();
      const m = await read().catch(() => undefined);
      const rss = m?.pantau_process_resident_memory_bytes;
      if (m && rss !== undefined && rss > (peak?.m.pantau_process_resident_memory_bytes ?? -1)) peak = { at, m };
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (performance.now() - at))));
    }
  })();
  return {
    async stop(): Promise<MemorySample | undefined> {
      running = false;
      await loop;
      return peak;
    },
  };
}

function describePeakMemory({ at, m }: MemorySample, t0: number): string {
  const mib = (name: string) => Math.round((m[name] ?? NaN) / MiB);
  const heapTotal = m.pantau_nodejs_heap_size_total_bytes ?? NaN;
  const external = m.pantau_nodejs_external_memory_bytes ?? NaN;
  const rest = Math.round(((m.pantau_process_resident_memory_bytes ?? NaN) - heapTotal - external) / MiB);
  return (
    `platform memory at its largest /metrics RSS (${((at - t0) / 1000).toFixed(0)} s after the window's start): RSS ${mib('pantau_process_resident_memory_bytes')} MiB = ` +
    `main thread's JS heap ${mib('pantau_nodejs_heap_size_total_bytes')} (used ${mib('pantau_nodejs_heap_size_used_bytes')}) + external (buffers) ${mib('pantau_nodejs_external_memory_bytes')} + ` +
    `the rest (code, other threads' heaps, native) ${rest}; spool ${mib('pantau_spool_bytes')} MiB, writer lag ${mib('pantau_log_consumer_lag_bytes')} MiB summed over consumers, ` +
    `${Math.round(m.pantau_spool_blocked_publishes ?? 0)} publishes waiting for the spool, ${Math.round(m.pantau_mqtt_connections ?? 0)} connections`
  );
}
