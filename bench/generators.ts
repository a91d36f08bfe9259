// The orchestrator's side of the load generators: fork N processes (node + the tsx loader, so each is one
// measurable pid), split the devices between them round-robin, run them in step and add up what they report.
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Kind } from '../catalog/index.js';
import type { ChildMessage, ConnectResult, GeneratorDevice, GeneratorStats, RunMessage, Sample } from './generator-protocol.js';
import { Histogram } from './histogram.js';
import { ROOT } from './paths.js';

export interface FleetStats extends Omit<GeneratorStats, 'ackLatency' | 'runMs' | 'scheduleLag'> {
  ackLatency: Histogram;
  scheduleLag: Histogram;
  runMs: number;
}

export interface RunOptions extends Omit<RunMessage, 'type' | 'rate'> {
  /** Total messages/s over all processes (mode `rate`); split by each process's share of the devices. */
  rate?: number;
  onSamples?: (items: Sample[]) => void;
  onProgress?: (publishedReadings: number, ackedReadings: number, connected: number) => void;
}

interface Generator {
  child: ChildProcess;
  devices: number;
  progress: { publishedReadings: number; ackedReadings: number; connected: number };
}

export class GeneratorFleet {
  private constructor(
    private readonly generators: Generator[],
    readonly connect: ConnectResult,
  ) {}

  static async start(url: string, devices: GeneratorDevice[], processes: number, options: { connectConcurrency?: number; keepaliveSeconds?: number } = {}): Promise<GeneratorFleet> {
    const shares: GeneratorDevice[][] = Array.from({ length: processes }, () => []);
    devices.forEach((d, i) => shares[i % processes]!.push(d));
    const generators: Generator[] = shares.map((share) => ({
      child: fork(join(ROOT, 'bench', 'load-generator.ts'), [], {
        cwd: ROOT,
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
      devices: share.length,
      progress: { publishedReadings: 0, ackedReadings: 0, connected: 0 },
    }));
    const results = await Promise.all(
      generators.map((g, index) => {
        g.child.send({ type: 'setup', index, url, devices: shares[index]!, connectConcurrency: options.connectConcurrency ?? 50, keepaliveSeconds: options.keepaliveSeconds ?? 60 });
        return waitFor<{ type: 'connected'; result: ConnectResult }>(g.child, 'connected', 300_000);
      }),
    );
    const connect: ConnectResult = {
      connected: results.reduce((n, r) => n + r.result.connected, 0),
      failed: results.reduce((n, r) => n + r.result.failed, 0),
      errors: results.flatMap((r) => r.result.errors).slice(0, 5),
      ms: Math.max(...results.map((r) => r.result.ms)),
    };
    return new GeneratorFleet(generators, connect);
  }

  pids(): number[] {
    return this.generators.map((g) => g.child.pid!).filter(Boolean);
  }

  async run(options: RunOptions): Promise<FleetStats> {
    const total = this.generators.reduce((n, g) => n + g.devices, 0);
    const { onSamples, onProgress, rate, ...rest } = options;
    for (const g of this.generators) g.progress = { publishedReadings: 0, ackedReadings: 0, connected: 0 };
    const listeners = this.generators.map((g) => {
      const listener = (m: ChildMessage) => {
        if (m.type === 'samples') onSamples?.(m.items);
        else if (m.type === 'progress') {
          g.progress = m;
          const sum = this.generators.reduce((s, x) => ({ p: s.p + x.progress.publishedReadings, a: s.a + x.progress.ackedReadings, c: s.c + x.progress.connected }), { p: 0, a: 0, c: 0 });
          onProgress?.(sum.p, sum.a, sum.c);
        }
      };
      g.child.on('message', listener);
      return listener;
    });
    const done = this.generators.map((g) => {
      const message: RunMessage = { type: 'run', ...rest, rate: ((rate ?? 0) * g.devices) / total };
      g.child.send(message);
      return waitFor<{ type: 'done'; stats: GeneratorStats }>(g.child, 'done', options.durationMs + options.ackWaitMs + 60_000);
    });
    const all = await Promise.all(done);
    this.generators.forEach((g, i) => g.child.off('message', listeners[i]!));
    return merge(all.map((m) => m.stats));
  }

  async close(): Promise<void> {
    await Promise.all(
      this.generators.map(async (g) => {
        if (g.child.exitCode !== null || !g.child.connected) return;
        const exited = new Promise((r) => g.child.once('exit', r));
        g.child.send({ type: 'close' });
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
        if (g.child.exitCode === null) g.child.kill('SIGKILL');
      }),
    );
  }
}

function waitFor<T extends ChildMessage>(child: ChildProcess, type: T['type'], timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`load generator ${child.pid}: no "${type}" within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    const onMessage = (m: ChildMessage) => {
      if (m.type !== type) return;
      cleanup();
      resolve(m as T);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`load generator ${child.pid} exited (${code}) while waiting for "${type}"`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

function merge(all: GeneratorStats[]): FleetStats {
  const byKind = (pick: (s: GeneratorStats) => Record<Kind, number>) => {
    const out: Record<Kind, number> = { air: 0, flood: 0, traffic: 0 };
    for (const s of all) for (const k of Object.keys(out) as Kind[]) out[k] += pick(s)[k];
    return out;
  };
  const sum = (pick: (s: GeneratorStats) => number) => all.reduce((n, s) => n + pick(s), 0);
  const ackLatency = new Histogram();
  const scheduleLag = new Histogram();
  for (const s of all) {
    ackLatency.merge(s.ackLatency);
    scheduleLag.merge(s.scheduleLag);
  }
  return {
    publishedMessages: sum((s) => s.publishedMessages),
    publishedReadings: sum((s) => s.publishedReadings),
    publishedByKind: byKind((s) => s.publishedByKind),
    ackedMessages: sum((s) => s.ackedMessages),
    ackedReadings: sum((s) => s.ackedReadings),
    ackedByKind: byKind((s) => s.ackedByKind),
    ackedReadingsInRun: sum((s) => s.ackedReadingsInRun),
    errors: sum((s) => s.errors),
    unacked: sum((s) => s.unacked),
    skipped: sum((s) => s.skipped),
    disconnects: sum((s) => s.disconnects),
    ackLatency,
    runMs: Math.max(...all.map((s) => s.runMs)),
    dueMessages: sum((s) => s.dueMessages),
    scheduleLag,
    socketBacklogBytes: sum((s) => s.socketBacklogBytes),
  };
}
