// E9 / G5: a function answering 429 with Retry-After is telling the caller to back off. The 4xx goes
// to the caller unchanged, is not retried or replayed, and does not count against the breaker.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertBackToBaseline, baseline, exchange, startScenario, toxics } from '../helpers/faults.ts';

test('passes 429 with Retry-After through to the caller, without a retry, a replay or a breaker failure', async (t) => {
  const s = await startScenario(t, {
    fn: toxics.respond(429, 'slow down', { 'retry-after': '7' }),
    function: { breaker: { minimumRequests: 5, errorThresholdPercent: 1 } },
  });
  const before = baseline(s.app);

  for (let i = 0; i < 15; i++) {
    const reply = await exchange(s.url(), { method: i % 2 ? 'POST' : 'GET', body: i % 2 ? 'x' : undefined });
    assert.equal(reply.status, 429);
    assert.equal(reply.headers['retry-after'], '7');
    assert.equal(reply.body.toString(), 'slow down');
    assert.equal(reply.headers['x-fnshift-target'], 'function');
    assert.equal(reply.headers['x-fnshift-fallback'], undefined);
  }
  assert.equal(s.fn!.count(), 15, 'a 429 was retried');
  assert.equal(s.legacy!.count(), 0, 'a 429 was replayed on legacy');
  assert.equal(s.app.breakers.state('recommend'), 'closed', 'a 4xx counted as a breaker failure');
  await assertBackToBaseline(s.app, before);
});
