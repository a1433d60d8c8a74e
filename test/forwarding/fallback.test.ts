// The safety rule end to end: a failed function call is replayed on legacy only when that cannot
// double-execute (nothing sent, or idempotent with a buffered body); otherwise a clear 5xx problem.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { type TestContext, test } from 'node:test';
import type { ConfigInput } from '../../src/config/schema.ts';
import { type Fixture, refusedUrl, startFixture, startFnshift } from '../helpers/fnshift.ts';
import { problemCode, send } from '../helpers/raw.ts';

type FunctionBehaviour = 'down' | 'fails' | 'hangs';

async function startFunction(
  t: TestContext,
  behaviour: FunctionBehaviour,
): Promise<Fixture | { url: string }> {
  if (behaviour === 'down') return { url: await refusedUrl() };
  return startFixture(t, (_req, res) => {
    if (behaviour === 'fails') res.writeHead(500, { 'content-type': 'text/plain' }).end('function broke');
    // 'hangs': never answers; the fixture's cleanup cuts the socket.
  });
}

async function setup(
  t: TestContext,
  behaviour: FunctionBehaviour,
  route: Partial<ConfigInput['routes'][number]> = {},
) {
  const legacy = await startFixture(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('legacy');
  });
  const fn = await startFunction(t, behaviour);
  const fnshift = await startFnshift(t, {
    legacy: { url: legacy.url },
    functions: { recommend: { url: fn.url, timeoutMs: 300 } },
    routes: [
      {
        name: 'recommend',
        match: { pathPrefix: '/api/recommend' },
        function: 'recommend',
        weight: 100,
        ...route,
      },
    ],
  });
  return { legacy, fn, url: `${fnshift.url}/api/recommend` };
}

/** A body sent chunked, without Content-Length: it cannot be buffered ahead, so it can never be replayed. */
function streamedBody(): Readable {
  return Readable.from([Buffer.from('{"order":'), Buffer.from('42}')]);
}

test('answers GET from legacy with fallback connect_failure when the function is down', async (t) => {
  const { legacy, url } = await setup(t, 'down');
  const reply = await send(url);
  assert.equal(reply.status, 200);
  assert.equal(reply.body.toString(), 'legacy');
  assert.equal(reply.headers['x-fnshift-fallback'], 'connect_failure');
  assert.equal(reply.headers['x-fnshift-target'], 'legacy');
  assert.equal(legacy.received.length, 1);
});

test('answers a streamed POST from legacy with fallback connect_failure when the function is down', async (t) => {
  const { legacy, url } = await setup(t, 'down');
  const reply = await send(url, { method: 'POST', body: streamedBody() });
  assert.equal(reply.status, 200);
  assert.equal(reply.headers['x-fnshift-fallback'], 'connect_failure');
  assert.equal(legacy.received.length, 1);
  assert.equal(legacy.received[0]!.method, 'POST');
  assert.equal(legacy.received[0]!.body.toString(), '{"order":42}');
});

test('answers GET from legacy with fallback function_5xx when the function answers 500', async (t) => {
  const { legacy, fn, url } = await setup(t, 'fails');
  const reply = await send(url);
  assert.equal(reply.status, 200);
  assert.equal(reply.body.toString(), 'legacy');
  assert.equal(reply.headers['x-fnshift-fallback'], 'function_5xx');
  assert.equal((fn as Fixture).received.length, 1);
  assert.equal(legacy.received.length, 1);
});

test('answers 502 FNSHIFT_FUNCTION_ERROR and never replays a streamed POST the function answered 500', async (t) => {
  const { legacy, fn, url } = await setup(t, 'fails');
  const reply = await send(url, { method: 'POST', body: streamedBody() });
  assert.equal(reply.status, 502);
  assert.equal(problemCode(reply), 'FNSHIFT_FUNCTION_ERROR');
  assert.equal((fn as Fixture).received[0]?.body.toString(), '{"order":42}');
  assert.equal(legacy.received.length, 0);
});

test('answers GET from legacy with fallback timeout when the function hangs past timeoutMs', async (t) => {
  const { legacy, url } = await setup(t, 'hangs');
  const reply = await send(url);
  assert.equal(reply.status, 200);
  assert.equal(reply.body.toString(), 'legacy');
  assert.equal(reply.headers['x-fnshift-fallback'], 'timeout');
  assert.equal(legacy.received.length, 1);
});

test('answers 504 FNSHIFT_UPSTREAM_TIMEOUT and never replays a streamed POST the function left hanging', async (t) => {
  const { legacy, fn, url } = await setup(t, 'hangs');
  const reply = await send(url, { method: 'POST', body: streamedBody() });
  assert.equal(reply.status, 504);
  assert.equal(problemCode(reply), 'FNSHIFT_UPSTREAM_TIMEOUT');
  assert.equal((fn as Fixture).received.length, 1);
  assert.equal(legacy.received.length, 0);
});

test('replays a small PUT on legacy with the identical body after the function answered 500', async (t) => {
  const { legacy, fn, url } = await setup(t, 'fails');
  const body = JSON.stringify({ user: 'u-1', items: [1, 2, 3], note: 'ü' });
  const reply = await send(url, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
    body,
  });
  assert.equal(reply.status, 200);
  assert.equal(reply.headers['x-fnshift-fallback'], 'function_5xx');
  assert.equal((fn as Fixture).received[0]?.body.toString(), body);
  assert.equal(legacy.received.length, 1);
  assert.equal(legacy.received[0]!.method, 'PUT');
  assert.equal(legacy.received[0]!.headers['content-type'], 'application/json');
  assert.equal(legacy.received[0]!.body.toString(), body);
});

test('answers 503 problem+json without touching legacy when the route says fallback never and the function is down', async (t) => {
  const { legacy, url } = await setup(t, 'down', { fallback: 'never' });
  const reply = await send(url);
  assert.equal(reply.status, 503);
  assert.equal(problemCode(reply), 'FNSHIFT_UPSTREAM_UNAVAILABLE');
  assert.equal(legacy.received.length, 0);
});

test('answers 503 FNSHIFT_UPSTREAM_UNAVAILABLE when legacy is down', async (t) => {
  const fnshift = await startFnshift(t, { legacy: { url: await refusedUrl() } });
  const reply = await send(`${fnshift.url}/anything`);
  assert.equal(reply.status, 503);
  assert.equal(problemCode(reply), 'FNSHIFT_UPSTREAM_UNAVAILABLE');
});
