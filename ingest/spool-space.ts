// The spool's disk budget: how big a segment file grows, and how much of the file system is left to others. A
// reserve (a few % of the file system, at most 256 MiB) is kept for the registry and the checkpoints, so the spool
// counts as full before the file system is; the free space is measured again every 250 ms (spool.ts). What the
// spool does when full is the append path's (spool-append.ts) and the cursors' (spool-cursors.ts).
import { statfsSync } from 'node:fs';
import { statfs } from 'node:fs/promises';

export interface SpaceOptions {
  /** Segment file size; default: 1/16 of the file system, between 1 MiB and 64 MiB. */
  segmentBytes?: number;
  /** Free space left to others on the file system; default: 5 % of it, between 256 KiB and 256 MiB. */
  diskReserveBytes?: number;
}

export class DiskSpace {
  readonly segmentBytes: number;
  readonly reserveBytes: number;
  /** Free bytes at the last measurement. */
  private freeBytes = Number.POSITIVE_INFINITY;

  /** `dir` must exist: the defaults are shares of its file system. */
  constructor(private readonly dir: string, options: SpaceOptions) {
    let fsBytes = 0;
    try {
      const s = statfsSync(dir);
      fsBytes = s.blocks * s.bsize;
    } catch {
      // unknown file system size: defaults below
    }
    const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));
    this.segmentBytes = options.segmentBytes ?? (fsBytes > 0 ? clamp(Math.floor(fsBytes / 16), 1 << 20, 64 << 20) : 64 << 20);
    this.reserveBytes = options.diskReserveBytes ?? (fsBytes > 0 ? clamp(Math.floor(fsBytes * 0.05), 256 << 10, 256 << 20) : 0);
  }

  /** Free space is below the reserve. */
  get short(): boolean {
    return this.freeBytes < this.reserveBytes;
  }

  /** Whether `bytes` more would still leave the reserve (and at least 1 MiB) free. */
  roomFor(bytes: number): boolean {
    return this.freeBytes - bytes > Math.max(this.reserveBytes, 1 << 20);
  }

  /** Measure the free space again (on an error the last figure stays); true when that ended a shortage. */
  async measure(): Promise<boolean> {
    try {
      const s = await statfs(this.dir);
      const before = this.short;
      this.freeBytes = s.bavail * s.bsize;
      return before && !this.short;
    } catch {
      return false;
    }
  }
}
