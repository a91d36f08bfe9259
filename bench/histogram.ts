// A mergeable latency histogram: logarithmic buckets 1 % wide, so generator processes can send theirs to the
// orchestrator as a few hundred numbers instead of a million samples, and percentiles stay within 1 %.
const GROWTH = Math.log(1.01);
/** Values are milliseconds; the smallest bucket starts at 1 µs. */
const UNIT = 1000;

export interface HistogramData {
  buckets: Array<[number, number]>;
  count: number;
  sum: number;
  min: number;
  max: number;
}

export interface Percentiles {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export class Histogram {
  private readonly counts = new Map<number, number>();
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  record(ms: number): void {
    const v = Math.max(1, ms * UNIT);
    const index = Math.floor(Math.log(v) / GROWTH);
    this.counts.set(index, (this.counts.get(index) ?? 0) + 1);
    this.count++;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  merge(data: HistogramData): void {
    for (const [index, n] of data.buckets) this.counts.set(index, (this.counts.get(index) ?? 0) + n);
    this.count += data.count;
    this.sum += data.sum;
    if (data.count > 0) {
      this.min = Math.min(this.min, data.min);
      this.max = Math.max(this.max, data.max);
    }
  }

  toJSON(): HistogramData {
    return { buckets: [...this.counts], count: this.count, sum: this.sum, min: this.min, max: this.max };
  }

  /** Value below which `q` (0–1) of the recorded values lie, in ms (bucket midpoint, capped at the max seen). */
  quantile(q: number): number {
    if (this.count === 0) return NaN;
    const target = Math.ceil(q * this.count);
    let seen = 0;
    for (const index of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(index)!;
      if (seen >= target) return Math.min(this.max, Math.exp((index + 0.5) * GROWTH) / UNIT);
    }
    return this.max;
  }

  percentiles(): Percentiles {
    return {
      count: this.count,
      mean: this.count ? this.sum / this.count : NaN,
      p50: this.quantile(0.5),
      p95: this.quantile(0.95),
      p99: this.quantile(0.99),
      max: this.count ? this.max : NaN,
    };
  }
}
