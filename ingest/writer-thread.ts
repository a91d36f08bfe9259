// The main thread's side of the InfluxDB writer: starts the writer in a worker thread (writer-worker.ts), tells it
// how far the log is durable, and applies what it reports — commits (which free the spool), refused lines (which
// become `storage_refused` rejections), write timings and InfluxDB's state. A writer thread that dies is
// restarted from the last commit; nothing is lost, at worst a batch is written twice (same points, same
// timestamps: InfluxDB keeps one).
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { InfluxOptions } from '../influx/client.js';
import type { Spool } from './spool.js';
import type { FromWorker, ToWorker, WriterWorkerData } from './writer-protocol.js';

export interface WriterThreadOptions {
  spool: Spool;
  influx: InfluxOptions;
  log: Logger;
  batchBytes?: number;
  concurrency?: number;
  lingerMs?: number;
  onRefused: (line: string, reason: string) => void;
  onWritten?: (lines: number, seconds: number) => void;
  onStateChange?: (up: boolean) => void;
}

/** The worker's entry: the compiled .js beside this file, or a loader shim for the .ts source (tsx, tests). */
function workerEntry(): URL {
  const fromSource = import.meta.url.endsWith('.ts');
  return new URL(fromSource ? './writer-worker.dev.mjs' : './writer-worker.js', import.meta.url);
}

export class WriterThread {
  private worker: Worker | undefined;
  private up = true;
  private stopping = false;
  private stopped: (() => void) | undefined;
  private boundsQueued = false;
  private restartTimer: NodeJS.Timeout | undefined;
  lastError: string | null = null;

  constructor(private readonly opts: WriterThreadOptions) {
    const post = () => {
      if (this.boundsQueued) return;
      this.boundsQueued = true;
      setImmediate(() => {
        this.boundsQueued = false;
        this.send({ type: 'bounds', ...this.opts.spool.bounds() });
      });
    };
    opts.spool.on('data', post);
    opts.spool.on('bounds', post);
  }

  get influxUp(): boolean {
    return this.up;
  }

  start(): void {
    if (this.worker || this.stopping) return;
    const { spool } = this.opts;
    const { segments, durableEnd } = spool.bounds();
    const data: WriterWorkerData = {
      dir: spool.dir,
      from: spool.committed,
      segments,
      durableEnd,
      influx: this.opts.influx,
      batchBytes: this.opts.batchBytes,
      concurrency: this.opts.concurrency,
      lingerMs: this.opts.lingerMs,
    };
    const worker = new Worker(workerEntry(), { workerData: data, name: 'pantau-influx-writer' });
    this.worker = worker;
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (err) => this.opts.log.error({ err }, 'InfluxDB writer thread failed'));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      if (this.stopping) {
        this.stopped?.();
        return;
      }
      this.opts.log.error({ code }, 'InfluxDB writer thread exited; restarting it from the last commit in 1 s');
      this.restartTimer = setTimeout(() => this.start(), 1000);
      this.restartTimer.unref();
    });
  }

  /** Drain (up to `timeoutMs`): the writer writes what the log holds, then stops. Call before the spool closes. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return;
    const done = new Promise<void>((resolve) => (this.stopped = resolve));
    this.send({ type: 'bounds', ...this.opts.spool.bounds() });
    this.send({ type: 'stop', timeoutMs: Math.max(0, timeoutMs - 100) });
    await Promise.race([done, new Promise((r) => setTimeout(r, timeoutMs + 500))]);
    await worker.terminate();
  }

  private send(m: ToWorker): void {
    this.worker?.postMessage(m);
  }

  private onMessage(m: FromWorker): void {
    const { spool, log } = this.opts;
    switch (m.type) {
      case 'commit':
        spool.commit(m.end);
        break;
      case 'refused':
        this.opts.onRefused(m.line, m.reason);
        break;
      case 'written':
        this.opts.onWritten?.(m.lines, m.seconds);
        break;
      case 'state':
        this.up = m.up;
        this.lastError = m.lastError;
        this.opts.onStateChange?.(m.up);
        break;
      case 'corrupt':
        spool.corruptSkips++;
        break;
      case 'log':
        log[m.level](m.obj, m.msg);
        break;
      case 'stopped':
        this.stopped?.();
        break;
    }
  }
}
