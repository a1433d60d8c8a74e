// E11: a response body over pool.maxResponseBytes. Declared up front (Content-Length) it is refused
// before a byte reaches the caller: 502, or legacy for a request that may be replayed. Discovered
// mid-stream (chunked) the caller already has the head, so the response is cut at the cap. Either way
// the function's socket is discarded, never reused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertBackToBaseline,
  baseline,
  codeOf,
  exchange,
  startScenario,
  toxics,
  waitUntil,
} from '../helpers/faults.ts';

const CAP = 64 * 1024;

test('answers 502 FNSHIFT_UPSTREAM_BAD_RESPONSE, not a head and a cut, to a POST whose declared response is over maxResponseBytes', async (t) => {
  const s = await startScenario(t, {
    fn: toxics.oversized(4 * CAP, 'content-length'),
    function: { pool: { maxResponseBytes: CAP } },
  });
  const before = baseline(s.app);

  const reply = await exchange(s.url(), { method: 'POST', body: '{}' });
  assert.equal(reply.status, 502, `status ${reply.status} with ${reply.body.length} body bytes`);
  assert.equal(codeOf(reply), 'FNSHIFT_UPSTREAM_BAD_RESPONSE');
  assert.equal(s.legacy!.count(), 0);
  await waitUntil(() => s.fn!.closedConnections() === 1, 'the oversized response socket to be discarded');
  await assertBackToBaseline(s.app, before);
});

test('replays a GET on legacy when the declared response is over maxResponseBytes and nothing was sent', async (t) => {
  const s = await startScenario(t, {
    fn: toxics.oversized(4 * CAP, 'content-length'),
    function: { pool: { maxResponseBytes: CAP } },
  });
  const before = baseline(s.app);

  const reply = await exchange(s.url());
  assert.equal(reply.status, 200);
  assert.equal(reply.headers['x-fnshift-target'], 'legacy', 'the oversized function response was relayed');
  assert.equal(reply.headers['x-fnshift-fallback'], 'upstream_error');
  assert.equal(s.legacy!.count('GET'), 1);
  await waitUntil(() => s.fn!.closedConnections() === 1, 'the oversized response socket to be discarded');
  await assertBackToBaseline(s.app, before);
});

test('cuts a chunked response at maxResponseBytes and never relays more than the cap', async (t) => {
  const s = await startScenario(t, {
    fn: toxics.oversized(16 * CAP, 'chunked'),
    function: { pool: { maxResponseBytes: CAP } },
  });
  const before = baseline(s.app);

  const reply = await exchange(s.url());
  assert.equal(reply.status, 200);
  assert.equal(reply.headers['x-fnshift-target'], 'function');
  assert.equal(reply.isComplete, false, 'an oversized response was relayed as complete');
  assert.ok(reply.body.length <= CAP, `${reply.body.length} bytes relayed, over the ${CAP} cap`);
  assert.equal(s.legacy!.count(), 0);
  await waitUntil(() => s.fn!.closedConnections() === 1, 'the oversized response socket to be discarded');
  await assertBackToBaseline(s.app, before);
});

test('relays a HEAD whose Content-Length is over maxResponseBytes, since no body follows it', async (t) => {
  const s = await startScenario(t, {
    fn: (_req, res) => res.writeHead(200, { 'content-length': String(16 * CAP) }).end(),
    function: { pool: { maxResponseBytes: CAP } },
  });
  const before = baseline(s.app);

  const reply = await exchange(s.url(), { method: 'HEAD' });
  assert.equal(reply.status, 200);
  assert.equal(reply.headers['content-length'], String(16 * CAP));
  assert.equal(reply.headers['x-fnshift-target'], 'function');
  await assertBackToBaseline(s.app, before);
});
