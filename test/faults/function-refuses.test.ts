// E1: nothing listens on the function's port. Nothing was sent, so every method is replayed on legacy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertBackToBaseline, baseline, exchange, startScenario, toxics } from '../helpers/faults.ts';

test('serves GET and POST from legacy with fallback connect_failure when the function refuses connections', async (t) => {
  const s = await startScenario(t, { fn: 'refused', legacy: toxics.respond(200, 'legacy') });
  const before = baseline(s.app);

  const get = await exchange(s.url('?id=1'));
  assert.equal(get.status, 200);
  assert.equal(get.body.toString(), 'legacy');
  assert.equal(get.headers['x-fnshift-target'], 'legacy');
  assert.equal(get.headers['x-fnshift-fallback'], 'connect_failure');

  const post = await exchange(s.url(), { method: 'POST', body: '{"order":42}' });
  assert.equal(post.status, 200);
  assert.equal(post.headers['x-fnshift-fallback'], 'connect_failure');

  assert.deepEqual(
    s.legacy!.seen.map((r) => [r.method, r.path, r.body.toString()]),
    [
      ['GET', '/api/recommend?id=1', ''],
      ['POST', '/api/recommend', '{"order":42}'],
    ],
  );
  await assertBackToBaseline(s.app, before);
});

test('counts refused connections as breaker failures, then stops trying the function while the breaker is open', async (t) => {
  const s = await startScenario(t, {
    fn: 'refused',
    function: { breaker: { minimumRequests: 3, errorThresholdPercent: 50, openDurationMs: 60_000 } },
  });
  const before = baseline(s.app);

  for (let i = 0; i < 3; i++) {
    assert.equal((await exchange(s.url())).headers['x-fnshift-fallback'], 'connect_failure');
  }
  assert.equal(s.app.breakers.state('recommend'), 'open');
  const reply = await exchange(s.url(), { method: 'POST', body: '{}' });
  assert.equal(reply.status, 200);
  assert.equal(reply.headers['x-fnshift-fallback'], 'breaker_open');
  assert.equal(s.legacy!.count(), 4);
  await assertBackToBaseline(s.app, before);
});
