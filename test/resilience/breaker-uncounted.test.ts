// Bug: attempts that say nothing about the function's health (the caller hung up, fnshift refused the
// request itself) reached opossum as successes: they diluted the failure percentage, and a half-open trial
// whose caller hung up closed the breaker as if the function had recovered.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { type TestContext, test } from 'node:test';
import type { AttemptResult } from '../../src/forwarding/forward.ts';
import { type Breaker, createBreaker, verdictOf } from '../../src/resilience/breaker.ts';
import { testBreakerConfig } from '../helpers/breaker.ts';

const config = testBreakerConfig;

const ok: AttemptResult = { kind: 'relayed', statusCode: 200 };
const fivexx: AttemptResult = { kind: 'diverted', statusCode: 503 };
const clientGone: AttemptResult = { kind: 'client_gone', isSent: true };

function failed(code: string, isSent = true): AttemptResult {
  return {
    kind: 'failed',
    error: Object.assign(new Error(code), { code }),
    isSent,
    isResponseStarted: false,
  };
}

/** Every result that tells nothing about the function: a hang-up, and each of fnshift's own refusals. */
const uncounted: Array<[string, AttemptResult]> = [
  ['the caller hung up', clientGone],
  ['the caller hung up before anything was sent', { kind: 'client_gone', isSent: false }],
  ['the function pool was full', failed('FNSHIFT_OVERLOADED', false)],
  ['the request body was too large', failed('FNSHIFT_BODY_TOO_LARGE')],
  ['the request body was too slow', failed('FNSHIFT_REQUEST_TIMEOUT')],
  ['the request was malformed', failed('FNSHIFT_BAD_REQUEST')],
];

const answer = (result: AttemptResult) => async () => result;

/** A breaker already opened by 100% 5xx, with timers mocked so the test moves it to half-open. */
async function openBreaker(t: TestContext): Promise<Breaker> {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  const breaker = createBreaker('f', config);
  t.after(() => breaker.shutdown());
  for (let i = 0; i < config.minimumRequests; i++) await breaker.call(answer(fivexx));
  assert.equal(breaker.state(), 'open');
  return breaker;
}

for (const [why, result] of uncounted) {
  test(`a half-open trial does not close the breaker when ${why}`, async (t) => {
    const breaker = await openBreaker(t);
    t.mock.timers.tick(config.openDurationMs);
    assert.equal(breaker.state(), 'half_open');

    assert.deepEqual(await breaker.call(answer(result)), result, 'the caller gets the attempt result as is');
    assert.equal(breaker.state(), 'open', 'a trial that taught nothing closed the breaker');
    assert.equal(breaker.isOpen(), true);
  });
}

test('after a trial whose caller hung up, the next open period ends in a new trial that can close the breaker', async (t) => {
  const seen: string[] = [];
  const onEvent = (m: unknown) => seen.push((m as { event: string }).event);
  const names = ['open', 'half_open', 'close'].map((e) => `fnshift:breaker:${e}`);
  for (const name of names) subscribe(name, onEvent);
  t.after(() => {
    for (const name of names) unsubscribe(name, onEvent);
  });
  const breaker = await openBreaker(t);
  t.mock.timers.tick(config.openDurationMs);
  await breaker.call(answer(clientGone));
  assert.equal(breaker.state(), 'open');

  // Not before the full period: the void trial re-armed the open timer.
  t.mock.timers.tick(config.openDurationMs - 1);
  assert.equal(breaker.state(), 'open');
  t.mock.timers.tick(1);
  assert.equal(breaker.state(), 'half_open');
  await breaker.call(answer(ok));
  assert.equal(breaker.state(), 'closed');
  assert.deepEqual(seen, ['open', 'half_open', 'open', 'half_open', 'close']);
});

test('a caller hanging up on the half-open trial frees no second trial while the first is in flight', async (t) => {
  const breaker = await openBreaker(t);
  t.mock.timers.tick(config.openDurationMs);
  let hangUp: (r: AttemptResult) => void = () => {};
  const trial = breaker.call(() => new Promise<AttemptResult>((resolve) => (hangUp = resolve)));
  let others = 0;
  const other = async () => {
    others++;
    return ok;
  };
  const refused = await breaker.call(other);
  assert.equal(
    refused.kind === 'failed' && (refused.error as { code?: string }).code,
    'FNSHIFT_BREAKER_OPEN',
  );
  hangUp(clientGone);
  await trial;
  const after = await breaker.call(other);
  assert.equal(after.kind === 'failed' && (after.error as { code?: string }).code, 'FNSHIFT_BREAKER_OPEN');
  assert.equal(others, 0);
});

test('callers hanging up on a hanging function do not dilute its failure percentage', async (t) => {
  const breaker = createBreaker('f', config);
  t.after(() => breaker.shutdown());
  // Three impatient callers give up for every one that waits for fnshift's timeout.
  for (let i = 1; i <= config.minimumRequests; i++) {
    for (let j = 0; j < 3; j++) await breaker.call(answer(clientGone));
    await breaker.call(answer(failed('UPSTREAM_HEADERS_TIMEOUT')));
    const expected = i < config.minimumRequests ? 'closed' : 'open';
    assert.equal(breaker.state(), expected, `after ${i} timeouts`);
  }
});

test("fnshift's own refusals neither count toward the minimum requests nor dilute the failure percentage", async (t) => {
  const breaker = createBreaker('f', config);
  t.after(() => breaker.shutdown());
  for (let i = 0; i < 100; i++) await breaker.call(answer(uncounted[i % uncounted.length]![1]));
  for (let i = 1; i < config.minimumRequests; i++) await breaker.call(answer(fivexx));
  assert.equal(breaker.state(), 'closed', 'refusals counted toward the minimum requests');
  await breaker.call(answer(fivexx));
  assert.equal(breaker.state(), 'open', 'refusals counted as successes');
});

test('5xx, timeouts, resets and refused connections are failures; 2xx and 4xx are successes', () => {
  const failures: AttemptResult[] = [
    fivexx,
    { kind: 'relayed', statusCode: 500 },
    failed('UPSTREAM_HEADERS_TIMEOUT'),
    failed('UPSTREAM_BODY_TIMEOUT'),
    failed('ECONNRESET'),
    failed('ECONNREFUSED', false),
    failed('UPSTREAM_CONNECT_TIMEOUT', false),
  ];
  for (const result of failures) assert.equal(verdictOf(result), 'failure', JSON.stringify(result));
  const successes: AttemptResult[] = [
    ok,
    { kind: 'relayed', statusCode: 404 },
    { kind: 'diverted', statusCode: 429 },
  ];
  for (const result of successes) assert.equal(verdictOf(result), 'success', JSON.stringify(result));
});

test('a half-open trial answered 4xx closes the breaker: the function is up', async (t) => {
  const breaker = await openBreaker(t);
  t.mock.timers.tick(config.openDurationMs);
  await breaker.call(answer({ kind: 'relayed', statusCode: 404 }));
  assert.equal(breaker.state(), 'closed');
});

test('a half-open trial that times out opens the breaker again', async (t) => {
  const breaker = await openBreaker(t);
  t.mock.timers.tick(config.openDurationMs);
  await breaker.call(answer(failed('UPSTREAM_HEADERS_TIMEOUT')));
  assert.equal(breaker.state(), 'open');
});
