// E5: the function accepts and never answers. At timeoutMs the call is aborted (the function sees its
// socket close); a GET is replayed on legacy, a POST gets 504 and is never replayed.
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

test('replays a GET on legacy with fallback timeout when the function never answers', async (t) => {
  const s = await startScenario(t, { fn: toxics.hang(), function: { timeoutMs: 300 } });
  const before = baseline(s.app);

  const reply = await exchange(s.url());
  assert.equal(reply.status, 200);
  assert.equal(reply.body.toString(), 'legacy');
  assert.equal(reply.headers['x-fnshift-fallback'], 'timeout');
  assert.equal(s.fn!.count(), 1);
  assert.equal(s.legacy!.count('GET'), 1);
  await waitUntil(() => s.fn!.closedConnections() === 1, 'the function to see its socket closed');
  await assertBackToBaseline(s.app, before);
});

test('answers 504 FNSHIFT_UPSTREAM_TIMEOUT and never replays a POST the function left hanging', async (t) => {
  const s = await startScenario(t, { fn: toxics.hang(), function: { timeoutMs: 300 } });
  const before = baseline(s.app);

  const reply = await exchange(s.url(), { method: 'POST', body: '{"order":42}' });
  assert.equal(reply.status, 504);
  assert.equal(codeOf(reply), 'FNSHIFT_UPSTREAM_TIMEOUT');
  assert.equal(s.fn!.count('POST'), 1);
  assert.equal(s.fn!.seen[0]!.body.toString(), '{"order":42}');
  assert.equal(s.legacy!.count(), 0, 'the POST was replayed on legacy');
  await waitUntil(() => s.fn!.closedConnections() === 1, 'the function to see its socket closed');
  await assertBackToBaseline(s.app, before);
});
