// The output stage: drains the spool into InfluxDB's `/write`, in order, with a few requests in flight (one
// request cannot keep InfluxDB busy), retrying with exponential backoff and jitter while InfluxDB is down or
// slow. A batch InfluxDB refuses (HTTP 400: a bad line, a field type conflict) never blocks the spool: it is
// split until the refused lines are isolated; those are reported with InfluxDB's reason and the rest is
// written. Re-sending lines InfluxDB already took is harmless: a point is identified by series + timestamp.

import type { Logger } from 'pino';
import { InfluxRefusedError, type InfluxClient } from '../influx/client.js';
import type { LogBatch } from './log-format.js';

/** Where the writer reads from: the log (in a worker thread: its own reader of the segment files). */
export interface WriterSource {
  read(maxBytes: number): LogBatch | null;
  /** Everything before `end` is in InfluxDB. */
  commit(end: number): void;
  /** Durable bytes not read yet. */
  readonly unreadBytes: number;
  /** Bytes not yet committed. */
  readonly pendingBytes: number;
  on(event: 'data', listener: () => void): unknown;
}

export interface WriterOptions {
  spool: WriterSource;
  influx: InfluxClient;
  log: Logger;
  /** Bytes of line protocol per request. */
  batchBytes?: number;
  concurrency?: number;
  /** A line InfluxDB refused on its own, with InfluxDB's reason. */
  onRefused: (line: string, reason: string) => void;
  onWritten?: (lines: number, seconds: number) => void;
  onStateChange?: (up: boolean) => void;
  maxBackoffMs?: number;
  /**
   * When little is waiting, wait this long for more before sending: many slow devices would otherwise cause one
   * request per fsync with a couple of points each (the cost is per request, not per point).
   */
  lingerMs?: number;
}

interface Slot {
  batch: LogBatch;
  done: boolean;
}

export class InfluxWriter {
  private readonly opts: Required<Omit<WriterOptions, 'onWritten' | 'onStateChange'>> & Pick<WriterOptions, 'onWritten' | 'onStateChange'>;
  private inFlight: Slot[] = [];
  private running = false;
  private wake: (() => void) | null = null;
  private up = true;
  private failures = 0;
  private stopping = false;
  private loops: Promise<void>[] = [];
  lastError: string | null = null;
  private sleepTimers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  constructor(options: WriterOptions) {
    this.opts = { batchBytes: 512 * 1024, concurrency: 2, maxBackoffMs: 10_000, lingerMs: 10, ...options };
    this.opts.spool.on('data', () => this.notify());
  }

  get influxUp(): boolean {
    return this.up;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    for (let i = 0; i < this.opts.concurrency; i++) this.loops.push(this.loop());
  }

  /** Stop taking new batches; wait (up to `timeoutMs`) for the spool to drain and requests in flight to end. */
  async stop(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.running && Date.now() < deadline && (this.inFlight.length > 0 || this.opts.spool.pendingBytes > 0) && this.up) {
      await new Promise((r) => setTimeout(r, 20));
    }
    this.stopping = true;
    this.running = false;
    this.notify();
    for (const s of this.sleepTimers) {
      clearTimeout(s.timer);
      s.resolve();
    }
    const remaining = Math.max(0, deadline - Date.now());
    await Promise.race([Promise.all(this.loops), new Promise((r) => setTimeout(r, remaining))]);
    this.loops = [];
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const { spool, lingerMs, batchBytes } = this.opts;
      if (lingerMs > 0 && spool.unreadBytes > 0 && spool.unreadBytes < batchBytes / 8) await this.sleep(lingerMs);
      const batch = this.opts.spool.read(this.opts.batchBytes);
      if (!batch) {
        await new Promise<void>((resolve) => {
          const prev = this.wake;
          this.wake = () => {
            prev?.();
            resolve();
          };
        });
        continue;
      }
      const slot: Slot = { batch, done: false };
      this.inFlight.push(slot);
      const ok = await this.writeBatch(batch);
      if (!ok) return; // stopping: the batch stays in the spool for the next start
      slot.done = true;
      // commit in order: only the completed prefix of in-flight batches
      while (this.inFlight.length > 0 && this.inFlight[0]!.done) {
        this.opts.spool.commit(this.inFlight.shift()!.batch.end);
      }
    }
  }

  private async writeBatch(batch: LogBatch): Promise<boolean> {
    const body = joinLines(batch.records);
    while (!this.stopping) {
      const started = process.hrtime.bigint();
      try {
        await this.writeIsolating(body);
        this.opts.onWritten?.(countLines(body), Number(process.hrtime.bigint() - started) / 1e9);
        this.setUp(true);
        return true;
      } catch (err) {
        this.setUp(false, err as Error);
        await this.backoff();
      }
    }
    return false;
  }

  /** Write; on a 400 split the body and retry the halves until each refused line stands alone. */
  private async writeIsolating(body: Buffer | string): Promise<void> {
    try {
      await this.opts.influx.write(body);
    } catch (err) {
      if (!(err instanceof InfluxRefusedError) || (err.status !== 400 && err.status !== 413)) throw err;
      if (/database not found/i.test(err.message)) throw err;
      const text = body.toString();
      const lines = text.split('\n').filter((l) => l.length > 0);
      if (lines.length <= 1) {
        this.opts.onRefused(lines[0] ?? text, err.message);
        return;
      }
      const mid = lines.length >> 1;
      await this.writeIsolating(lines.slice(0, mid).join('\n'));
      await this.writeIsolating(lines.slice(mid).join('\n'));
    }
  }

  private setUp(up: boolean, err?: Error): void {
    if (up) {
      this.failures = 0;
      this.lastError = null;
    } else {
      this.failures++;
      this.lastError = err?.message ?? 'unknown error';
      if (/database not found/i.test(this.lastError)) {
        void this.opts.influx.createDatabase().catch(() => undefined);
      }
    }
    if (up !== this.up) {
      this.up = up;
      if (up) this.opts.log.info('InfluxDB writes succeed again; draining the spool');
      else this.opts.log.warn({ reason: this.lastError }, 'InfluxDB writes fail; readings wait in the spool');
      this.opts.onStateChange?.(up);
    }
  }

  private backoff(): Promise<void> {
    const base = Math.min(this.opts.maxBackoffMs, 100 * 2 ** Math.min(this.failures, 10));
    return this.sleep(base / 2 + Math.random() * (base / 2));
  }

  /** A pause that `stop` cuts short. */
  private sleep(delay: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = { timer: setTimeout(() => {
        this.sleepTimers.delete(entry);
        resolve();
      }, delay), resolve };
      this.sleepTimers.add(entry);
    });
  }
}

/** A batch's records as one body, a newline between each two: the bytes as stored, copied once. */
export function joinLines(records: readonly Buffer[]): Buffer {
  let size = Math.max(0, records.length - 1);
  for (const r of records) size += r.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = 0; i < records.length; i++) {
    if (i > 0) out[at++] = 0x0a;
    at += records[i]!.copy(out, at);
  }
  return out;
}

/** Lines in a body (a record may hold several). */
export function countLines(body: Buffer): number {
  let n = body.length > 0 ? 1 : 0;
  for (let i = body.indexOf(0x0a); i !== -1; i = body.indexOf(0x0a, i + 1)) n++;
  return n;
}
