// E12: the function's breaker is open and legacy is down too. The caller gets a 503 with a code that
// says which side failed, promptly, and the function is not called while its breaker is open.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertBackToBaseline,
  baseline,
  codeOf,
  exchange,
  startScenario,
  toxics,
} from '../helpers/faults.ts';

const breaker = { minimumRequests: 3, errorThresholdPercent: 50, openDurationMs: 60_000 };

test('answers 503 FNSHIFT_UPSTREAM_UNAVAILABLE naming legacy when the breaker is open and legacy refuses', async (t) => {
  const s = await startScenario(t, {
    fn: toxics.respond(503, 'storm'),
    legacy: 'refused',
    function: { breaker },
  });
  const before = baseline(s.app);

  for (let i = 0; i < breaker.minimumRequests; i++) {
    const reply = await exchange(s.url());
    assert.equal(reply.status, 503);
    assert.equal(codeOf(reply), 'FNSHIFT_UPSTREAM_UNAVAILABLE');
  }
  assert.equal(s.app.breakers.state('recommend'), 'open');

  for (const method of ['GET', 'POST']) {
    const reply = await exchange(s.url(), { method, body: method === 'POST' ? '{}' : undefined });
    assert.equal(reply.status, 503, method);
    assert.equal(codeOf(reply), 'FNSHIFT_UPSTREAM_UNAVAILABLE');
    assert.equal(JSON.parse(reply.body.toString()).upstream, 'legacy');
  }
  assert.equal(s.fn!.count(), breaker.minimumRequests, 'the function was called while its breaker was open');
  await assertBackToBaseline(s.app, before);
});

test('answers 503 FNSHIFT_BREAKER_OPEN without trying legacy on a route that never falls back', async (t) => {
  const s = await startScenario(t, {
    fn: toxics.respond(503, 'storm'),
    legacy: 'refused',
    function: { breaker },
    route: { fallback: 'never' },
  });
  const before = baseline(s.app);

  for (let i = 0; i < breaker.minimumRequests; i++) {
    const reply = await exchange(s.url());
    assert.equal(reply.status, 502);
    assert.equal(codeOf(reply), 'FNSHIFT_FUNCTION_ERROR');
  }
  const reply = await exchange(s.url());
  assert.equal(reply.status, 503);
  assert.equal(codeOf(reply), 'FNSHIFT_BREAKER_OPEN');
  assert.equal(s.fn!.count(), breaker.minimumRequests);
  await assertBackToBaseline(s.app, before);
});

test('answers 504 within legacy timeoutMs when the breaker is open and legacy hangs', async (t) => {
  const s = await startScenario(t, {
    fn: toxics.respond(503, 'storm'),
    function: { breaker },
    legacyConfig: { timeoutMs: 300 },
  });
  const before = baseline(s.app);

  for (let i = 0; i < breaker.minimumRequests; i++) await exchange(s.url());
  assert.equal(s.app.breakers.state('recommend'), 'open');
  s.legacy!.setToxic(toxics.hang());
  const reply = await exchange(s.url());
  assert.equal(reply.status, 504);
  assert.equal(codeOf(reply), 'FNSHIFT_UPSTREAM_TIMEOUT');
  assert.equal(s.fn!.count(), breaker.minimumRequests);
  await assertBackToBaseline(s.app, before);
});
