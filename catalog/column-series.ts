// A device's recent points as columns of numbers: one Float64Array of times and one of values (`columns` per
// point, NaN where the point has no value: a point's record then has `undefined` there), sorted by time, one point per timestamp (a repeated time replaces the
// earlier point, as in InfluxDB). It replaced a series of an object per point: at 20,000 readings a second a window
// of minutes is millions of objects the garbage collector must trace and that each cost a hundred bytes or more,
// where a row here costs 8 bytes per column and is never traced. Points arriving in
// order are appended in O(1); a late one is placed by binary search and the rows after it are moved. Old points
// leave from the front without moving the rest; the space is reused once a sixteenth of it is behind the front,
// and given back once three quarters of it are unused.

/** Columns of at most this many rows are not shrunk. */
const MIN_SHRINK = 64;

export class ColumnSeries {
  #ts: Float64Array;
  #values: Float64Array;
  #head = 0;
  #tail = 0;
  readonly #row: Record<string, number | undefined> = {};

  constructor(readonly columns: readonly string[], capacity = 16) {
    this.#ts = new Float64Array(capacity);
    this.#values = new Float64Array(capacity * columns.length);
  }

  get size(): number {
    return this.#tail - this.#head;
  }

  /** Rows the columns have room for (memory is this × (columns + 1) × 8 bytes). */
  get capacity(): number {
    return this.#ts.length;
  }

  get oldest(): number | undefined {
    return this.size > 0 ? this.#ts[this.#head] : undefined;
  }

  get newest(): number | undefined {
    return this.size > 0 ? this.#ts[this.#tail - 1] : undefined;
  }

  /**
   * Adds a point from `values` (only `columns` are kept; a missing one is NaN). A point at the same time is replaced,
   * and `onReplaced` is handed its record first.
   */
  put(ts: number, values: object, onReplaced?: (old: Readonly<Record<string, number | undefined>>) => void): void {
    let at: number;
    if (this.size === 0 || ts > this.#ts[this.#tail - 1]!) {
      this.#room();
      at = this.#tail++;
    } else {
      at = this.#firstAtOrAfter(ts);
      if (this.#ts[at] === ts) {
        if (onReplaced) onReplaced(this.row(at));
      } else {
        // making room may move the rows to the front: place it again after
        this.#room();
        at = this.#firstAtOrAfter(ts);
        const w = this.columns.length;
        this.#ts.copyWithin(at + 1, at, this.#tail);
        this.#values.copyWithin((at + 1) * w, at * w, this.#tail * w);
        this.#tail++;
      }
    }
    this.#ts[at] = ts;
    const w = this.columns.length;
    const given = values as Readonly<Record<string, number | undefined>>;
    for (let c = 0; c < w; c++) {
      const v = given[this.columns[c]!];
      this.#values[at * w + c] = v === undefined ? NaN : v;
    }
  }

  /** Removes the points with `ts < bound` (`inclusive`: `ts <= bound`), oldest first, handing each to `onDrop`. */
  dropBefore(bound: number, inclusive = false, onDrop?: (ts: number, old: Readonly<Record<string, number | undefined>>) => void): void {
    while (this.#head < this.#tail) {
      const ts = this.#ts[this.#head]!;
      if (inclusive ? ts > bound : ts >= bound) break;
      if (onDrop) onDrop(ts, this.row(this.#head));
      this.#head++;
    }
    if (this.#head === this.#tail) this.#head = this.#tail = 0;
    // a burst (a load of 15 minutes from InfluxDB, a fast device before it was folded) grew the columns: give the
    // space back once three quarters of it are unused, or it is held for as long as the series lives
    if (this.#ts.length > MIN_SHRINK && this.size * 4 <= this.#ts.length) this.#resize(this.#ts.length / 2);
  }

  /** Index range [from, to) of the points with `lo < ts <= hi`, for `row` and `timeAt`. */
  range(lo: number, hi: number): [number, number] {
    return [this.#firstAfter(lo), this.#firstAfter(hi)];
  }

  /** The whole index range. */
  bounds(): [number, number] {
    return [this.#head, this.#tail];
  }

  timeAt(index: number): number {
    return this.#ts[index]!;
  }

  /** The record of the point at an index of `range`: one object reused for every call; read it, do not keep it. */
  row(index: number): Readonly<Record<string, number | undefined>> {
    const w = this.columns.length;
    const row = this.#row;
    for (let c = 0; c < w; c++) {
      const v = this.#values[index * w + c]!;
      row[this.columns[c]!] = Number.isNaN(v) ? undefined : v;
    }
    return row;
  }

  /** Every point as a record of its own, `ts` included, oldest first. */
  toRecords(): Array<Record<string, number | undefined> & { ts: number }> {
    const out: Array<Record<string, number | undefined> & { ts: number }> = [];
    for (let i = this.#head; i < this.#tail; i++) out.push({ ts: this.#ts[i]!, ...this.row(i) });
    return out;
  }

  /** Calls `fn` for every point, oldest first, with its time and its record (`row`: reused, do not keep it). */
  forEach(fn: (ts: number, values: Readonly<Record<string, number | undefined>>) => void): void {
    for (let i = this.#head; i < this.#tail; i++) fn(this.#ts[i]!, this.row(i));
  }

  /**
   * Room for one more row at the end: reuse the space behind the front when it is a sixteenth of the whole (a
   * move of at most 15 rows per put, memmoves of a few hundred bytes; a sliding window of 15 minutes of seconds,
   * 900 rows, then keeps to 1,024), or grow.
   */
  #room(): void {
    if (this.#tail < this.#ts.length) return;
    if (this.#head > 0 && this.#head * 16 >= this.#ts.length) {
      const w = this.columns.length;
      this.#ts.copyWithin(0, this.#head, this.#tail);
      this.#values.copyWithin(0, this.#head * w, this.#tail * w);
      this.#tail -= this.#head;
      this.#head = 0;
    } else this.#resize(Math.max(16, this.#ts.length * 2));
  }

  /** New columns of `capacity` rows holding the rows, from the front. */
  #resize(capacity: number): void {
    const w = this.columns.length;
    const size = this.size;
    const ts = new Float64Array(capacity);
    const values = new Float64Array(capacity * w);
    ts.set(this.#ts.subarray(this.#head, this.#tail));
    values.set(this.#values.subarray(this.#head * w, this.#tail * w));
    this.#ts = ts;
    this.#values = values;
    this.#head = 0;
    this.#tail = size;
  }

  /** Index of the first point with time > ts. */
  #firstAfter(ts: number): number {
    let lo = this.#head;
    let hi = this.#tail;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#ts[mid]! <= ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the first point with time ≥ ts. */
  #firstAtOrAfter(ts: number): number {
    let lo = this.#head;
    let hi = this.#tail;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#ts[mid]! < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
