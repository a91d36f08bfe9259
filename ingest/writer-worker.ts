// The InfluxDB writer's thread. It reads the log's segment files itself (only the durable range the main thread
// announces), turns records into `/write` requests and reports commits back; the main thread's event loop is left
// to the broker and the acknowledgement path. See writer-thread.ts for the other side.
import { EventEmitter } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import type { Logger } from 'pino';
import { InfluxClient, type InfluxOptions } from '../influx/client.js';
import { InfluxWriter, type WriterSource } from './influx-writer.js';
import { SegmentReader, type SegmentBounds } from './log-format.js';
import type { ToWorker, FromWorker, WriterWorkerData } from './writer-protocol.js';

const data = workerData as WriterWorkerData;
const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);

const log = {
  level: 'info',
  child: () => log,
  ...Object.fromEntries(
    (['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const).map((level) => [
      level,
      (objOrMsg: unknown, msg?: string) => {
        const obj = typeof objOrMsg === 'string' ? {} : (objOrMsg as Record<string, unknown>);
        const text = typeof objOrMsg === 'string' ? objOrMsg : (msg ?? '');
        const safe: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(obj ?? {})) safe[k] = v instanceof Error ? v.message : v;
        post({ type: 'log', level, obj: safe, msg: text });
      },
    ]),
  ),
} as unknown as Logger;

class ThreadSource extends EventEmitter implements WriterSource {
  private readonly reader: SegmentReader;
  private committed: number;
  private durableEnd: number;

  constructor(dir: string, from: number, segments: SegmentBounds[], durableEnd: number) {
    super();
    this.committed = from;
    this.durableEnd = durableEnd;
    this.reader = new SegmentReader(dir, from, (info) => {
      log.error(info, 'spool: corrupt record in the middle of the log; the rest of this segment is skipped');
      post({ type: 'corrupt' });
    });
    this.reader.setBounds(segments, durableEnd);
  }

  bounds(segments: SegmentBounds[], durableEnd: number): void {
    this.durableEnd = durableEnd;
    this.reader.setBounds(segments, durableEnd);
    this.emit('data');
  }

  read(maxBytes: number) {
    return this.reader.read(maxBytes);
  }

  commit(end: number): void {
    if (end <= this.committed) return;
    this.committed = end;
    post({ type: 'commit', end });
  }

  get unreadBytes(): number {
    return this.reader.unread;
  }

  get pendingBytes(): number {
    return Math.max(0, this.durableEnd - this.committed);
  }
}

const source = new ThreadSource(data.dir, data.from, data.segments, data.durableEnd);
const writer = new InfluxWriter({
  spool: source,
  influx: new InfluxClient(data.influx as InfluxOptions),
  log,
  // only what was set: an undefined option would hide the writer's default
  ...(data.batchBytes !== undefined && { batchBytes: data.batchBytes }),
  ...(data.concurrency !== undefined && { concurrency: data.concurrency }),
  ...(data.lingerMs !== undefined && { lingerMs: data.lingerMs }),
  onRefused: (line, reason) => post({ type: 'refused', line, reason }),
  onWritten: (lines, seconds) => post({ type: 'written', lines, seconds }),
  onStateChange: (up) => post({ type: 'state', up, lastError: writer.lastError }),
});
writer.start();

port.on('message', (m: ToWorker) => {
  if (m.type === 'bounds') source.bounds(m.segments, m.durableEnd);
  else if (m.type === 'stop') {
    void writer.stop(m.timeoutMs).then(() => post({ type: 'stopped' }));
  }
});
