// D6: a hanging function with its pool at the cap (one connection, one waiting). Further calls are
// refused at once, without queueing: replayed on legacy (nothing was sent), or 503 FNSHIFT_OVERLOADED
// on a route that never falls back. The refusals are not breaker failures.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertBackToBaseline,
  baseline,
  codeOf,
  exchange,
  openClient,
  type RawClient,
  type Scenario,
  startScenario,
  toxics,
  waitUntil,
} from '../helpers/faults.ts';

const options = {
  fn: toxics.hang(),
  function: {
    timeoutMs: 30_000,
    pool: { connections: 1, maxPending: 1 },
    breaker: { minimumRequests: 2, errorThresholdPercent: 1 },
  },
};

/** Two GETs that fill the pool: one on the only connection, one waiting for it. */
async function fillPool(s: Scenario): Promise<RawClient[]> {
  const clients = await Promise.all([openClient(s.port), openClient(s.port)]);
  for (const c of clients) await c.write('GET /api/recommend HTTP/1.1\r\nHost: fnshift.test\r\n\r\n');
  const upstream = s.app.snapshot.functions.recommend!;
  await waitUntil(() => upstream.inFlight === 2 && s.fn!.count() === 1, 'the pool to fill');
  return clients;
}

async function drain(clients: RawClient[]): Promise<void> {
  for (const c of clients) c.abort();
  await Promise.all(clients.map((c) => c.closed));
}

test('replays GET and POST on legacy with fallback overloaded when the function pool is full', async (t) => {
  const s = await startScenario(t, options);
  const before = baseline(s.app);
  const clients = await fillPool(s);

  for (const method of ['GET', 'POST', 'GET', 'POST']) {
    const reply = await exchange(s.url(), { method, body: method === 'POST' ? '{}' : undefined });
    assert.equal(reply.status, 200, method);
    assert.equal(reply.body.toString(), 'legacy');
    assert.equal(reply.headers['x-fnshift-fallback'], 'overloaded');
  }
  assert.equal(s.fn!.count(), 1, 'a refused request reached the function');
  assert.equal(s.app.snapshot.functions.recommend!.pool.stats.pending, 1, 'the queue grew past its cap');
  assert.equal(s.app.breakers.state('recommend'), 'closed', 'refusals counted as breaker failures');

  await drain(clients);
  await assertBackToBaseline(s.app, before);
});

test('answers 503 FNSHIFT_OVERLOADED when the function pool is full and the route never falls back', async (t) => {
  const s = await startScenario(t, { ...options, route: { fallback: 'never' } });
  const before = baseline(s.app);
  const clients = await fillPool(s);

  const reply = await exchange(s.url(), { method: 'POST', body: '{}' });
  assert.equal(reply.status, 503);
  assert.equal(codeOf(reply), 'FNSHIFT_OVERLOADED');
  assert.equal(s.legacy!.count(), 0);

  await drain(clients);
  await assertBackToBaseline(s.app, before);
});
