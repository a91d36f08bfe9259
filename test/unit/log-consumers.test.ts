// Consumers of the ingest log, on real files: each in order after the acknowledgement, each on its own cursor; a
// throwing or stuck consumer changes nothing for acknowledgements or for the others; a durable consumer resumes
// after a restart from its checkpoint, reading back from disk exactly what it had not handled.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Spool } from '../../ingest/spool.js';
import type { LogConsumer, LogEntry, LogReading } from '../../ingest/log-types.js';
import { line, seriesKey } from '../../influx/line-protocol.js';

const dirs: string[] = [];
const log = pino({ level: 'silent' });
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'log-consumers-'));
  dirs.push(d);
  return d;
}

const key = seriesKey('air', { device_id: 'aq-1', city: 'Samarinda', district: 'Sungai Pinang' });
function reading(i: number): LogReading {
  return { deviceId: 'aq-1', kind: 'air', ts: 1_750_000_000_000 + i * 1000, values: { pm25: i + 0.5, pm10: i * 2 } };
}
/** Append one message's reading the way ingest does: line protocol on disk, the decoded reading beside it. */
function append(spool: Spool, i: number): Promise<number> {
  const r = reading(i);
  return spool.append(line(key, r.values, r.ts), { readings: [r], rejections: [], derivedLines: 0 });
}

function collector(name: string, durable: boolean, behaviour: (entries: LogEntry[]) => void | Promise<void> = () => undefined) {
  const seen: LogReading[] = [];
  const consumer: LogConsumer = {
    name,
    durable,
    async handle(entries) {
      await behaviour(entries);
      for (const e of entries) seen.push(...e.readings);
    },
  };
  return { consumer, seen };
}

/** A durable consumer stuck on its first batch until `release()`. */
function stuckCollector(name: string) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  return { ...collector(name, true, () => gate), release };
}

const until = async (cond: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('log consumers', () => {
  it('hands every entry to every consumer in log order, and only after its append was acknowledged', async () => {
    const spool = await Spool.open({ dir: dir(), maxBytes: 1 << 30, log });
    const acked = new Set<number>();
    const early: number[] = [];
    const a = collector('a', true, (entries) => {
      for (const e of entries) for (const r of e.readings) if (!acked.has(r.ts)) early.push(r.ts);
    });
    const b = collector('b', false);
    spool.addConsumer(a.consumer);
    spool.addConsumer(b.consumer);
    await Promise.all(Array.from({ length: 500 }, (_, i) => append(spool, i).then(() => acked.add(reading(i).ts))));
    await until(() => a.seen.length === 500 && b.seen.length === 500);
    expect(a.seen).toEqual(Array.from({ length: 500 }, (_, i) => reading(i)));
    expect(b.seen).toEqual(a.seen);
    expect(early).toEqual([]);
    await spool.close();
  });

  it('a consumer that throws loses only its own entries: acknowledgements and the other consumers go on, and the failures are counted', async () => {
    const spool = await Spool.open({ dir: dir(), maxBytes: 1 << 30, log });
    const failures: string[] = [];
    spool.consumers.onError = (name) => failures.push(name);
    const thrower = collector('alerts', true, () => {
      throw new Error('rule exploded');
    });
    const ok = collector('latest', false);
    spool.addConsumer(thrower.consumer);
    spool.addConsumer(ok.consumer);
    for (let i = 0; i < 50; i++) await append(spool, i);
    await until(() => ok.seen.length === 50);
    await until(() => spool.consumers.status().every((s) => s.lagBytes === 0));
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.every((n) => n === 'alerts')).toBe(true);
    expect(spool.consumers.status().find((s) => s.name === 'alerts')!.errors).toBe(failures.length);
    await spool.close();
  });

  it('a stuck consumer delays no acknowledgement, and the log keeps what it has not handled', async () => {
    const d = dir();
    const spool = await Spool.open({ dir: d, maxBytes: 1 << 30, segmentBytes: 4096, log });
    const stuck = stuckCollector('rollups');
    const other = collector('stream', false);
    spool.addConsumer(stuck.consumer);
    spool.addConsumer(other.consumer);
    for (let i = 0; i < 300; i++) await append(spool, i); // every append resolves while `rollups` is stuck
    await until(() => other.seen.length === 300);
    // the InfluxDB writer has everything (commit), but the stuck consumer still needs the older segments
    for (let b = spool.read(1 << 20); b; b = spool.read(1 << 20)) spool.commit(b.end);
    await new Promise((r) => setTimeout(r, 400)); // past the checkpoint save
    expect(readdirSync(d).filter((n) => n.endsWith('.log')).length).toBeGreaterThan(3);
    stuck.release();
    await until(() => stuck.seen.length === 300);
    await spool.close();
  });

  /** Watch a `stored(end)` promise: whether it resolved or rejected yet. */
  function watch(p: Promise<void>) {
    const state = { resolved: false, error: undefined as Error | undefined };
    p.then(() => (state.resolved = true), (err: Error) => (state.error = err));
    return state;
  }
  const commitAll = (spool: Spool) => {
    for (let b = spool.read(1 << 20); b; b = spool.read(1 << 20)) spool.commit(b.end);
  };

  it('stored(end) (PANTAU_ACK_AFTER=store) waits, past the writer\'s commit, for every durable consumer to handle the entry; an ephemeral one does not count', async () => {
    const spool = await Spool.open({ dir: dir(), maxBytes: 1 << 30, log });
    const feed = stuckCollector('alert-feed');
    const live = stuckCollector('stream');
    const view = { ...live, consumer: { ...live.consumer, durable: false } };
    spool.addConsumer(feed.consumer);
    spool.addConsumer(view.consumer);
    const end = await append(spool, 0);
    const stored = watch(spool.stored(end));
    commitAll(spool); // in InfluxDB
    expect(spool.committed).toBeGreaterThanOrEqual(end);
    await new Promise((r) => setTimeout(r, 300));
    expect(stored).toEqual({ resolved: false, error: undefined });
    feed.release();
    await until(() => stored.resolved); // while the ephemeral consumer is still stuck
    expect(feed.seen).toEqual([reading(0)]);
    expect(view.seen).toEqual([]);
    // once every durable cursor is past it, at once
    await spool.stored(end);
    view.release();
    await spool.close();
  });

  it('stored(end) does not wait for a durable consumer whose work stays in the data dir (nodeLocal: the rollups)', async () => {
    const spool = await Spool.open({ dir: dir(), maxBytes: 1 << 30, log });
    const rollups = stuckCollector('rollups');
    spool.addConsumer({ ...rollups.consumer, nodeLocal: true });
    const end = await append(spool, 0);
    const stored = watch(spool.stored(end));
    await new Promise((r) => setTimeout(r, 100));
    expect(stored.resolved).toBe(false); // the writer has not committed it
    commitAll(spool);
    await until(() => stored.resolved);
    expect(rollups.seen).toEqual([]);
    rollups.release();
    await spool.close();
  });

  it('stored(end) is released when the durable consumer holding it is detached for lagging', async () => {
    const spool = await Spool.open({ dir: dir(), maxBytes: 1 << 30, segmentBytes: 4096, maxConsumerLagBytes: 8192, log });
    const feed = stuckCollector('alert-feed');
    spool.addConsumer(feed.consumer);
    const end = await append(spool, 0);
    const stored = watch(spool.stored(end));
    commitAll(spool);
    await new Promise((r) => setTimeout(r, 300));
    expect(stored.resolved).toBe(false);
    // readings taken without waiting (QoS 0, derived points) carry the log's end past the lag limit
    for (let i = 1; i < 400; i++) await append(spool, i);
    commitAll(spool);
    await until(() => spool.detached.includes('alert-feed'));
    await until(() => stored.resolved);
    expect(feed.seen).toEqual([]); // still stuck: released by the detach, not by the consumer
    feed.release();
    await spool.close();
  });

  it('stored(end) waiting on a durable consumer is rejected when the spool closes', async () => {
    const spool = await Spool.open({ dir: dir(), maxBytes: 1 << 30, log });
    const feed = stuckCollector('alert-feed');
    spool.addConsumer(feed.consumer);
    const end = await append(spool, 0);
    const stored = spool.stored(end);
    commitAll(spool);
    const closing = spool.close(200);
    await expect(stored).rejects.toThrow('spool is closed');
    feed.release();
    await closing;
  });

  it('a lagging durable consumer keeps no decoded backlog in memory: it reads back from disk and misses nothing', async () => {
    const spool = await Spool.open({ dir: dir(), maxBytes: 1 << 30, log });
    const lagging = stuckCollector('rollups');
    const live = collector('stream', false);
    spool.addConsumer(lagging.consumer);
    spool.addConsumer(live.consumer);
    // 400 messages of 100 readings each (a gateway's backlog), while `rollups` is stuck on its first batch
    const batch = (m: number) => Array.from({ length: 100 }, (_, k) => reading(m * 100 + k));
    let peak = 0;
    for (let m = 0; m < 400; m += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, j) => {
        const rs = batch(m + j);
        return spool.append(rs.map((r) => line(key, r.values, r.ts)).join('\n'), { readings: rs, rejections: [], derivedLines: 0 });
      }));
      await until(() => live.seen.length === (m + 20) * 100);
      peak = Math.max(peak, spool.consumers.held.readings);
    }
    // what the consumers that read from memory still need, not the 40,000 readings the stuck one has not had
    expect(peak).toBeLessThanOrEqual(16_000 + 100);
    expect(spool.consumers.held.readings).toBeLessThanOrEqual(16_000 + 100);
    lagging.release();
    await until(() => lagging.seen.length === 40_000, 20_000);
    expect(lagging.seen).toEqual(Array.from({ length: 40_000 }, (_, i) => reading(i)));
    // what it read back is counted (pantau_log_consumer_read_back_bytes_total): more than the 24,000 readings
    // past the window, of about 60 bytes of line protocol each; the one that kept up read nothing back
    const readBack = Object.fromEntries(spool.consumers.status().map((c) => [c.name, c.readBackBytes]));
    expect(readBack.rollups).toBeGreaterThan(24_000 * 40);
    expect(readBack.stream).toBe(0);
    await spool.close();
  });

  it('a durable consumer further behind than the lag limit is detached, its segments freed, and resumes from the oldest record kept', async () => {
    const d = dir();
    const spool = await Spool.open({ dir: d, maxBytes: 1 << 30, segmentBytes: 4096, maxConsumerLagBytes: 8192, log });
    const events: Array<[string, boolean]> = [];
    spool.on('consumer-detached', (name: string, detached: boolean) => events.push([name, detached]));
    const stuck = stuckCollector('alert-feed');
    spool.addConsumer(stuck.consumer);
    for (let i = 0; i < 400; i++) await append(spool, i);
    // the InfluxDB writer has everything: only the stuck consumer could keep the segments
    for (let b = spool.read(1 << 20); b; b = spool.read(1 << 20)) spool.commit(b.end);
    await until(() => spool.detached.includes('alert-feed'));
    await until(() => readdirSync(d).filter((n) => n.endsWith('.log')).length <= 2, 5000);
    expect(events).toEqual([['alert-feed', true]]);
    stuck.release();
    await until(() => events.length === 2);
    expect(events[1]).toEqual(['alert-feed', false]);
    for (let i = 400; i < 410; i++) await append(spool, i);
    await until(() => stuck.seen.some((r) => r.ts === reading(409).ts));
    // what it saw: its first batch, then from the oldest record kept on: in order, with the gap in between
    const ts = stuck.seen.map((r) => r.ts);
    expect([...ts].sort((a, b) => a - b)).toEqual(ts);
    expect(ts.length).toBeLessThan(410);
    expect(spool.detached).toEqual([]);
    await spool.close();
  });

  it('with deferred consumers, no consumer runs and no segment is deleted until every durable consumer is registered', async () => {
    const d = dir();
    const spool = await Spool.open({ dir: d, maxBytes: 1 << 30, segmentBytes: 4096, deferConsumers: true, log });
    for (let i = 0; i < 300; i++) await append(spool, i);
    for (let b = spool.read(1 << 20); b; b = spool.read(1 << 20)) spool.commit(b.end);
    await new Promise((r) => setTimeout(r, 400)); // past the checkpoint save
    expect(readdirSync(d).filter((n) => n.endsWith('.log')).length).toBeGreaterThan(3);
    const late = collector('alert-feed', true);
    spool.addConsumer(late.consumer);
    spool.startConsumers();
    await until(() => late.seen.length === 300);
    expect(late.seen).toEqual(Array.from({ length: 300 }, (_, i) => reading(i)));
    await spool.close();
  });

  it('a durable consumer resumes after a restart from its checkpoint, reading back from disk exactly what it had not handled', async () => {
    const d = dir();
    const first = await Spool.open({ dir: d, maxBytes: 1 << 30, log });
    const before = collector('alerts', true);
    first.addConsumer(before.consumer);
    for (let i = 0; i < 100; i++) await append(first, i);
    await until(() => before.seen.length === 100);
    await first.close(); // checkpoints saved: `alerts` has handled 100
    // a second life: 50 more appended, then a "crash" before the consumer is registered (it never saw them)
    const second = await Spool.open({ dir: d, maxBytes: 1 << 30, log });
    for (let i = 100; i < 150; i++) await append(second, i);
    await second.close();
    const third = await Spool.open({ dir: d, maxBytes: 1 << 30, log });
    const after = collector('alerts', true);
    third.addConsumer(after.consumer);
    await until(() => after.seen.length === 50);
    // decoded from the line protocol on disk: the same readings that were appended
    expect(after.seen).toEqual(Array.from({ length: 50 }, (_, i) => reading(100 + i)));
    await new Promise((r) => setTimeout(r, 100));
    expect(after.seen.length).toBe(50);
    await third.close();
  });
});

describe('log consumers that fall behind a busy event loop', () => {
  // The runner hands a consumer one batch a turn of the event loop. Under load a turn can carry more readings than
  // one batch (2,000): here every turn appends 3,000. A consumer behind by more than two batches takes bigger ones
  // until it has caught up; with one batch a turn it fell further behind each turn, past the tail's cap, where an
  // ephemeral consumer skips (the latest values and the live stream missed readings) and a durable one reads
  // back from disk (in open-single, 32 MiB of the log in 30 s).
  it('an ephemeral consumer keeps up with 3,000 readings a turn and misses none', async () => {
    const { ConsumerRunner } = await import('../../ingest/consumers.js');
    let durableEnd = 0;
    const fakeLog = {
      dir: '/nonexistent',
      get durableEnd() {
        return durableEnd;
      },
      bounds: () => ({ segments: [], durableEnd }),
      advance: () => undefined,
      reattach: () => undefined,
    };
    const runner = new ConsumerRunner(fakeLog, log);
    const stream = collector('stream', false);
    runner.add(stream.consumer, 0);
    let n = 0;
    let peakHeld = 0;
    for (let turn = 0; turn < 60; turn++) {
      const entries = Array.from({ length: 30 }, () => {
        const readings = Array.from({ length: 100 }, () => reading(n++));
        const start = durableEnd;
        durableEnd += 1000;
        return { start, entry: { end: durableEnd, appendedAt: Date.now(), readings, rejections: [], derivedLines: 0 } };
      });
      runner.appended(entries);
      peakHeld = Math.max(peakHeld, runner.held.readings);
      await new Promise((r) => setImmediate(r));
    }
    await until(() => runner.status()[0]!.lagBytes === 0);
    expect(stream.seen.length).toBe(180_000);
    expect(stream.seen.every((r, i) => r.ts === reading(i).ts)).toBe(true);
    // it caught up within a few turns: the tail never came near its cap of 40,000 readings
    expect(peakHeld).toBeLessThan(20_000);
    runner.close();
  });
});
