// The log's append path under injected I/O faults, on real files: a short write at every byte of a frame, a
// failed write after part of it reached the file, a failed fsync, a failed cut-back. The faults are injected in
// the three calls the append path makes (writev, fdatasync, ftruncate) because a real disk cannot be made to fail
// at a chosen byte; what the injected call writes, it really writes. After each fault, and after a restart on the
// same directory, every acknowledged record is there exactly once, in order. (The full disk itself is tested for
// real on a small tmpfs in test/disk-full.test.ts.)
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import pino from 'pino';
import { Spool } from '../../ingest/spool.js';
import { realIo, SpoolFailedError, type SpoolIo } from '../../ingest/spool-append.js';
import { HEADER } from '../../ingest/log-format.js';

const dirs: string[] = [];
const log = pino({ level: 'silent' });
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'spool-faults-'));
  dirs.push(d);
  return d;
}

interface Plan {
  /** Writes to let through untouched before the fault below applies. */
  skip?: number;
  /** Next writev writes only this many bytes (for real) and reports them. */
  shortAt?: number;
  /** Next writev writes this many bytes (for real) and then fails with EIO. */
  failAfter?: number;
  failSync?: boolean;
  failTruncate?: boolean;
}

function faultyIo(plan: Plan): SpoolIo {
  return {
    async writev(handle: FileHandle, buffers: Buffer[], position: number) {
      const all = Buffer.concat(buffers);
      if (plan.skip) {
        plan.skip--;
        return realIo.writev(handle, buffers, position);
      }
      if (plan.shortAt !== undefined) {
        const n = plan.shortAt;
        plan.shortAt = undefined;
        if (n > 0) await handle.write(all, 0, n, position);
        return n;
      }
      if (plan.failAfter !== undefined) {
        const n = plan.failAfter;
        plan.failAfter = undefined;
        if (n > 0) await handle.write(all, 0, n, position);
        throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
      }
      return realIo.writev(handle, buffers, position);
    },
    async datasync(handle: FileHandle) {
      if (plan.failSync) {
        plan.failSync = false;
        throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      }
      return realIo.datasync(handle);
    },
    async truncate(handle: FileHandle, length: number) {
      if (plan.failTruncate) throw Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' });
      return realIo.truncate(handle, length);
    },
  };
}

/** Every record in the log from the start, via a fresh Spool on the directory (a restart). */
async function recordsAfterRestart(d: string): Promise<string[]> {
  const spool = await Spool.open({ dir: d, maxBytes: 1 << 30, log });
  const out: string[] = [];
  for (let b = spool.read(1 << 20); b; b = spool.read(1 << 20)) out.push(...b.records.map(String));
  await spool.close();
  return out;
}

const record = (i: number) => `air,device_id=dev-${i % 3} pm25=${i} ${1_700_000_000_000 + i}`;

describe('the log under injected write faults', () => {
  it('a short write at every byte of a frame acknowledges nothing until the retry has written it whole, and a restart finds each acknowledged record once', async () => {
    const frameLength = HEADER + Buffer.byteLength(record(1));
    for (let k = 0; k < frameLength; k++) {
      const d = dir();
      const plan: Plan = {};
      const spool = await Spool.open({ dir: d, maxBytes: 1 << 30, log, io: faultyIo(plan), diskFullRetryMs: 10 });
      const acked: string[] = [];
      await spool.append(record(0)).then(() => acked.push(record(0)));
      plan.shortAt = k;
      let settled = false;
      const p = spool.append(record(1)).then(() => {
        settled = true;
        acked.push(record(1));
      });
      // the short write made the spool "disk full": the append waits, unacknowledged
      await new Promise((r) => setImmediate(r));
      expect(settled).toBe(false);
      await p; // the retry (10 ms later) writes it whole
      await spool.append(record(2)).then(() => acked.push(record(2)));
      expect(spool.diskFull).toBe(false);
      await spool.close();
      expect(await recordsAfterRestart(d), `short write of ${k} bytes`).toEqual(acked);
    }
  });

  it('a short write of a batch of several frames, at every byte, then a crash: the restart holds exactly the acknowledged records', async () => {
    const batch = [record(1), record(2), record(3)];
    const batchLength = batch.reduce((n, r) => n + HEADER + Buffer.byteLength(r), 0);
    for (let k = 0; k < batchLength; k += 3) {
      const d = dir();
      const plan: Plan = {};
      const spool = await Spool.open({ dir: d, maxBytes: 1 << 30, log, io: faultyIo(plan), diskFullRetryMs: 60_000 });
      // record 0 is written on its own; the three that arrive while it is in flight share the next write (group
      // commit), and that write comes up short
      plan.skip = 1;
      plan.shortAt = k;
      const first = spool.append(record(0));
      const pending = batch.map((r) => spool.append(r).then(() => 'acked', () => 'refused'));
      await first;
      // the short write has been cut back and the batch waits for space
      while (!spool.diskFull) await new Promise((r) => setTimeout(r, 1));
      // crash while the batch waits for space: nothing of it was acknowledged
      let acked = 0;
      for (const p of pending) void p.then((v) => v === 'acked' && acked++);
      await new Promise((r) => setImmediate(r));
      expect(acked).toBe(0);
      expect(await recordsAfterRestart(d), `short write of ${k} bytes`).toEqual([record(0)]);
      await spool.close();
    }
  });

  it('a write that fails after part of its bytes reached the file is refused, cut back, and later appends land where they belong', async () => {
    const frameLength = HEADER + Buffer.byteLength(record(1));
    for (let k = 0; k <= frameLength; k += 7) {
      const d = dir();
      const plan: Plan = {};
      const spool = await Spool.open({ dir: d, maxBytes: 1 << 30, log, io: faultyIo(plan) });
      await spool.append(record(0));
      plan.failAfter = k;
      await expect(spool.append(record(1))).rejects.toThrow(/EIO/);
      await spool.append(record(2));
      // the in-process reader sees exactly the acknowledged records
      const seen: string[] = [];
      for (let b = spool.read(1 << 20); b; b = spool.read(1 << 20)) seen.push(...b.records.map(String));
      expect(seen).toEqual([record(0), record(2)]);
      await spool.close();
      expect(await recordsAfterRestart(d), `failed write after ${k} bytes`).toEqual([record(0), record(2)]);
    }
  });

  it('a failed fsync stops the log (fail-stop): that append and every later one are refused, `fatal` is emitted, and a restart keeps every acknowledged record', async () => {
    const d = dir();
    const plan: Plan = {};
    const spool = await Spool.open({ dir: d, maxBytes: 1 << 30, log, io: faultyIo(plan) });
    let fatal: Error | undefined;
    spool.on('fatal', (err: Error) => (fatal = err));
    for (let i = 0; i < 5; i++) await spool.append(record(i));
    plan.failSync = true;
    await expect(spool.append(record(5))).rejects.toBeInstanceOf(SpoolFailedError);
    expect(fatal?.message).toMatch(/fsync failed/);
    expect(spool.failed).toBeDefined();
    expect(spool.hasRoom).toBe(false);
    await expect(spool.append(record(6))).rejects.toBeInstanceOf(SpoolFailedError);
    await spool.close();
    const after = await recordsAfterRestart(d);
    // the five acknowledged records, once each and in order; the unacknowledged one may be there (it reached the
    // file before the fsync failed) — the device resends it and InfluxDB keeps one point per series and timestamp
    expect(after.slice(0, 5)).toEqual([0, 1, 2, 3, 4].map(record));
    expect(after.length === 5 || (after.length === 6 && after[5] === record(5))).toBe(true);
  });

  it('a failed cut-back after a failed write stops the log; the restart cuts the partial frame off and keeps every acknowledged record', async () => {
    const d = dir();
    const plan: Plan = {};
    const spool = await Spool.open({ dir: d, maxBytes: 1 << 30, log, io: faultyIo(plan) });
    for (let i = 0; i < 3; i++) await spool.append(record(i));
    plan.failAfter = 20; // a partial frame stays in the file
    plan.failTruncate = true;
    await expect(spool.append(record(3))).rejects.toBeInstanceOf(SpoolFailedError);
    expect(spool.failed?.message).toMatch(/could not be cut back/);
    await spool.close();
    expect(await recordsAfterRestart(d)).toEqual([0, 1, 2].map(record));
  });
});
