// Stable user buckets: bucket = hash(key) mod 10000, so a weight of w% takes buckets [0, w × 100).
// Every replica computes the same bucket for the same key, and raising w only adds buckets.

export const BUCKET_COUNT = 10_000;

/**
 * FNV-1a over the UTF-16 code units, then murmur3's fmix32 so nearby keys (`user-1`, `user-2`)
 * spread over all buckets; FNV alone leaves the low bits, which `mod 10000` reads, poorly mixed.
 */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function bucketOf(key: string): number {
  return hashKey(key) % BUCKET_COUNT;
}

export function randomBucket(random: () => number = Math.random): number {
  return Math.floor(random() * BUCKET_COUNT) % BUCKET_COUNT;
}

/** Weight in percent (steps of 0.01) → the number of buckets that go to the function. */
export function weightToBuckets(weightPercent: number): number {
  return Math.round(weightPercent * 100);
}
