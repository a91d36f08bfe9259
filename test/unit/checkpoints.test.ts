// The consumer checkpoints file on real files: two slots written in turn, so a save torn by a crash (power loss in
// the middle of the 4 KiB write) leaves the previous checkpoints readable.
import { afterEach, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointFile } from '../../ingest/checkpoints.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'checkpoints-unit-'));
  dirs.push(d);
  return d;
}

/** The file as a crash in the middle of the write from `before` to `after` leaves it: the first half of the change. */
function torn(before: Buffer, after: Buffer): Buffer {
  let first = 0;
  while (first < before.length && before[first] === after[first]) first++;
  let last = before.length - 1;
  while (last > first && before[last] === after[last]) last--;
  const out = Buffer.from(before);
  after.copy(out, first, first, first + Math.max(1, Math.floor((last - first + 1) / 2)));
  return out;
}

describe('consumer checkpoints file', () => {
  it('a save torn by a crash leaves the previous checkpoints, from the very first save of a new file on', async () => {
    const d = dir();
    const path = join(d, 'checkpoints');
    let values: Record<string, number> = { influxdb: 100, alerts: 90 };
    const file = await CheckpointFile.open(path, values);
    expect(file.persisted).toEqual(values);
    for (let n = 1; n <= 6; n++) {
      const before = readFileSync(path);
      const next = { influxdb: 100 + n * 1000, alerts: 90 + n * 1000 };
      expect(await file.save(next)).toBe(true);
      const after = readFileSync(path);
      // reopen a copy of the file as the crash would have left it
      const crashed = join(d, `crashed-${n}`);
      writeFileSync(crashed, torn(before, after));
      const reopened = await CheckpointFile.open(crashed);
      expect(reopened.persisted, `torn save number ${n}`).toEqual(values);
      await reopened.close();
      // and the completed save is what a reopen reads
      const done = join(d, `done-${n}`);
      copyFileSync(path, done);
      const complete = await CheckpointFile.open(done);
      expect(complete.persisted).toEqual(next);
      await complete.close();
      values = next;
    }
    await file.close();
  });
});
