// A device's recent points in time order, one per timestamp (in InfluxDB a point is its series and time, so a
// repeated time replaces the earlier point). Points arriving in order are appended in O(1); a late one is placed by
// binary search. Old points leave from the front without moving the rest (amortised O(1)), so a sliding window
// costs the same per reading with 15 points or 18,000.

export class TsSeries<T extends { ts: number }> {
  #items: T[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** The oldest and newest timestamps, undefined when empty. */
  get oldest(): number | undefined {
    return this.size > 0 ? this.#items[this.#head]!.ts : undefined;
  }

  get newest(): number | undefined {
    return this.size > 0 ? this.#items[this.#items.length - 1]!.ts : undefined;
  }

  /** Adds a point; returns the point it replaced (same timestamp), if any. */
  put(item: T): T | undefined {
    const items = this.#items;
    if (this.size === 0 || item.ts > items[items.length - 1]!.ts) {
      items.push(item);
      return undefined;
    }
    const at = this.#firstAfter(item.ts, false);
    const existing = items[at];
    if (existing && existing.ts === item.ts) {
      items[at] = item;
      return existing;
    }
    items.splice(at, 0, item);
    return undefined;
  }

  /** Removes the points with `ts < bound` (`inclusive`: `ts <= bound`), oldest first, telling `onDrop` each. */
  dropBefore(bound: number, inclusive = false, onDrop?: (item: T) => void): void {
    const items = this.#items;
    while (this.#head < items.length) {
      const ts = items[this.#head]!.ts;
      if (inclusive ? ts > bound : ts >= bound) break;
      onDrop?.(items[this.#head]!);
      this.#head++;
    }
    if (this.#head === items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Index range [from, to) of the points with `lo < ts <= hi`, for `at`. */
  range(lo: number, hi: number): [number, number] {
    return [this.#firstAfter(lo, true), this.#firstAfter(hi, true)];
  }

  /** The point at an index of `range` (or 0 … size − 1 from the oldest, with `fromOldest`). */
  at(index: number, fromOldest = false): T {
    return this.#items[fromOldest ? this.#head + index : index]!;
  }

  /** The whole range, for `range`-style loops. */
  bounds(): [number, number] {
    return [this.#head, this.#items.length];
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i]!;
  }

  toArray(): T[] {
    return this.#items.slice(this.#head);
  }

  /** First index whose ts is > ts (`strict`) or >= ts. */
  #firstAfter(ts: number, strict: boolean): number {
    let lo = this.#head;
    let hi = this.#items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.#items[mid]!.ts;
      if (strict ? v <= ts : v < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
