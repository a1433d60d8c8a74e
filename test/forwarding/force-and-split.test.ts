// Which side serves a request and which path it gets: the force header, unmatched paths, segment-aware
// prefixes, rewrites, and a function URL's base path.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { ConfigInput } from '../../src/config/schema.ts';
import { startFixture, startFnshift } from '../helpers/fnshift.ts';
import { send } from '../helpers/raw.ts';

type RouteInput = ConfigInput['routes'][number];

async function setup(t: TestContext, routes: Array<Partial<RouteInput>>, functionPath = '') {
  const legacy = await startFixture(t);
  const fn = await startFixture(t);
  const fnshift = await startFnshift(t, {
    legacy: { url: legacy.url },
    functions: { recommend: { url: `${fn.url}${functionPath}` } },
    routes: routes.map((r, i) => ({
      name: `route-${i}`,
      match: { pathPrefix: '/api' },
      function: 'recommend',
      weight: 0,
      ...r,
    })),
  });
  return { legacy, fn, url: fnshift.url };
}

test('honours x-fnshift-force: function on a route at weight 0', async (t) => {
  const { legacy, fn, url } = await setup(t, [{ weight: 0 }]);
  const reply = await send(`${url}/api/x`, { headers: { 'x-fnshift-force': 'function' } });
  assert.equal(reply.headers['x-fnshift-target'], 'function');
  assert.equal(fn.received.length, 1);
  assert.equal(legacy.received.length, 0);
});

test('honours x-fnshift-force: legacy on a route at weight 100', async (t) => {
  const { legacy, fn, url } = await setup(t, [{ weight: 100 }]);
  const reply = await send(`${url}/api/x`, { headers: { 'x-fnshift-force': 'legacy' } });
  assert.equal(reply.headers['x-fnshift-target'], 'legacy');
  assert.equal(fn.received.length, 0);
  assert.equal(legacy.received.length, 1);
});

test('ignores the force header when the route sets allowForce: false', async (t) => {
  const { legacy, fn, url } = await setup(t, [{ weight: 0, allowForce: false }]);
  await send(`${url}/api/x`, { headers: { 'x-fnshift-force': 'function' } });
  const { legacy: legacy100, fn: fn100, url: url100 } = await setup(t, [{ weight: 100, allowForce: false }]);
  await send(`${url100}/api/x`, { headers: { 'x-fnshift-force': 'legacy' } });
  assert.equal(fn.received.length, 0);
  assert.equal(legacy.received.length, 1);
  assert.equal(fn100.received.length, 1);
  assert.equal(legacy100.received.length, 0);
});

test('sends unmatched paths to legacy without a route header', async (t) => {
  const { legacy, fn, url } = await setup(t, [{ weight: 100 }]);
  const reply = await send(`${url}/other/path?q=1`, { headers: { 'x-fnshift-force': 'function' } });
  assert.equal(reply.status, 200);
  assert.equal(reply.headers['x-fnshift-target'], 'legacy');
  assert.equal(reply.headers['x-fnshift-route'], undefined);
  assert.deepEqual(
    legacy.received.map((r) => r.url),
    ['/other/path?q=1'],
  );
  assert.equal(fn.received.length, 0);
});

test('does not match /apix with a route on the /api prefix', async (t) => {
  const { legacy, fn, url } = await setup(t, [{ weight: 100 }]);
  await send(`${url}/apix`);
  await send(`${url}/apix/y`);
  await send(`${url}/api`);
  await send(`${url}/api/y`);
  assert.deepEqual(
    legacy.received.map((r) => r.url),
    ['/apix', '/apix/y'],
  );
  assert.deepEqual(
    fn.received.map((r) => r.url),
    ['/api', '/api/y'],
  );
});

test('sends the path without the prefix to the function and the original to legacy with stripPrefix', async (t) => {
  const { legacy, fn, url } = await setup(t, [
    { match: { pathPrefix: '/api/recommend' }, weight: 100, rewrite: { stripPrefix: true } },
  ]);
  await send(`${url}/api/recommend/items?n=3`);
  await send(`${url}/api/recommend`);
  await send(`${url}/api/recommend/items?n=3`, { headers: { 'x-fnshift-force': 'legacy' } });
  assert.deepEqual(
    fn.received.map((r) => r.url),
    ['/items?n=3', '/'],
  );
  assert.deepEqual(
    legacy.received.map((r) => r.url),
    ['/api/recommend/items?n=3'],
  );
});

test('sends the fixed path to the function and the original to legacy with rewrite.path', async (t) => {
  const { legacy, fn, url } = await setup(t, [
    { match: { pathPrefix: '/api/recommend' }, weight: 100, rewrite: { path: '/fixed' } },
  ]);
  await send(`${url}/api/recommend/items?n=3`);
  await send(`${url}/api/recommend/items?n=3`, { headers: { 'x-fnshift-force': 'legacy' } });
  assert.deepEqual(
    fn.received.map((r) => r.url),
    ['/fixed?n=3'],
  );
  assert.deepEqual(
    legacy.received.map((r) => r.url),
    ['/api/recommend/items?n=3'],
  );
});

test('prefixes the function URL base path to every forwarded path', async (t) => {
  const { fn, url } = await setup(
    t,
    [{ match: { pathPrefix: '/api/recommend' }, weight: 100 }],
    '/function/recommend',
  );
  await send(`${url}/api/recommend/items?n=3`);
  assert.deepEqual(
    fn.received.map((r) => r.url),
    ['/function/recommend/api/recommend/items?n=3'],
  );
});

test('replays a rewritten request on legacy with the original path', async (t) => {
  const legacy = await startFixture(t);
  const fn = await startFixture(t, (_req, res) => res.writeHead(503).end());
  const fnshift = await startFnshift(t, {
    legacy: { url: legacy.url },
    functions: { recommend: { url: fn.url } },
    routes: [
      {
        name: 'recommend',
        match: { pathPrefix: '/api/recommend' },
        function: 'recommend',
        weight: 100,
        rewrite: { stripPrefix: true },
      },
    ],
  });
  const reply = await send(`${fnshift.url}/api/recommend/items?n=3`);
  assert.equal(reply.headers['x-fnshift-fallback'], 'function_5xx');
  assert.deepEqual(
    fn.received.map((r) => r.url),
    ['/items?n=3'],
  );
  assert.deepEqual(
    legacy.received.map((r) => r.url),
    ['/api/recommend/items?n=3'],
  );
});
