// The spool's segment files: which exist, the one being appended to, and the log's durable end. Recovery on open
// (a torn or unfinished record at the end of the log is cut off), rolling over to a new file, and deleting files
// every durable cursor has passed. The record format and reading records back are log-format.ts's; when a file
// rolls over or goes is decided by the spool (spool.ts), what gets written by the append path (spool-append.ts).
import { closeSync, fsyncSync, ftruncateSync, openSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { NAME_DIGITS, SEGMENT_NAME, scanValidLength, segmentPath, type SegmentBounds } from './log-format.js';

export interface Segment extends SegmentBounds {
  path: string;
}

export class SegmentFiles {
  /** Oldest first; records are appended to the last one. Changed in place: readers hold this array. */
  readonly list: Segment[];
  /** Logical offset up to which data is fsync'd. */
  end: number;
  /** The last segment, open for appending. */
  active: FileHandle;

  private constructor(private readonly dir: string, private readonly log: Logger, list: Segment[], active: FileHandle) {
    this.list = list;
    this.active = active;
    const last = list[list.length - 1]!;
    this.end = last.base + last.size;
  }

  /**
   * The segments in `dir`, the last one open for appending; an empty log starts at `firstBase` (past every
   * checkpoint). `cut` says that a torn tail was cut off the last segment.
   */
  static async open(dir: string, firstBase: number, log: Logger): Promise<{ files: SegmentFiles; cut: boolean }> {
    const names = readdirSync(dir).filter((n) => SEGMENT_NAME.test(n)).sort();
    const list: Segment[] = names.map((name) => {
      const path = join(dir, name);
      return { base: Number(name.slice(0, NAME_DIGITS)), path, size: statSync(path).size };
    });
    if (list.length === 0) {
      list.push({ base: firstBase, path: segmentPath(dir, firstBase), size: 0 });
      writeFileSync(list[0]!.path, '');
      fsyncDir(dir);
    }
    // A torn or corrupt tail in the last segment (power loss mid-append, or a fail-stop before the cut-back) is
    // cut off; nothing there was acknowledged. Earlier records stay.
    const last = list[list.length - 1]!;
    const validEnd = scanValidLength(last.path, last.size);
    const cut = validEnd < last.size;
    if (cut) {
      log.error(
        { segment: last.path, validBytes: validEnd, droppedBytes: last.size - validEnd },
        'spool: torn or unfinished record at the end of the log (unacknowledged); cut off, earlier records kept',
      );
      const fd = openSync(last.path, 'r+');
      ftruncateSync(fd, validEnd);
      fsyncSync(fd);
      closeSync(fd);
      last.size = validEnd;
    }
    return { files: new SegmentFiles(dir, log, list, await open(last.path, 'r+')), cut };
  }

  /** Offset of the oldest byte still on disk. */
  get start(): number {
    return this.list[0]!.base;
  }

  get last(): Segment {
    return this.list[this.list.length - 1]!;
  }

  bounds(): SegmentBounds[] {
    return this.list.map((s) => ({ base: s.base, size: s.size }));
  }

  /** `bytes` written to `segment` (the last one) are durable. */
  grew(segment: Segment, bytes: number): void {
    segment.size += bytes;
    this.end += bytes;
  }

  /** Continue in a new segment starting at the end of the log; false (logged) when it could not be created. */
  async roll(): Promise<boolean> {
    const base = this.end;
    try {
      const next = await open(segmentPath(this.dir, base), 'w+');
      await this.active.close();
      this.active = next;
      this.list.push({ base, path: segmentPath(this.dir, base), size: 0 });
      fsyncDir(this.dir);
      return true;
    } catch (err) {
      // keep appending to the current segment; a later flush tries again
      this.log.error({ err }, 'spool: could not start a new segment file');
      return false;
    }
  }

  /** Delete the segments that lie wholly before `floor` (never the last one). */
  removeBefore(floor: number): void {
    while (this.list.length > 1 && this.list[1]!.base <= floor) {
      const old = this.list.shift()!;
      rmSync(old.path, { force: true });
    }
  }

  async close(): Promise<void> {
    await this.active.close().catch(() => undefined);
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    fsyncSync(fd);
    closeSync(fd);
  } catch {
    // not supported everywhere; the segment's own fsync still holds its data
  }
}
