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
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const stuck = collector('rollups', true, () => gate);
    const other = collector('stream', false);
    spool.addConsumer(stuck.consumer);
    spool.addConsumer(other.consumer);
    for (let i = 0; i < 300; i++) await append(spool, i); // every append resolves while `rollups` is stuck
    await until(() => other.seen.length === 300);
    // the InfluxDB writer has everything (commit), but the stuck consumer still needs the older segments
    for (let b = spool.read(1 << 20); b; b = spool.read(1 << 20)) spool.commit(b.end);
    await new Promise((r) => setTimeout(r, 400)); // past the checkpoint save
    expect(readdirSync(d).filter((n) => n.endsWith('.log')).length).toBeGreaterThan(3);
    release();
    await until(() => stuck.seen.length === 300);
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
