import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RouteConfig } from '../../src/config/schema.ts';
import { compileRoutes, matchesPrefix, rewritePath } from '../../src/routing/match.ts';

const r = (name: string, match: RouteConfig['match'], rewrite?: RouteConfig['rewrite']): RouteConfig => ({
  name,
  match,
  function: 'f',
  weight: 0,
  allowForce: true,
  fallback: 'safe',
  rewrite,
});

test('a prefix matches whole segments only', () => {
  assert.ok(matchesPrefix('/api', '/api'));
  assert.ok(matchesPrefix('/api', '/api/'));
  assert.ok(matchesPrefix('/api', '/api/x'));
  assert.ok(!matchesPrefix('/api', '/apix'));
  assert.ok(matchesPrefix('/', '/anything'));
});

test('exact paths win over prefixes and longer prefixes win over shorter ones', () => {
  const match = compileRoutes([
    r('short', { pathPrefix: '/api' }),
    r('long', { pathPrefix: '/api/item' }),
    r('exact', { path: '/api/item/special' }),
  ]);
  assert.equal(match('GET', '/api/item/special')?.route.name, 'exact');
  assert.equal(match('GET', '/api/item/1')?.route.name, 'long');
  assert.equal(match('GET', '/api/other')?.route.name, 'short');
  assert.equal(match('GET', '/apix'), undefined);
});

test('a route with methods matches only those methods', () => {
  const match = compileRoutes([r('feedback', { pathPrefix: '/api/feedback', methods: ['POST'] })]);
  assert.equal(match('POST', '/api/feedback')?.route.name, 'feedback');
  assert.equal(match('GET', '/api/feedback'), undefined);
});

test('an exact path ignores one trailing slash', () => {
  const match = compileRoutes([r('exact', { path: '/api/cart' })]);
  assert.equal(match('GET', '/api/cart/')?.route.name, 'exact');
  assert.equal(match('GET', '/api/cart/x'), undefined);
});

test('rewrites strip the prefix or send a fixed path', () => {
  const match = compileRoutes([
    r('strip', { pathPrefix: '/api/recommend' }, { stripPrefix: true }),
    r('fixed', { pathPrefix: '/api/item' }, { path: '/invoke' }),
  ]);
  assert.equal(rewritePath(match('GET', '/api/recommend/home')!, '/api/recommend/home'), '/home');
  assert.equal(rewritePath(match('GET', '/api/recommend')!, '/api/recommend'), '/');
  assert.equal(rewritePath(match('GET', '/api/item/42')!, '/api/item/42'), '/invoke');
});
