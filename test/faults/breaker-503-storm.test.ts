// E8: a 100 % 503 storm. The breaker opens once minimumRequests calls failed; while open the function
// receives nothing (callers are served by legacy), each half-open period lets exactly one probe through,
// a failed probe re-opens it and a successful one closes it. Transitions are awaited on the
// fnshift:breaker:* channels rather than slept for.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { type TestContext, test } from 'node:test';
import type { BreakerEvent } from '../../src/telemetry/events.ts';
import {
  assertBackToBaseline,
  baseline,
  exchange,
  nextEvent,
  type Scenario,
  startScenario,
  toxics,
} from '../helpers/faults.ts';

const MINIMUM_REQUESTS = 5;

function recordTransitions(t: TestContext): BreakerEvent['event'][] {
  const log: BreakerEvent['event'][] = [];
  const names = ['open', 'half_open', 'close'].map((e) => `fnshift:breaker:${e}`);
  const onMessage = (message: unknown) => {
    const event = message as BreakerEvent;
    if (event.functionName === 'recommend') log.push(event.event);
  };
  for (const name of names) subscribe(name, onMessage);
  t.after(() => {
    for (const name of names) unsubscribe(name, onMessage);
  });
  return log;
}

/** Resolves once the breaker is half-open (at once if it already is). */
function halfOpen(app: Scenario['app']): Promise<unknown> {
  if (app.breakers.state('recommend') === 'half_open') return Promise.resolve();
  return nextEvent<BreakerEvent>('fnshift:breaker:half_open', (e) => e.functionName === 'recommend');
}

test('a 503 storm opens the breaker, the function sees only one probe per open period, and a good probe closes it', async (t) => {
  const transitions = recordTransitions(t);
  const s = await startScenario(t, {
    fn: toxics.respond(503, 'storm'),
    function: {
      breaker: { minimumRequests: MINIMUM_REQUESTS, errorThresholdPercent: 50, openDurationMs: 600 },
    },
  });
  const before = baseline(s.app);

  // Closed: every call reaches the function, every 503 is replaced by legacy's answer.
  for (let i = 1; i <= MINIMUM_REQUESTS; i++) {
    const reply = await exchange(s.url());
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['x-fnshift-fallback'], 'function_5xx');
    assert.equal(s.app.breakers.state('recommend'), i < MINIMUM_REQUESTS ? 'closed' : 'open', `after ${i}`);
  }
  assert.equal(s.fn!.count(), MINIMUM_REQUESTS);

  // Open: nothing reaches the function except, at most, one probe per half-open period.
  const opensSoFar = transitions.filter((e) => e === 'half_open').length;
  for (let i = 0; i < 20; i++) {
    const reply = await exchange(s.url());
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), 'legacy');
  }
  const probes = transitions.filter((e) => e === 'half_open').length - opensSoFar;
  assert.ok(
    s.fn!.count() - MINIMUM_REQUESTS <= probes,
    `${s.fn!.count() - MINIMUM_REQUESTS} calls reached the function during ${probes} half-open periods`,
  );

  // Half-open with the function still failing: the one probe fails and the breaker opens again.
  await halfOpen(s.app);
  let reached = s.fn!.count();
  const reopened = nextEvent<BreakerEvent>('fnshift:breaker:open', (e) => e.functionName === 'recommend');
  const failedProbe = await exchange(s.url());
  assert.equal(failedProbe.headers['x-fnshift-fallback'], 'function_5xx');
  await reopened;
  assert.equal(s.fn!.count(), reached + 1);

  // Half-open with the function healthy but slow: of five concurrent callers exactly one is the probe.
  await halfOpen(s.app);
  s.fn!.setToxic(toxics.delay(1000, toxics.respond(200, 'function')));
  reached = s.fn!.count();
  const closed = nextEvent<BreakerEvent>('fnshift:breaker:close', (e) => e.functionName === 'recommend');
  const replies = await Promise.all(Array.from({ length: 5 }, () => exchange(s.url())));
  await closed;
  assert.equal(s.fn!.count(), reached + 1, 'more than one probe reached the function while half-open');
  const bodies = replies.map((r) => r.body.toString()).sort();
  assert.deepEqual(bodies, ['function', 'legacy', 'legacy', 'legacy', 'legacy']);
  for (const r of replies.filter((r) => r.body.toString() === 'legacy')) {
    assert.equal(r.headers['x-fnshift-fallback'], 'breaker_open');
  }
  assert.equal(s.app.breakers.state('recommend'), 'closed');

  // Closed again: traffic flows to the function.
  for (let i = 0; i < 3; i++) assert.equal((await exchange(s.url())).body.toString(), 'function');
  assert.equal(s.fn!.count(), reached + 4);
  await assertBackToBaseline(s.app, before);
});
