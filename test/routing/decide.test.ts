import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouteConfig } from '../../src/config/schema.ts';
import { decide } from '../../src/routing/decide.ts';

const route = (over: Partial<RouteConfig> = {}): RouteConfig => ({
  name: 'recommend',
  match: { pathPrefix: '/api/recommend' },
  function: 'recommend',
  weight: 10,
  allowForce: true,
  fallback: 'safe',
  ...over,
});

function share(weightPercent: number, keys: number): number {
  let onFunction = 0;
  for (let i = 0; i < keys; i++) {
    const d = decide({
      route: route(),
      weightPercent,
      stickyKey: `user-${i}`,
      forceHeader: undefined,
      isBreakerOpen: false,
    });
    if (d.target === 'function') onFunction++;
  }
  return (onFunction / keys) * 100;
}

for (const weight of [1, 10, 50, 99]) {
  test(`sends ${weight}% of 20,000 distinct users to the function, within one percentage point`, () => {
    const observed = share(weight, 20_000);
    assert.ok(Math.abs(observed - weight) <= 1, `observed ${observed.toFixed(2)}% at weight ${weight}`);
  });
}

test('weight 0 sends nobody and weight 100 sends everybody to the function', () => {
  assert.equal(share(0, 20_000), 0);
  assert.equal(share(100, 20_000), 100);
});

test('a user keeps their side at a given weight, request after request', () => {
  for (let i = 0; i < 1000; i++) {
    const input = {
      route: route(),
      weightPercent: 37.5,
      stickyKey: `user-${i}`,
      forceHeader: undefined,
      isBreakerOpen: false,
    };
    const first = decide(input).target;
    for (let j = 0; j < 5; j++) assert.equal(decide(input).target, first);
  }
});

test('raising the weight only moves users from legacy to the function', () => {
  const weights = [0, 1, 5, 25, 50, 99.99, 100];
  for (let i = 0; i < 5000; i++) {
    let wasOnFunction = false;
    for (const weightPercent of weights) {
      const d = decide({
        route: route(),
        weightPercent,
        stickyKey: `k${i}`,
        forceHeader: undefined,
        isBreakerOpen: false,
      });
      const isOnFunction = d.target === 'function';
      assert.ok(!wasOnFunction || isOnFunction, `k${i} moved back at weight ${weightPercent}`);
      wasOnFunction = isOnFunction;
    }
  }
});

test('without a key each request draws a random bucket', () => {
  let i = 0;
  const randoms = [0.05, 0.5];
  const sides = randoms.map(() =>
    decide({
      route: route(),
      weightPercent: 10,
      stickyKey: undefined,
      forceHeader: undefined,
      isBreakerOpen: false,
      random: () => randoms[i++]!,
    }),
  );
  assert.deepEqual(
    sides.map((d) => [d.target, d.reason]),
    [
      ['function', 'weight'],
      ['legacy', 'weight'],
    ],
  );
});

test('the force header overrides the weight when the route allows it', () => {
  const base = { weightPercent: 0, stickyKey: 'u', isBreakerOpen: false };
  assert.deepEqual(decide({ ...base, route: route(), forceHeader: 'function' }).target, 'function');
  assert.deepEqual(
    decide({ ...base, route: route(), forceHeader: 'legacy', weightPercent: 100 }).target,
    'legacy',
  );
  assert.equal(decide({ ...base, route: route(), forceHeader: 'function' }).reason, 'forced');
  assert.equal(
    decide({ ...base, route: route({ allowForce: false }), forceHeader: 'function' }).target,
    'legacy',
  );
  assert.equal(decide({ ...base, route: route(), forceHeader: 'sideways' }).target, 'legacy');
});

test('an open breaker sends the function’s share to legacy, forced requests included', () => {
  const d = decide({
    route: route(),
    weightPercent: 100,
    stickyKey: 'u',
    forceHeader: 'function',
    isBreakerOpen: true,
  });
  assert.deepEqual([d.target, d.reason], ['legacy', 'breaker_open']);
});
