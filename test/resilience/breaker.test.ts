import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { test } from 'node:test';
import type { BreakerConfig } from '../../src/config/schema.ts';
import type { AttemptResult } from '../../src/forwarding/forward.ts';
import { createBreaker } from '../../src/resilience/breaker.ts';
import { createBreakerRegistry } from '../../src/resilience/breakers.ts';
import { testBreakerConfig } from '../helpers/breaker.ts';

const config = testBreakerConfig;

const ok: AttemptResult = { kind: 'relayed', statusCode: 200 };
const notFound: AttemptResult = { kind: 'relayed', statusCode: 404 };
const fivexx: AttemptResult = { kind: 'diverted', statusCode: 503 };

function counting(result: AttemptResult) {
  const fn = async () => {
    fn.calls++;
    return result;
  };
  fn.calls = 0;
  return fn;
}

test('the first failure does not open the breaker', async (t) => {
  const breaker = createBreaker('f', config);
  t.after(() => breaker.shutdown());
  assert.deepEqual(await breaker.call(counting(fivexx)), fivexx);
  assert.equal(breaker.state(), 'closed');
});

test('at 100% 5xx the breaker opens exactly when the minimum number of requests is reached', async (t) => {
  const breaker = createBreaker('f', config);
  t.after(() => breaker.shutdown());
  const attempt = counting(fivexx);
  for (let i = 1; i < config.minimumRequests; i++) {
    await breaker.call(attempt);
    assert.equal(breaker.state(), 'closed', `opened after ${i} requests`);
  }
  await breaker.call(attempt);
  assert.equal(breaker.state(), 'open');
});

test('4xx answers from the function are not failures', async (t) => {
  const breaker = createBreaker('f', config);
  t.after(() => breaker.shutdown());
  for (let i = 0; i < 50; i++) await breaker.call(counting(notFound));
  assert.equal(breaker.state(), 'closed');
});

test('an open breaker refuses calls without running them, lets one probe through per open period, and a success closes it', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  const breaker = createBreaker('f', config);
  t.after(() => breaker.shutdown());
  const failing = counting(fivexx);
  for (let i = 0; i < config.minimumRequests; i++) await breaker.call(failing);
  assert.equal(breaker.state(), 'open');

  const blocked = counting(ok);
  for (let i = 0; i < 20; i++) {
    const result = await breaker.call(blocked);
    assert.equal(result.kind, 'failed');
    assert.equal(
      result.kind === 'failed' && (result.error as { code?: string }).code,
      'FNSHIFT_BREAKER_OPEN',
    );
    assert.equal(result.kind === 'failed' && result.isSent, false);
  }
  assert.equal(blocked.calls, 0);

  // A failed probe re-opens it for another period.
  t.mock.timers.tick(config.openDurationMs);
  assert.equal(breaker.state(), 'half_open');
  const probe = counting(fivexx);
  await breaker.call(probe);
  assert.equal(probe.calls, 1);
  assert.equal(breaker.state(), 'open');

  t.mock.timers.tick(config.openDurationMs);
  let release: (r: AttemptResult) => void = () => {};
  const slowProbe = counting(ok);
  const pending = breaker.call(() => {
    slowProbe.calls++;
    return new Promise<AttemptResult>((resolve) => {
      release = resolve;
    });
  });
  const others = counting(ok);
  for (let i = 0; i < 5; i++) await breaker.call(others);
  assert.equal(others.calls, 0, 'only one probe per half-open period');
  release(ok);
  assert.deepEqual(await pending, ok);
  assert.equal(slowProbe.calls, 1);
  assert.equal(breaker.state(), 'closed');
});

test('one call failing or timing out does not abort the other calls in flight', async (t) => {
  const breaker = createBreaker('f', config);
  t.after(() => breaker.shutdown());
  const results = await Promise.all([
    breaker.call(async () => ({
      kind: 'failed',
      error: Object.assign(new Error('t'), { code: 'UPSTREAM_HEADERS_TIMEOUT' }),
      isSent: true,
      isResponseStarted: false,
    })),
    breaker.call(() => new Promise<AttemptResult>((resolve) => setImmediate(() => resolve(ok)))),
    breaker.call(() => new Promise<AttemptResult>((resolve) => setTimeout(() => resolve(ok), 20))),
  ]);
  assert.deepEqual(
    results.map((r) => r.kind),
    ['failed', 'relayed', 'relayed'],
  );
});

test('calls over the concurrency cap are refused as overloaded, not run', async (t) => {
  const breaker = createBreaker('f', { ...config, maxConcurrent: 2 });
  t.after(() => breaker.shutdown());
  const releases: Array<() => void> = [];
  const hold = () => new Promise<AttemptResult>((resolve) => releases.push(() => resolve(ok)));
  const first = [breaker.call(hold), breaker.call(hold)];
  const third = await breaker.call(counting(ok));
  assert.equal(third.kind === 'failed' && (third.error as { code?: string }).code, 'FNSHIFT_OVERLOADED');
  for (const r of releases) r();
  await Promise.all(first);
});

test('transitions are published on fnshift:breaker:* channels', async (t) => {
  const seen: string[] = [];
  const onOpen = (m: unknown) => seen.push(`open:${(m as { functionName: string }).functionName}`);
  subscribe('fnshift:breaker:open', onOpen);
  t.after(() => unsubscribe('fnshift:breaker:open', onOpen));
  const breaker = createBreaker('published', { ...config, minimumRequests: 1 });
  t.after(() => breaker.shutdown());
  await breaker.call(counting(fivexx));
  assert.deepEqual(seen, ['open:published']);
});

test('a reload keeps a breaker whose options are unchanged and replaces or shuts down the others', async (t) => {
  const spec = (breaker: BreakerConfig) => ({
    url: 'http://127.0.0.1:1',
    timeoutMs: 1000,
    bodyTimeoutMs: 1000,
    pool: {
      connections: 1,
      maxPending: 1,
      connectTimeoutMs: 100,
      keepAliveTimeoutMs: 100,
      maxResponseHeaderBytes: 1024,
      maxResponseBytes: 1024,
    },
    breaker,
  });
  const registry = createBreakerRegistry({ a: spec({ ...config, minimumRequests: 1 }), b: spec(config) });
  t.after(() => registry.shutdown());
  await registry.gate.call('a', counting(fivexx));
  assert.equal(registry.state('a'), 'open');
  const b = registry.get('b');

  registry.update({ a: spec({ ...config, minimumRequests: 1 }), b: spec({ ...config, openDurationMs: 1 }) });
  assert.equal(registry.state('a'), 'open', 'unchanged options keep the state');
  assert.notEqual(registry.get('b'), b, 'changed options make a new breaker');

  registry.update({ b: spec(config) });
  assert.equal(registry.state('a'), undefined);
  assert.equal(registry.gate.isOpen('a'), false);
});
