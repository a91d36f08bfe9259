// Stored rollup rows kept in memory, so a long-range answer does not make InfluxDB read and encode a year of them
// again (docs/history.md, Performance). A stored bucket changes only when it is recomputed, and every
// recomputation of this process goes through RollupComputer, which calls `invalidate` once its rows are written;
// a backfill run by another process (`npm run rollups`) commits its progress to rollups.sqlite, which this cache
// sees (`externalVersion`) and then forgets everything. A fill that was under way while something was invalidated
// is answered but not kept: it may have read the rows from before the write.
//
// Chunks are also read again after `maxAgeMs` (10 minutes): InfluxDB's retention service deletes expired rollups
// (PANTAU_ROLLUP_RETENTION) every 30 minutes by itself, and an operator may drop a measurement by hand.
//
// Rows are kept per (kind, resolution, device, statistics) in chunks of a fixed span aligned on the epoch, as
// InfluxDB returns them (a device that moved city has two rows at one time; the reader combines them), values in
// one Float64Array with NaN for "no value". The cache holds at most `maxCells` values; the least recently used
// chunks go first.
import type { Kind } from '../catalog/index.js';
import { DAY_MS } from '../catalog/time.js';
import type { Series } from '../influx/client.js';
import type { Resolution, Stat } from './schema.js';
import { FillCache, type FillOptions, type Filled } from './fill-cache.js';

export interface RowChunk {
  /** Row times, ascending. */
  ts: Float64Array;
  /** Column names (`<field>_<stat>`), without `time`. */
  columns: string[];
  /** `data[row * columns.length + column]`; NaN where the row has no value. */
  data: Float64Array;
}

export interface ChunkKey {
  kind: Kind;
  resolution: Resolution;
  deviceId: string;
  stats: readonly Stat[];
}

/** Span of one chunk: about a month of hourly rows, more than a year of daily ones. */
export const CHUNK_MS: Record<Resolution, number> = { '1h': 32 * DAY_MS, '1d': 400 * DAY_MS };

interface Entry extends Filled<RowChunk> {
  kind: Kind;
  resolution: Resolution;
  deviceId: string;
  index: number;
}

export class RollupRowCache extends FillCache<RowChunk, Entry> {
  /** `maxCells` 4 million values (about 32 MiB), `maxAgeMs` 10 minutes by default. */
  constructor(options: FillOptions = {}) {
    super(options, { maxCells: 4_000_000, maxAgeMs: 600_000 }, (chunk) => chunk.data.length + chunk.ts.length);
  }

  /**
   * The chunks that hold [from, to) of `key`, read with `fetch(chunkFrom, chunkTo)` where not in memory.
   * The caller keeps only the rows inside [from, to).
   */
  async chunks(key: ChunkKey, from: number, to: number, fetch: (from: number, to: number) => Promise<RowChunk>, now = Date.now()): Promise<RowChunk[]> {
    const span = CHUNK_MS[key.resolution];
    const prefix = `${key.kind}\u0000${key.resolution}\u0000${key.deviceId}\u0000${key.stats.join(',')}\u0000`;
    const out: Array<Promise<RowChunk>> = [];
    for (let index = Math.floor(from / span); index * span < to; index++) {
      const id = prefix + index;
      const hit = this.hit(id, now);
      if (hit) {
        out.push(hit.value);
        continue;
      }
      const entry: Entry = { kind: key.kind, resolution: key.resolution, deviceId: key.deviceId, index, value: fetch(index * span, (index + 1) * span), cells: 0, at: now };
      this.keep(id, entry);
      out.push(entry.value);
    }
    return Promise.all(out);
  }

  /**
   * Buckets of [from, to) of `kind` at `resolution` were rewritten, of one device or (deviceId undefined) of any:
   * forget the chunks that hold them, and keep no fill that was under way.
   */
  invalidate(kind: Kind, resolution: Resolution, from: number, to: number, deviceId?: string): void {
    const span = CHUNK_MS[resolution];
    const first = Math.floor(from / span);
    const last = Math.floor((to - 1) / span);
    this.forget((e) => e.kind === kind && e.resolution === resolution && e.index >= first && e.index <= last && (deviceId === undefined || e.deviceId === deviceId));
  }

  /** Values held (for tests and the cache's bound). */
  size(): { chunks: number; cells: number } {
    const held = this.held();
    return { chunks: held.entries, cells: held.cells };
  }
}

/** InfluxDB's answer (one series of stored rollup rows, `epoch=ms`) → a chunk. */
export function toRowChunk(series: Series | undefined): RowChunk {
  if (!series) return { ts: new Float64Array(0), columns: [], data: new Float64Array(0) };
  const columns = series.columns.slice(1);
  const width = columns.length;
  const ts = new Float64Array(series.values.length);
  const data = new Float64Array(series.values.length * width);
  for (let r = 0; r < series.values.length; r++) {
    const row = series.values[r]!;
    ts[r] = Number(row[0]);
    for (let c = 0; c < width; c++) {
      const v = row[c + 1];
      data[r * width + c] = typeof v === 'number' ? v : NaN;
    }
  }
  return { ts, columns, data };
}
