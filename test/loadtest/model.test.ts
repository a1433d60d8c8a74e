// The traffic model: Zipf users, the scene mix, determinism per seed, and the burst profile.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createArrivals,
  createBurstProfile,
  createSteadyProfile,
  createTrafficModel,
  defaultModelOptions,
  userIdOf,
} from '../../loadtest/model.ts';
import { createRandom, createZipf } from '../../loadtest/random.ts';

/** |observed − expected| ≤ 4σ of a binomial count: a false alarm about 1 run in 15,000. */
function assertBinomial(count: number, n: number, p: number, what: string): void {
  const sigma = Math.sqrt(n * p * (1 - p));
  assert.ok(
    Math.abs(count - n * p) <= 4 * sigma,
    `${what}: ${count} of ${n}, expected ${(n * p).toFixed(1)} ± ${(4 * sigma).toFixed(1)}`,
  );
}

test('sends the same requests for the same seed and different ones for another seed', () => {
  const take = (seed: number) => {
    const model = createTrafficModel({ seed });
    return Array.from({ length: 500 }, () => {
      const r = model.next();
      return `${r.method} ${r.path} ${r.userId} ${r.body ?? ''}`;
    });
  };
  assert.deepEqual(take(1), take(1));
  assert.notDeepEqual(take(1), take(2));
});

test('draws Zipf ranks whose frequencies fall as rank^-s', () => {
  const zipf = createZipf(1000, 1.0);
  const random = createRandom(11);
  const n = 200_000;
  const counts = new Float64Array(1001);
  for (let i = 0; i < n; i++) counts[zipf.sample(random)]!++;
  assertBinomial(counts[1]!, n, zipf.probability(1), 'rank 1');
  assertBinomial(counts[10]!, n, zipf.probability(10), 'rank 10');
  // Least squares of log(count) on log(rank) over the ranks with enough samples: the slope is −s.
  const points = Array.from({ length: 50 }, (_, i) => [Math.log(i + 1), Math.log(counts[i + 1]!)] as const);
  const mean = (f: (p: readonly [number, number]) => number) =>
    points.reduce((s, p) => s + f(p), 0) / points.length;
  const mx = mean((p) => p[0]);
  const my = mean((p) => p[1]);
  const slope =
    points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) /
    points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  assert.ok(Math.abs(slope + 1) < 0.1, `log-log slope ${slope.toFixed(3)} is about −1`);
  let total = 0;
  for (let k = 1; k <= 1000; k++) total += zipf.probability(k);
  assert.ok(Math.abs(total - 1) < 1e-9);
});

test('gives the most active user the Zipf share of all requests', () => {
  const model = createTrafficModel({ seed: 5 });
  const zipf = createZipf(defaultModelOptions.users, defaultModelOptions.userExponent);
  const n = 50_000;
  let top = 0;
  const distinct = new Set<string>();
  for (let i = 0; i < n; i++) {
    const r = model.next();
    if (r.userId === userIdOf(1)) top++;
    distinct.add(r.userId);
  }
  assertBinomial(top, n, zipf.probability(1), 'user-1');
  // A long tail: most users are seen once or never, so the distinct count is far below n.
  assert.ok(distinct.size > 5_000 && distinct.size < n / 2, `${distinct.size} distinct users`);
});

test('mixes home, item and cart scenes, reads and feedback POSTs, with 2–30 KB page sizes', () => {
  const model = createTrafficModel({ seed: 3 });
  const n = 20_000;
  const scenes = { home: 0, item: 0, cart: 0 };
  let posts = 0;
  for (let i = 0; i < n; i++) {
    const r = model.next();
    scenes[r.scene]++;
    if (r.method === 'POST') {
      posts++;
      assert.equal(r.path, '/api/feedback');
      assert.equal(r.route, 'feedback');
      assert.ok(JSON.parse(r.body!).userId === r.userId);
    } else if (r.scene === 'home') {
      assert.match(r.path, /^\/api\/recommend\?scene=home&size=(10|20|40)&page=\d+$/);
    }
    assert.equal(r.headers['x-user-id'], r.userId);
  }
  assertBinomial(scenes.home, n, 0.6, 'home');
  assertBinomial(scenes.item, n, 0.3, 'item');
  assertBinomial(posts, n, defaultModelOptions.feedbackShare, 'feedback POSTs');
  const readsOnly = createTrafficModel({ seed: 3, feedbackShare: 0 });
  for (let i = 0; i < 2000; i++) assert.equal(readsOnly.next().method, 'GET');
});

test('holds the base rate, ramps to a peak four times higher, and comes back down', () => {
  const profile = createBurstProfile({ baseRps: 100, peakFactor: 4, durationMs: 20_000 });
  const peak = profile.peakWindowMs!;
  assert.equal(profile.rateAt(0), 100);
  assert.equal(profile.rateAt((peak.startMs + peak.endMs) / 2), 400);
  assert.equal(profile.rateAt(19_999), 100);
  assert.ok(
    profile.rateAt(peak.startMs - 500) > 100 && profile.rateAt(peak.startMs - 500) < 400,
    'a ramp, not a step',
  );
  // The arrival schedule follows the profile: slots per second in the plateau and outside it.
  const arrivals = createArrivals(profile, 20_000);
  const perSecond = new Array<number>(20).fill(0);
  for (let t = arrivals.take(); t !== undefined; t = arrivals.take()) perSecond[Math.floor(t / 1000)]!++;
  assert.ok(Math.abs(perSecond[1]! - 100) <= 1, `base second: ${perSecond[1]}`);
  assert.ok(Math.abs(perSecond[Math.floor(peak.startMs / 1000) + 1]! - 400) <= 1, 'plateau second: 400');
  assert.ok(Math.abs(perSecond[18]! - 100) <= 1, `after the burst: ${perSecond[18]}`);
  const steady = createArrivals(createSteadyProfile(250), 2000);
  let count = 0;
  while (steady.take() !== undefined) count++;
  assert.equal(count, 500);
});
