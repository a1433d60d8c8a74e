// Bug, end to end: the half-open trial went to a function that hangs, its caller hung up, and the breaker
// closed as if the function had recovered. Real sockets: a scripted function, fnshift, a raw client.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { test } from 'node:test';
import type { BreakerEvent } from '../../src/telemetry/events.ts';
import {
  abortWhilePending,
  assertBackToBaseline,
  baseline,
  exchange,
  nextEvent,
  type Scenario,
  startScenario,
  toxics,
} from '../helpers/faults.ts';

const isRecommend = (e: BreakerEvent) => e.functionName === 'recommend';

/** Resolves once the breaker is half-open (at once if it already is). */
function halfOpen(app: Scenario['app']): Promise<unknown> {
  if (app.breakers.state('recommend') === 'half_open') return Promise.resolve();
  return nextEvent<BreakerEvent>('fnshift:breaker:half_open', isRecommend);
}

test('a half-open trial whose caller hangs up sends the breaker back to open, not closed', async (t) => {
  const transitions: string[] = [];
  const names = ['open', 'half_open', 'close'].map((e) => `fnshift:breaker:${e}`);
  const onMessage = (m: unknown) => {
    if (isRecommend(m as BreakerEvent)) transitions.push((m as BreakerEvent).event);
  };
  for (const name of names) subscribe(name, onMessage);
  t.after(() => {
    for (const name of names) unsubscribe(name, onMessage);
  });
  const s = await startScenario(t, {
    fn: toxics.respond(503, 'storm'),
    function: {
      timeoutMs: 30_000,
      breaker: { minimumRequests: 2, errorThresholdPercent: 50, openDurationMs: 500 },
    },
  });
  const before = baseline(s.app);
  for (let i = 0; i < 2; i++) await exchange(s.url());
  assert.equal(s.app.breakers.state('recommend'), 'open');

  // The function now hangs; the trial's caller gives up long before fnshift's 30 s timeout.
  s.fn!.setToxic(toxics.hang());
  await halfOpen(s.app);
  const reached = s.fn!.count();
  const next = Promise.race([
    nextEvent<BreakerEvent>('fnshift:breaker:open', isRecommend),
    nextEvent<BreakerEvent>('fnshift:breaker:close', isRecommend),
  ]);
  await abortWhilePending(s.port, 'GET /api/recommend HTTP/1.1\r\nHost: fnshift.test\r\n\r\n', () => {
    return s.fn!.count() === reached + 1;
  });
  assert.equal((await next).event, 'open', 'the trial closed the breaker');
  assert.equal(s.app.breakers.state('recommend'), 'open');

  // The next period's trial finds the function healthy and closes it.
  s.fn!.setToxic(toxics.respond(200, 'function'));
  await halfOpen(s.app);
  assert.equal((await exchange(s.url())).body.toString(), 'function');
  assert.equal(s.app.breakers.state('recommend'), 'closed');
  assert.deepEqual(transitions, ['open', 'half_open', 'open', 'half_open', 'close']);
  await assertBackToBaseline(s.app, before);
});
