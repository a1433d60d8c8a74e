import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { BUCKET_COUNT, bucketOf, hashKey, weightToBuckets } from '../../src/routing/bucket.ts';

test('the same key always lands in the same bucket', () => {
  for (const key of ['user-1', 'u', '', 'ünïcødé', 'x'.repeat(300)]) {
    assert.equal(bucketOf(key), bucketOf(key));
    assert.ok(bucketOf(key) >= 0 && bucketOf(key) < BUCKET_COUNT);
  }
});

test('the hash is a fixed function, so every replica and every release agrees', () => {
  // Pinned values: a change here moves users between sides on upgrade, and replicas on different
  // versions would disagree during a rolling deploy.
  assert.deepEqual(
    ['user-1', 'user-2', 'alice', ''].map(hashKey),
    [2005895916, 853201105, 3927234078, 2872998923],
  );
  assert.deepEqual(['user-1', 'user-2', 'alice'].map(bucketOf), [5916, 1105, 4078]);
});

test('sequential keys spread evenly over the buckets', () => {
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 100_000; i++) counts[Math.floor(bucketOf(`user-${i}`) / 1000)]++;
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `decile count ${c}`);
});

test('weights map to whole buckets in steps of 0.01 percent', () => {
  assert.equal(weightToBuckets(0), 0);
  assert.equal(weightToBuckets(0.01), 1);
  assert.equal(weightToBuckets(12.34), 1234);
  assert.equal(weightToBuckets(100), 10_000);
});

test('a key on the function at one weight stays on it at every higher weight', () => {
  fc.assert(
    fc.property(
      fc.string(),
      fc.integer({ min: 0, max: 10_000 }),
      fc.integer({ min: 0, max: 10_000 }),
      (key, a, b) => {
        const [w1, w2] = a <= b ? [a / 100, b / 100] : [b / 100, a / 100];
        const bucket = bucketOf(key);
        const atW1 = bucket < weightToBuckets(w1);
        const atW2 = bucket < weightToBuckets(w2);
        return !atW1 || atW2;
      },
    ),
    { numRuns: 5000 },
  );
});
