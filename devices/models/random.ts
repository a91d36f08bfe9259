// Seeded randomness for the simulator. Two flavours:
// - `Rng`: a sequential stream (mulberry32) for per-reading noise;
// - `hash01` / `smoothNoise`: stateless values keyed by (seed, name, time slot), so a city's weather or a road's
//   incidents are the same whichever device or process asks, and models stay pure functions of time.

/** 32-bit FNV-1a of a string, to turn names (device ids, cities) into seeds. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Mix integers into one well-spread uint32 (murmur3 finaliser per step). */
export function hashInts(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const value of values) {
    // Slots can exceed 32 bits (ms timestamps); fold the high part in as well.
    const low = value | 0;
    const high = Math.floor(value / 4294967296) | 0;
    for (const part of [low, high]) {
      let k = Math.imul(part, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      h ^= k;
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uniform number in [0, 1) fixed by its keys. */
export function hash01(...values: number[]): number {
  return hashInts(...values) / 4294967296;
}

/**
 * Smooth value noise in [-1, 1]: random values at every `periodMs` boundary, cosine-interpolated between them.
 * Gives slow drifts (sensor bias, day-to-day variation) without keeping state.
 */
export function smoothNoise(key: number, t: number, periodMs: number): number {
  const x = t / periodMs;
  const i = Math.floor(x);
  const frac = x - i;
  const a = hash01(key, i) * 2 - 1;
  const b = hash01(key, i + 1) * 2 - 1;
  const w = (1 - Math.cos(Math.PI * frac)) / 2;
  return a + (b - a) * w;
}

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x2545f491;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  int(min: number, maxInclusive: number): number {
    return Math.floor(this.between(min, maxInclusive + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Standard normal (Box–Muller). */
  normal(mean = 0, sd = 1): number {
    const u = Math.max(this.next(), 1e-12);
    const v = this.next();
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Poisson count; normal approximation for large means. */
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    if (mean > 40) return Math.max(0, Math.round(this.normal(mean, Math.sqrt(mean))));
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }

  /** Binomial count: successes in `n` trials of probability `p`; normal approximation for many trials. */
  binomial(n: number, p: number): number {
    if (n <= 0 || p <= 0) return 0;
    if (p >= 1) return n;
    if (n > 200) return clamp(Math.round(this.normal(n * p, Math.sqrt(n * p * (1 - p)))), 0, n);
    let k = 0;
    for (let i = 0; i < n; i++) if (this.next() < p) k++;
    return k;
  }
}

export function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}

/** Round to a number of decimals, as a sensor's firmware would before sending. */
export function round(value: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}
