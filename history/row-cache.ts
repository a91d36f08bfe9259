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

interface Entry {
  kind: Kind;
  resolution: Resolution;
  deviceId: string;
  index: number;
  chunk: Promise<RowChunk>;
  cells: number;
  at: number;
}

export class RollupRowCache {
  private readonly entries = new Map<string, Entry>();
  private generation = 0;
  private cells = 0;
  private seenVersion: number | undefined;
  /** Chunks read from InfluxDB and answered from memory, since start. */
  readonly totals = { fills: 0, hits: 0, invalidations: 0 };

  constructor(private readonly options: { maxCells?: number; maxAgeMs?: number; externalVersion?: () => number } = {}) {}

  /**
   * The chunks that hold [from, to) of `key`, read with `fetch(chunkFrom, chunkTo)` where not in memory.
   * The caller keeps only the rows inside [from, to).
   */
  async chunks(key: ChunkKey, from: number, to: number, fetch: (from: number, to: number) => Promise<RowChunk>, now = Date.now()): Promise<RowChunk[]> {
    this.checkExternal();
    const maxAge = this.options.maxAgeMs ?? 600_000;
    const span = CHUNK_MS[key.resolution];
    const prefix = `${key.kind}\u0000${key.resolution}\u0000${key.deviceId}\u0000${key.stats.join(',')}\u0000`;
    const out: Array<Promise<RowChunk>> = [];
    for (let index = Math.floor(from / span); index * span < to; index++) {
      const id = prefix + index;
      const hit = this.entries.get(id);
      if (hit && now - hit.at > maxAge) this.remove(id, hit);
      else if (hit) {
        // most recently used last
        this.entries.delete(id);
        this.entries.set(id, hit);
        this.totals.hits++;
        out.push(hit.chunk);
        continue;
      }
      this.totals.fills++;
      const generation = this.generation;
      const entry: Entry = { kind: key.kind, resolution: key.resolution, deviceId: key.deviceId, index, chunk: fetch(index * span, (index + 1) * span), cells: 0, at: now };
      this.entries.set(id, entry);
      entry.chunk.then(
        (chunk) => {
          if (this.entries.get(id) !== entry) return;
          if (generation !== this.generation) {
            this.entries.delete(id);
            return;
          }
          entry.cells = chunk.data.length + chunk.ts.length;
          this.cells += entry.cells;
          this.evict();
        },
        () => {
          if (this.entries.get(id) === entry) this.entries.delete(id);
        },
      );
      out.push(entry.chunk);
    }
    return Promise.all(out);
  }

  /**
   * Buckets of [from, to) of `kind` at `resolution` were rewritten, of one device or (deviceId undefined) of any:
   * forget the chunks that hold them, and keep no fill that was under way.
   */
  invalidate(kind: Kind, resolution: Resolution, from: number, to: number, deviceId?: string): void {
    this.generation++;
    this.totals.invalidations++;
    const span = CHUNK_MS[resolution];
    const first = Math.floor(from / span);
    const last = Math.floor((to - 1) / span);
    for (const [id, e] of this.entries) {
      if (e.kind !== kind || e.resolution !== resolution || e.index < first || e.index > last) continue;
      if (deviceId !== undefined && e.deviceId !== deviceId) continue;
      this.remove(id, e);
    }
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
    this.cells = 0;
  }

  /** Values held (for tests and the cache's bound). */
  size(): { chunks: number; cells: number } {
    return { chunks: this.entries.size, cells: this.cells };
  }

  private checkExternal(): void {
    const version = this.options.externalVersion?.();
    if (version === undefined || version === this.seenVersion) return;
    if (this.seenVersion !== undefined) this.totals.invalidations++;
    this.seenVersion = version;
    this.clear();
  }

  private remove(id: string, e: Entry): void {
    this.entries.delete(id);
    this.cells -= e.cells;
  }

  private evict(): void {
    const max = this.options.maxCells ?? 4_000_000;
    for (const [id, e] of this.entries) {
      if (this.cells <= max) return;
      if (e.cells > 0) this.remove(id, e);
    }
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
