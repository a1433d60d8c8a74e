import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readCookie, readQuery, readStickyKey } from '../../src/routing/sticky.ts';

test('reads the sticky key from a header, a cookie or a query parameter', () => {
  assert.equal(readStickyKey({ header: 'x-user-id' }, { 'x-user-id': 'u1' }, ''), 'u1');
  assert.equal(readStickyKey({ cookie: 'uid' }, { cookie: 'a=1; uid=u2; b=3' }, ''), 'u2');
  assert.equal(readStickyKey({ query: 'userId' }, {}, 'scene=home&userId=u3'), 'u3');
  assert.equal(readStickyKey({ header: 'x-user-id', salt: 'r1' }, { 'x-user-id': 'u1' }, ''), 'r1:u1');
});

test('a missing or empty key gives no key, so the request draws a random bucket', () => {
  assert.equal(readStickyKey({ header: 'x-user-id' }, {}, ''), undefined);
  assert.equal(readStickyKey({ cookie: 'uid' }, { cookie: 'uid=' }, ''), undefined);
  assert.equal(readStickyKey({ query: 'userId' }, {}, 'userId='), undefined);
  assert.equal(readStickyKey(undefined, { 'x-user-id': 'u1' }, ''), undefined);
});

test('garbage cookies and queries never throw', () => {
  assert.equal(readCookie(';;;=;uid', 'uid'), undefined);
  assert.equal(readCookie('uid="quoted"', 'uid'), 'quoted');
  assert.equal(readQuery('userId=%zz', 'userId'), '%zz');
  assert.equal(readQuery('%zz=1&userId=a+b%20c', 'userId'), 'a b c');
  assert.equal(readQuery('&&&', 'userId'), undefined);
});

test('over-long keys are cut so a client cannot make hashing expensive', () => {
  const key = readStickyKey({ header: 'x-user-id' }, { 'x-user-id': 'x'.repeat(10_000) }, '');
  assert.equal(key?.length, 256);
});
