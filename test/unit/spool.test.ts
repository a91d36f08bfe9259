// The spool on real files: order across segments, commit and checkpoint, torn tails, corruption, the budget.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Spool } from '../../ingest/spool.js';

const dirs: string[] = [];
const logs: string[] = [];
const log = pino({ level: 'info' }, { write: (s: string) => logs.push(s) });
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  logs.length = 0;
});

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'spool-unit-'));
  dirs.push(d);
  return d;
}

function drain(spool: Spool): string[] {
  const out: string[] = [];
  for (let b = spool.read(1000); b; b = spool.read(1000)) {
    out.push(...b.records.map((r) => r.toString()));
    spool.commit(b.end);
  }
  return out;
}

describe('spool', () => {
  it('returns records in append order across segment files, and deletes segments once committed', async () => {
    const d = dir();
    const spool = await Spool.open({ dir: d, maxBytes: 1 << 30, segmentBytes: 200, log });
    const records = Array.from({ length: 50 }, (_, i) => `air,device_id=a pm25=${i} ${1000 + i}`);
    for (const r of records) await spool.append(r);
    expect(readdirSync(d).filter((n) => n.endsWith('.log')).length).toBeGreaterThan(3);
    expect(drain(spool)).toEqual(records);
    expect(spool.pendingBytes).toBe(0);
    // segments go once the writer's checkpoint is durable (saved within 200 ms of a commit)
    const deadline = Date.now() + 3000;
    while (readdirSync(d).filter((n) => n.endsWith('.log')).length > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(readdirSync(d).filter((n) => n.endsWith('.log')).length).toBe(1);
    await spool.close();
  });

  it('resumes after a restart from the checkpoint, replaying only what was not committed', async () => {
    const d = dir();
    const first = await Spool.open({ dir: d, maxBytes: 1 << 30, log });
    for (let i = 0; i < 10; i++) await first.append(`r${i}`);
    const batch = first.read(16 * 3 + 6)!; // the first three records
    expect(batch.records.map(String)).toEqual(['r0', 'r1', 'r2']);
    first.commit(batch.end);
    await first.close();
    const second = await Spool.open({ dir: d, maxBytes: 1 << 30, log });
    expect(drain(second)).toEqual(['r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9']);
    await second.close();
  });

  it('cuts a torn record off the tail at start-up and keeps every record before it', async () => {
    const d = dir();
    const first = await Spool.open({ dir: d, maxBytes: 1 << 30, log });
    for (let i = 0; i < 5; i++) await first.append(`record-${i}`);
    await first.close();
    const seg = join(d, readdirSync(d).find((n) => n.endsWith('.log'))!);
    const bytes = readFileSync(seg);
    writeFileSync(seg, bytes.subarray(0, bytes.length - 3)); // power lost mid-append
    const second = await Spool.open({ dir: d, maxBytes: 1 << 30, log });
    expect(logs.join('')).toMatch(/torn or unfinished record/);
    await second.append('after-restart');
    expect(drain(second)).toEqual(['record-0', 'record-1', 'record-2', 'record-3', 'after-restart']);
    await second.close();
  });

  it('skips the rest of a segment whose record fails its checksum, logs it, and goes on with the next segment', async () => {
    const d = dir();
    const first = await Spool.open({ dir: d, maxBytes: 1 << 30, segmentBytes: 60, log });
    for (let i = 0; i < 12; i++) await first.append(`rec-${String(i).padStart(2, '0')}`);
    await first.close();
    const segments = readdirSync(d).filter((n) => n.endsWith('.log')).sort();
    expect(segments.length).toBeGreaterThan(2);
    // flip a payload byte in the second record of the first segment
    const seg = join(d, segments[0]!);
    const bytes = readFileSync(seg);
    const second = 16 + bytes.readUInt32LE(0);
    bytes[second + 16] = bytes[second + 16]! ^ 0xff;
    writeFileSync(seg, bytes);
    const spool = await Spool.open({ dir: d, maxBytes: 1 << 30, segmentBytes: 60, log });
    const got = drain(spool);
    expect(got[0]).toBe('rec-00');
    expect(got).not.toContain('rec-01');
    expect(got[got.length - 1]).toBe('rec-11');
    expect(spool.corruptSkips).toBe(1);
    expect(logs.join('')).toMatch(/corrupt record in the middle of the log; the rest of this segment is skipped/);
    await spool.close();
  });

  it('reports when it is over its byte budget and wakes waiters once commits bring it below', async () => {
    const d = dir();
    const spool = await Spool.open({ dir: d, maxBytes: 100, log });
    await spool.append('x'.repeat(60));
    expect(spool.hasRoom).toBe(true);
    await spool.append('y'.repeat(60));
    expect(spool.hasRoom).toBe(false);
    let woke = false;
    const waiting = spool.waitForRoom().then(() => (woke = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(woke).toBe(false);
    drain(spool);
    await waiting;
    expect(woke).toBe(true);
    expect(spool.oldestPendingAt()).toBeNull();
    await spool.close();
    expect(statSync(join(d, 'checkpoints')).size).toBe(8192);
  });
});
