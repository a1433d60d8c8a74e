// The shop's logic layer: a fixed catalogue, stable per-user recommendations, and input checks.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import {
  CATALOG,
  CATALOG_SIZE,
  CATEGORIES,
  getItem,
  isProblem,
  type Recommendation,
  recommend,
  recordFeedback,
} from '../../src/local/catalog.ts';

function page(query: Parameters<typeof recommend>[0]): Recommendation {
  const result = recommend(query);
  assert.ok(!isProblem(result), `expected a page, got ${JSON.stringify(result)}`);
  return result;
}

test('the catalogue holds 500 frozen items with unique ids', () => {
  assert.equal(CATALOG.length, CATALOG_SIZE);
  assert.equal(new Set(CATALOG.map((item) => item.id)).size, CATALOG_SIZE);
  assert.ok(Object.isFrozen(CATALOG) && Object.isFrozen(CATALOG[0]));
  for (const item of CATALOG) {
    assert.ok(CATEGORIES.includes(item.category));
    assert.ok(item.price >= 5 && item.price <= 200);
    assert.ok(item.score >= 0 && item.score <= 1);
    assert.equal(item.imageUrl, `https://img.example.com/items/${item.id}.jpg`);
  }
});

test('the catalogue is generated from a fixed seed, so every process and machine builds the same one', () => {
  // Pinned: the legacy app and the functions run in different processes and must agree on every item.
  const digest = createHash('sha256').update(JSON.stringify(CATALOG)).digest('hex');
  assert.equal(digest, '7aff6ef1177be92bcd1e2aee1df0459c6e2a8de395debc04de2107992aa97405');
  assert.equal(getItem('sku-0001')?.title, 'Modern Cookbook');
});

test('the same user gets the same list and another user a different one', () => {
  const first = JSON.stringify(page({ userId: 'u-42' }));
  assert.equal(JSON.stringify(page({ userId: 'u-42' })), first);
  assert.notEqual(JSON.stringify(page({ userId: 'u-43' })), first);
});

test('a page defaults to 10 items of the home scene, sorted by score, with no duplicates', () => {
  const result = page({ userId: 'alice' });
  assert.equal(result.scene, 'home');
  assert.equal(result.items.length, 10);
  assert.equal(new Set(result.items.map((item) => item.id)).size, 10);
  const scores = result.items.map((item) => item.score);
  assert.deepEqual(
    scores,
    scores.toSorted((a, b) => b - a),
  );
});

test('a page of 10 is between 2 and 4 KB of JSON', () => {
  for (const userId of ['a', 'bob', 'user-123456', undefined]) {
    const bytes = Buffer.byteLength(JSON.stringify(page({ userId })));
    assert.ok(bytes >= 2048 && bytes <= 4096, `${bytes} bytes`);
  }
});

test('a missing user id gets the anonymous list', () => {
  assert.deepEqual(page({}), page({ userId: 'anonymous' }));
  assert.deepEqual(page({ userId: '' }), page({ userId: 'anonymous' }));
});

test('every scene can fill the largest page, and the cart scene only suggests cheap add-ons', () => {
  for (const scene of ['home', 'item', 'cart']) {
    assert.equal(page({ userId: 'u1', scene, size: 50 }).items.length, 50);
  }
  assert.ok(page({ userId: 'u1', scene: 'cart', size: 50 }).items.every((item) => item.price < 50));
  const categories = new Set(
    page({ userId: 'u1', scene: 'item', size: 50 }).items.map((item) => item.category),
  );
  assert.equal(categories.size, 1);
});

test('size accepts the integers 1 to 50 given as text or number', () => {
  assert.equal(page({ size: '1' }).items.length, 1);
  assert.equal(page({ size: 50 }).items.length, 50);
  assert.equal(page({ size: '007' }).items.length, 7);
});

test('a size outside 1 to 50 or not an integer is a 400 problem', () => {
  for (const size of ['0', '51', '-1', '1.5', 'abc', '1e1', ' 5', '9999', 0, 1.5, Number.NaN]) {
    const result = recommend({ size });
    assert.ok(isProblem(result), `size ${size}`);
    assert.equal(result.status, 400);
  }
});

test('an unknown scene or a malformed user id is a 400 problem', () => {
  for (const query of [
    { scene: 'checkout' },
    { scene: '__proto__' },
    { userId: '%zz' },
    { userId: 'x'.repeat(65) },
  ]) {
    const result = recommend(query);
    assert.ok(isProblem(result), JSON.stringify(query));
    assert.equal(result.status, 400);
  }
});

test('getItem finds known ids and returns undefined for anything else', () => {
  assert.equal(getItem('sku-0042')?.id, 'sku-0042');
  for (const id of ['sku-0000', 'sku-0501', '', '__proto__', 'constructor', 'SKU-0042']) {
    assert.equal(getItem(id), undefined, id);
  }
});

test('recordFeedback accepts a valid event and takes the user from the fallback when the body has none', () => {
  assert.deepEqual(recordFeedback({ userId: 'u1', itemId: 'sku-0001', action: 'click' }), { accepted: true });
  assert.deepEqual(recordFeedback({ itemId: 'sku-0001', action: 'like' }, 'u2'), { accepted: true });
});

test('recordFeedback describes what is wrong with a bad event', () => {
  const bad: unknown[] = [
    null,
    [],
    'click',
    42,
    {},
    { itemId: 'sku-0001', action: 'click' },
    { userId: 'u1', itemId: 'sku-9999', action: 'click' },
    { userId: 'u1', itemId: 'sku-0001', action: 'steal' },
    { userId: 7, itemId: 'sku-0001', action: 'click' },
    { userId: 'u1', itemId: { $ne: null }, action: 'click' },
  ];
  for (const input of bad) {
    const result = recordFeedback(input);
    assert.ok(isProblem(result), JSON.stringify(input));
    assert.equal(result.status, 400);
    assert.equal(typeof result.message, 'string');
  }
});
