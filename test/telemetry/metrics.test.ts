// Metrics after a known mix of requests: counts per route and target, a fallback, a breaker opening,
// weights, reloads and rollouts, read back through a Prometheus text-format parser.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { publishReload, publishRollout } from '../../src/telemetry/events.ts';
import { createMetrics, type Metrics, OVERHEAD_BUCKETS_S } from '../../src/telemetry/metrics.ts';
import { type Running, refusedUrl, startFixture, startFnshift } from '../helpers/fnshift.ts';
import { send } from '../helpers/raw.ts';
import { parseExposition } from './prometheus-text.ts';

/** Metrics over the fnshift `running()` returns once it has started, stopped when the test ends. */
function watch(t: TestContext, running: () => Running): Metrics {
  const metrics = createMetrics({
    snapshot: () => running().app.snapshot,
    breakerState: (name) => running().app.breakers.state(name),
  });
  t.after(() => metrics.stop());
  return metrics;
}

async function setup(t: TestContext) {
  let running: Running | undefined;
  const metrics = watch(t, () => running!);
  const legacy = await startFixture(t);
  const recommend = await startFixture(t, (req, res) => {
    // `/close` answers close their socket, as an upstream ending keep-alive does.
    if (req.url!.includes('close')) res.setHeader('connection', 'close');
    res.writeHead(req.url!.includes('missing') ? 404 : 200, { 'content-type': 'application/json' }).end('{}');
  });
  running = await startFnshift(t, {
    legacy: { url: legacy.url },
    functions: {
      recommend: { url: recommend.url },
      // Nothing listens: every call fails to connect, falls back, and four of them open the breaker.
      flaky: {
        url: await refusedUrl(),
        breaker: { minimumRequests: 4, errorThresholdPercent: 50, openDurationMs: 600_000 },
      },
    },
    routes: [
      { name: 'recommend', match: { pathPrefix: '/api/recommend' }, function: 'recommend', weight: 100 },
      { name: 'items', match: { pathPrefix: '/api/items' }, function: 'recommend', weight: 0 },
      { name: 'flaky', match: { pathPrefix: '/api/flaky' }, function: 'flaky', weight: 100 },
    ],
  });
  return { metrics, url: running.url };
}

async function sendMany(url: string, count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) statuses.push((await send(url)).status);
  return statuses;
}

test('counts requests, fallbacks and a breaker opening per route and target', async (t) => {
  const { metrics, url } = await setup(t);
  await sendMany(`${url}/api/recommend/a?user=1`, 5);
  await sendMany(`${url}/api/recommend/missing`, 1);
  await sendMany(`${url}/api/items/b`, 3);
  await sendMany(`${url}/elsewhere/c`, 2);
  assert.deepEqual(await sendMany(`${url}/api/flaky/d`, 6), [200, 200, 200, 200, 200, 200]);

  const m = parseExposition(await metrics.render());
  const requests = (route: string, target: string, cls: string) =>
    m.value('fnshift_requests_total', { route, target, status_class: cls });
  assert.equal(requests('recommend', 'function', '2xx'), 5);
  assert.equal(requests('recommend', 'function', '4xx'), 1);
  assert.equal(requests('items', 'legacy', '2xx'), 3);
  assert.equal(requests('unmatched', 'legacy', '2xx'), 2);
  assert.equal(requests('flaky', 'legacy', '2xx'), 6);
  assert.equal(m.series('fnshift_requests_total').length, 5);

  assert.equal(
    m.value('http_server_request_duration_seconds_count', {
      route: 'recommend',
      target: 'function',
      status_class: '2xx',
    }),
    5,
  );
  assert.equal(
    m.value('http_server_request_duration_seconds_bucket', {
      route: 'recommend',
      target: 'function',
      status_class: '2xx',
      le: '+Inf',
    }),
    5,
  );
  assert.deepEqual(
    m
      .series('http_server_request_duration_seconds_bucket')
      .filter((s) => s.labels.route === 'items')
      .map((s) => s.labels.le),
    [
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.075',
      '0.1',
      '0.25',
      '0.5',
      '0.75',
      '1',
      '2.5',
      '5',
      '7.5',
      '10',
      '+Inf',
    ],
  );

  // Four connect failures fall back and open the breaker; the next two go to legacy without trying.
  assert.equal(m.value('fnshift_fallbacks_total', { route: 'flaky', reason: 'connect_failure' }), 4);
  assert.equal(m.value('fnshift_fallbacks_total', { route: 'flaky', reason: 'breaker_open' }), 2);
  assert.equal(m.value('fnshift_upstream_connect_failures_total', { upstream: 'flaky' }), 4);
  assert.equal(m.value('fnshift_breaker_transitions_total', { function: 'flaky', event: 'open' }), 1);
  assert.equal(m.value('fnshift_breaker_state', { function: 'flaky' }), 2);
  assert.equal(m.value('fnshift_breaker_state', { function: 'recommend' }), 0);

  const attempts = (upstream: string, target: string, outcome: string, cls: string) =>
    m.value('http_client_request_duration_seconds_count', { upstream, target, outcome, status_class: cls });
  assert.equal(attempts('recommend', 'function', 'relayed', '2xx'), 5);
  assert.equal(attempts('recommend', 'function', 'relayed', '4xx'), 1);
  assert.equal(attempts('flaky', 'function', 'failed', 'none'), 4);
  assert.equal(attempts('legacy', 'legacy', 'relayed', '2xx'), 3 + 2 + 6);

  // One request at a time: each upstream's one keep-alive socket carried all of them.
  const sockets = (upstream: string) => [
    m.value('fnshift_upstream_connections_opened_total', { upstream }),
    m.value('fnshift_upstream_connections_closed_total', { upstream }),
  ];
  assert.deepEqual(sockets('recommend'), [1, 0]);
  assert.deepEqual(sockets('legacy'), [1, 0]);
  assert.deepEqual(sockets('flaky'), [0, 0], 'a refused connect opens nothing');

  assert.equal(m.value('fnshift_route_weight_percent', { route: 'recommend' }), 100);
  assert.equal(m.value('fnshift_route_weight_percent', { route: 'items' }), 0);
  assert.equal(m.value('fnshift_build_info', { version: '0.1.0', node: process.version }), 1);
  assert.equal(m.types.get('http_server_request_duration_seconds'), 'HISTOGRAM');
  assert.equal(m.types.get('fnshift_requests_total'), 'COUNTER');
  assert.ok(m.types.has('process_cpu_user_seconds_total'), 'default process metrics');
  assert.ok(m.types.has('nodejs_eventloop_lag_p99_seconds'), 'default event-loop metrics');
});

test('counts the sockets each upstream closes and the ones opened after them', async (t) => {
  const { metrics, url } = await setup(t);
  await sendMany(`${url}/api/recommend/a`, 2);
  await sendMany(`${url}/api/recommend/close`, 2);
  await sendMany(`${url}/api/recommend/b`, 2);
  const m = parseExposition(await metrics.render());
  // The first socket carried a and the first close; the second, the second close; the third, both b.
  assert.equal(m.value('fnshift_upstream_connections_opened_total', { upstream: 'recommend' }), 3);
  assert.equal(m.value('fnshift_upstream_connections_closed_total', { upstream: 'recommend' }), 2);
  assert.equal(m.types.get('fnshift_upstream_connections_opened_total'), 'COUNTER');
});

test('a reload that gives an upstream a new pool does not take its socket counters back', async () => {
  const pool = (opened: number, closed: number) => ({ totals: { opened, closed } });
  let functions = { recommend: { pool: pool(5, 2) } };
  const metrics = createMetrics({
    snapshot: () =>
      ({ legacy: { pool: pool(1, 0) }, functions, weights: new Map(), config: { functions } }) as never,
    breakerState: () => undefined,
  });
  const sockets = async () => {
    const m = parseExposition(await metrics.render());
    return ['opened', 'closed'].map((which) =>
      m.value(`fnshift_upstream_connections_${which}_total`, { upstream: 'recommend' }),
    );
  };
  assert.deepEqual(await sockets(), [5, 2]);
  // The old pool opens one more before the reload; its 4 open sockets leave with it, counted as closed.
  const old = functions.recommend.pool;
  old.totals.opened = 6;
  functions = { recommend: { pool: pool(1, 0) } };
  assert.deepEqual(await sockets(), [7, 6], "opened less closed is the new pool's one socket");
  functions.recommend.pool.totals.opened = 4;
  functions.recommend.pool.totals.closed = 1;
  old.totals.closed = 6;
  assert.deepEqual(await sockets(), [10, 7]);
  metrics.stop();
});

test('counts config reloads by result and shows the rollout step and state', async (t) => {
  const { metrics } = await setup(t);
  assert.equal(
    parseExposition(await metrics.render()).value('fnshift_config_reloads_total', { result: 'invalid' }),
    0,
  );
  publishReload({ result: 'ok', trigger: 'watch' });
  publishReload({
    result: 'invalid',
    trigger: 'watch',
    problems: ['routes.0.weight: must be between 0 and 100'],
  });
  publishRollout({ route: 'recommend', status: 'progressing', stepIndex: 1, weightPercent: 5 });

  const m = parseExposition(await metrics.render());
  assert.equal(m.value('fnshift_config_reloads_total', { result: 'ok' }), 1);
  assert.equal(m.value('fnshift_config_reloads_total', { result: 'invalid' }), 1);
  assert.equal(m.value('fnshift_config_reloads_total', { result: 'unchanged' }), 0);
  assert.equal(m.value('fnshift_config_last_reload_successful'), 0);
  assert.equal(m.value('fnshift_rollout_step', { route: 'recommend' }), 2);
  assert.equal(m.value('fnshift_rollout_state', { route: 'recommend', state: 'progressing' }), 1);
  assert.equal(m.value('fnshift_rollout_state', { route: 'recommend', state: 'paused' }), 0);

  publishRollout({ route: 'recommend', status: 'succeeded', stepIndex: 4, weightPercent: 100 });
  const after = parseExposition(await metrics.render());
  assert.equal(after.value('fnshift_rollout_state', { route: 'recommend', state: 'progressing' }), 0);
  assert.equal(after.value('fnshift_rollout_state', { route: 'recommend', state: 'succeeded' }), 1);
});

test('stops counting once stopped', async (t) => {
  const { metrics, url } = await setup(t);
  await sendMany(`${url}/api/items/b`, 1);
  metrics.stop();
  await sendMany(`${url}/api/items/b`, 1);
  const m = parseExposition(await metrics.render());
  assert.equal(
    m.value('fnshift_requests_total', { route: 'items', target: 'legacy', status_class: '2xx' }),
    1,
  );
});

test("fnshift_overhead_seconds leaves out the upstreams' time, a fallback's two attempts included", async (t) => {
  let running: Running | undefined;
  const metrics = watch(t, () => running!);
  const SLOW_MS = 150;
  const slowly = (status: number) => (_req: unknown, res: import('node:http').ServerResponse) => {
    setTimeout(() => res.writeHead(status, { 'content-type': 'application/json' }).end('{}'), SLOW_MS);
  };
  const legacy = await startFixture(t, slowly(200));
  const failing = await startFixture(t, slowly(503));
  running = await startFnshift(t, {
    legacy: { url: legacy.url },
    functions: { failing: { url: failing.url, breaker: { enabled: false } } },
    routes: [{ name: 'shaky', match: { pathPrefix: '/api/shaky' }, function: 'failing', weight: 100 }],
  });
  // A GET: the function's 503 after 150 ms is replayed on legacy, which takes 150 ms more.
  assert.equal((await send(`${running.url}/api/shaky/x`)).status, 200);
  assert.equal((await send(`${running.url}/elsewhere`)).status, 200);

  const m = parseExposition(await metrics.render());
  const total = (route: string) =>
    m.value('http_server_request_duration_seconds_sum', { route, target: 'legacy', status_class: '2xx' });
  const own = (route: string) => m.value('fnshift_overhead_seconds_sum', { route, target: 'legacy' });
  assert.equal(m.value('fnshift_overhead_seconds_count', { route: 'shaky', target: 'legacy' }), 1);
  assert.ok(total('shaky') >= (2 * SLOW_MS) / 1000, `the fallback took ${total('shaky')} s in all`);
  assert.ok(total('unmatched') >= SLOW_MS / 1000);
  // Both attempts' 300 ms are the upstreams'; what remains is fnshift's own work, far under one wait.
  for (const route of ['shaky', 'unmatched']) {
    assert.ok(own(route) >= 0 && own(route) < SLOW_MS / 1000 / 3, `${route}: ${own(route)} s of its own`);
  }
  assert.equal(m.types.get('fnshift_overhead_seconds'), 'HISTOGRAM');
  // Buckets from 10 µs: the whole healthy range of fnshift's own time is resolved.
  assert.deepEqual(
    m
      .series('fnshift_overhead_seconds_bucket')
      .filter((s) => s.labels.route === 'shaky')
      .map((s) => s.labels.le),
    [...OVERHEAD_BUCKETS_S.map(String), '+Inf'],
  );
  assert.equal(OVERHEAD_BUCKETS_S[0], 0.00001);
});

test('fnshift_overhead_seconds counts the relay work inside an attempt as fnshift’s own', async (t) => {
  let running: Running | undefined;
  const metrics = watch(t, () => running!);
  // 16 MiB sent at once: the upstream never keeps fnshift waiting, fnshift parses, copies and writes
  // every read of it (hundreds of them) on its own time.
  const body = Buffer.alloc(16 * 1024 * 1024, 'x');
  const legacy = await startFixture(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
  running = await startFnshift(t, { legacy: { url: legacy.url } });
  const reply = await fetch(`${running.url}/big`);
  assert.equal((await reply.arrayBuffer()).byteLength, body.length);

  const m = parseExposition(await metrics.render());
  const own = m.value('fnshift_overhead_seconds_sum', { route: 'unmatched', target: 'legacy' });
  const total = m.value('http_server_request_duration_seconds_sum', {
    route: 'unmatched',
    target: 'legacy',
    status_class: '2xx',
  });
  assert.ok(own > 0.001, `only ${own} s of relaying 16 MiB was fnshift's own`);
  assert.ok(own <= total, `${own} s of its own in a request of ${total} s`);
});
