// What the history's two in-memory caches (row-cache.ts: stored rollup rows; raw-hours.ts: raw points of past hours)
// share: entries filled by a read from InfluxDB, held as the read's promise from its start (a second request for the
// same entry waits for the same read), kept only if nothing was invalidated while the read was under way (it may
// have read what was there before the write), dropped if the read failed, read again after `maxAgeMs`, forgotten
// entirely when `externalVersion` changes (another process rebuilt rollups), and bounded by a count of values with
// the least recently used out first.

export interface FillOptions {
  maxCells?: number;
  maxAgeMs?: number;
  /** Changes when another process has rebuilt rollups (`npm run rollups`): then everything is forgotten. */
  externalVersion?: () => number;
}

export interface Filled<T> {
  value: Promise<T>;
  /** Values held once read (0 while being read). */
  cells: number;
  /** When the read started. */
  at: number;
}

export class FillCache<T, E extends Filled<T>> {
  private readonly entries = new Map<string, E>();
  private generation = 0;
  private cells = 0;
  private seenVersion: number | undefined;
  /** Entries read from InfluxDB and answered from memory, since start. */
  readonly totals = { fills: 0, hits: 0, invalidations: 0 };

  constructor(
    private readonly options: FillOptions,
    private readonly defaults: { maxCells: number; maxAgeMs: number },
    private readonly cellsOf: (value: T) => number,
  ) {}

  /** The entry held under `id`, made the most recently used; undefined if none or too old. */
  protected hit(id: string, now: number): E | undefined {
    this.checkExternal();
    const e = this.entries.get(id);
    if (!e) return undefined;
    if (now - e.at > (this.options.maxAgeMs ?? this.defaults.maxAgeMs)) {
      this.remove(id, e);
      return undefined;
    }
    this.entries.delete(id);
    this.entries.set(id, e);
    this.totals.hits++;
    return e;
  }

  /** Hold `entry` (its read under way) under `id`, in place of what was there. */
  protected keep(id: string, entry: E): void {
    this.checkExternal();
    this.totals.fills++;
    const generation = this.generation;
    const old = this.entries.get(id);
    if (old) this.remove(id, old);
    this.entries.set(id, entry);
    entry.value.then(
      (value) => {
        if (this.entries.get(id) !== entry) return;
        if (generation !== this.generation) {
          this.entries.delete(id);
          return;
        }
        entry.cells = this.cellsOf(value);
        this.cells += entry.cells;
        this.evict();
      },
      () => {
        if (this.entries.get(id) === entry) this.entries.delete(id);
      },
    );
  }

  /** Something was rewritten: forget the entries `stale` names, and keep no read that was under way. */
  protected forget(stale: (e: E) => boolean): void {
    this.generation++;
    this.totals.invalidations++;
    for (const [id, e] of this.entries) if (stale(e)) this.remove(id, e);
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
    this.cells = 0;
  }

  /** Entries and values held (for tests and the bound). */
  protected held(): { entries: number; cells: number } {
    return { entries: this.entries.size, cells: this.cells };
  }

  private checkExternal(): void {
    const version = this.options.externalVersion?.();
    if (version === this.seenVersion) return;
    if (this.seenVersion !== undefined) this.totals.invalidations++;
    this.seenVersion = version;
    this.clear();
  }

  private remove(id: string, e: E): void {
    this.entries.delete(id);
    this.cells -= e.cells;
  }

  private evict(): void {
    const max = this.options.maxCells ?? this.defaults.maxCells;
    for (const [id, e] of this.entries) {
      if (this.cells <= max) return;
      if (e.cells > 0) this.remove(id, e);
    }
  }
}
