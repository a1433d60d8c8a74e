// Seeded randomness for the traffic model and the fixtures: a PRNG, Zipf ranks and lognormal latencies.

/** A source of uniform numbers in [0, 1); deterministic for a seed, so a run can be replayed exactly. */
export type Random = () => number;

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counter): 128 bits of state, passes PractRand to 2^40+ bytes,
 * and is a few lines; Math.random cannot be seeded.
 */
export function createRandom(seed: number): Random {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4_294_967_296;
  };
  // The first outputs of a fresh sfc32 still show the constants; discard them as its author advises.
  for (let i = 0; i < 15; i++) next();
  return next;
}

/** A seed for a named sub-stream, so adding a draw in one place does not shift every other stream. */
export function deriveSeed(seed: number, name: string): number {
  let hash = (seed ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < name.length; i++) {
    hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193) >>> 0;
  }
  return hash;
}

export interface Zipf {
  /** Ranks run from 1 (the most frequent) to `count`. */
  readonly count: number;
  readonly exponent: number;
  sample(random: Random): number;
  /** P(rank), for tests and for the report's "top user share". */
  probability(rank: number): number;
}

/**
 * Zipf over ranks 1..count: P(k) ∝ k^-s. The cumulative table is built once (8 bytes per rank) and
 * sampled by binary search, exact for any exponent, unlike rejection methods that need s > 1.
 */
export function createZipf(count: number, exponent: number): Zipf {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`Zipf count must be ≥ 1, got ${count}`);
  if (!(exponent >= 0)) throw new RangeError(`Zipf exponent must be ≥ 0, got ${exponent}`);
  const cumulative = new Float64Array(count);
  let total = 0;
  for (let k = 1; k <= count; k++) {
    total += k ** -exponent;
    cumulative[k - 1] = total;
  }
  for (let i = 0; i < count; i++) cumulative[i] = cumulative[i]! / total;
  return {
    count,
    exponent,
    sample(random) {
      const u = random();
      let low = 0;
      let high = count - 1;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (cumulative[middle]! > u) high = middle;
        else low = middle + 1;
      }
      return low + 1;
    },
    probability: (rank) => rank ** -exponent / total,
  };
}

/** A standard normal draw (Box–Muller); one of the pair is thrown away to keep the stream stateless. */
export function normal(random: Random): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * Lognormal with the given median and shape σ: service times are well described by it (a long right
 * tail, never negative); p99 = median × e^(2.326σ).
 */
export function lognormal(random: Random, medianMs: number, sigma: number): number {
  return medianMs * Math.exp(sigma * normal(random));
}

/** Picks a key of `weights` with probability proportional to its weight. */
export function pickWeighted<K extends string>(random: Random, weights: Readonly<Record<K, number>>): K {
  const entries = Object.entries(weights) as [K, number][];
  const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
  let u = random() * total;
  for (const [key, weight] of entries) {
    u -= weight;
    if (u < 0) return key;
  }
  return entries[entries.length - 1]![0];
}
