// A real progressive rollout under generated load: with healthy function and legacy upstreams the route
// walks 10 → 50 → 100 on its own, and the share of responses served by the function (as the
// x-fnshift-target header reports it) rises with every step.
import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import { test } from 'node:test';
import autocannon from 'autocannon';
import { type RolloutEvent, rolloutChannel } from '../../src/telemetry/events.ts';
import { getRoute, mutate } from '../admin/admin-api.ts';
import { startFixture, startFnshift } from '../helpers/fnshift.ts';
import { eventually } from '../helpers/process.ts';

/** autocannon emits the parser's head ({ statusCode, headers: [name, value, …] }), not what its types say. */
type ParsedHead = { statusCode: number; headers: unknown[] };
function onHead(client: autocannon.Client, listener: (head: ParsedHead) => void): void {
  (client as unknown as EventEmitter).on('headers', listener);
}

/** An upper bound only: the load stops once the rollout succeeded and the 100 % phase was sampled. */
const MAX_LOAD_S = 12;
const PHASE_SAMPLES = 300;
/** Responses this close after a weight change may have been decided before it; they count for no phase. */
const GUARD_MS = 30;

type Sample = { atMs: number; target: string };

function targetOf(rawHeaders: unknown[]): string {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (String(rawHeaders[i]).toLowerCase() === 'x-fnshift-target') return String(rawHeaders[i + 1]);
  }
  return 'none';
}

test('walks 10 → 50 → 100 under load and the function share rises at each step', async (t) => {
  const legacy = await startFixture(t);
  const fn = await startFixture(t);
  const fnshift = await startFnshift(t, {
    legacy: { url: legacy.url },
    functions: { recommend: { url: fn.url } },
    routes: [
      {
        name: 'recommend',
        match: { pathPrefix: '/api/recommend' },
        function: 'recommend',
        weight: 0,
        rollout: {
          steps: [10, 50, 100],
          intervalMs: 500,
          minRequests: 5,
          minSuccessPercent: 99,
          threshold: 1,
        },
      },
    ],
  });

  const t0 = performance.now();
  const changes: Array<{ atMs: number; weight: number; status: string }> = [
    { atMs: 0, weight: 0, status: 'idle' },
  ];
  const onStep = (message: unknown) => {
    const event = message as RolloutEvent;
    changes.push({ atMs: performance.now() - t0, weight: event.weightPercent, status: event.status });
  };
  rolloutChannel.subscribe(onStep);
  t.after(() => rolloutChannel.unsubscribe(onStep));

  const samples: Sample[] = [];
  const statuses = new Map<number, number>();
  let stopLoad = () => {};
  const load = new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${fnshift.url}/api/recommend/items`,
        connections: 8,
        pipelining: 1,
        duration: MAX_LOAD_S,
        timeout: 5,
        setupClient: (client) => {
          onHead(client, (opts) => {
            samples.push({ atMs: performance.now() - t0, target: targetOf(opts.headers) });
            statuses.set(opts.statusCode, (statuses.get(opts.statusCode) ?? 0) + 1);
          });
        },
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    stopLoad = () => instance.stop();
    t.after(stopLoad);
  });

  // Some traffic at weight 0 first, so the rise starts from a measured zero.
  await eventually(async () => (samples.length >= PHASE_SAMPLES ? true : undefined), 'load to start');
  const started = await mutate(fnshift.adminUrl, 'POST', '/routes/recommend/rollout', { action: 'start' });
  assert.equal(started.status, 200, started.body.toString());
  const succeeded = await eventually(
    async () => changes.find((c) => c.status === 'succeeded'),
    'the rollout to succeed',
    MAX_LOAD_S * 1000,
  );
  await eventually(
    async () => (samples.filter((s) => s.atMs > succeeded.atMs).length >= PHASE_SAMPLES ? true : undefined),
    'samples after the success',
  );
  stopLoad();
  const result = await load;
  const route = await getRoute(fnshift.adminUrl, 'recommend');
  assert.equal(route.weight, 100);
  assert.equal(route.rollout?.status, 'succeeded');

  // Function share per phase: the weight in force when each response arrived.
  const phases = new Map<number, { fn: number; total: number }>();
  for (const sample of samples) {
    const current = changes.findLast((c) => c.atMs <= sample.atMs)!;
    if (sample.atMs - current.atMs < GUARD_MS && current.atMs > 0) continue;
    const phase = phases.get(current.weight) ?? { fn: 0, total: 0 };
    phase.total++;
    if (sample.target === 'function') phase.fn++;
    phases.set(current.weight, phase);
  }
  const shares = [...phases.entries()].map(([weight, p]) => ({
    weight,
    requests: p.total,
    functionSharePercent: Math.round((1000 * p.fn) / p.total) / 10,
  }));
  console.log(
    JSON.stringify({ requests: result.requests.total, non2xx: result.non2xx, errors: result.errors, shares }),
  );

  // Inconclusive checks (too little traffic in an interval on a busy machine) republish the same step.
  const walked = changes.map((c) => c.weight).filter((w, i, all) => i === 0 || w !== all[i - 1]);
  assert.deepEqual(walked, [0, 10, 50, 100], 'start at 10, then two passes to 100');
  assert.equal(changes.at(-1)?.status, 'succeeded');
  assert.ok(
    changes.every((c) => c.status !== 'failed'),
    'a healthy function never fails a check',
  );
  assert.equal(result.errors, 0);
  assert.deepEqual([...statuses.keys()], [200], 'every response is a 200');
  assert.deepEqual(
    shares.map((s) => s.weight),
    [0, 10, 50, 100],
  );
  for (const s of shares) assert.ok(s.requests >= 30, `phase ${s.weight}% saw only ${s.requests} requests`);
  const byWeight = Object.fromEntries(shares.map((s) => [s.weight, s.functionSharePercent]));
  assert.equal(byWeight[0], 0);
  assert.ok(byWeight[10]! > 0 && byWeight[10]! < 30, `share at 10%: ${byWeight[10]}`);
  assert.ok(byWeight[50]! > 25 && byWeight[50]! < 75, `share at 50%: ${byWeight[50]}`);
  assert.ok(byWeight[10]! < byWeight[50]!, 'the share rises from the 10 % step to the 50 % step');
  assert.equal(byWeight[100], 100);
});
