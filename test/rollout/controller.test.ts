// The progressive rollout controller under mocked time: it walks the steps on healthy checks, holds
// on too little traffic, rolls back to 0 after `threshold` failed checks, obeys pause / resume / abort /
// promote (409 when they make no sense), and resumes after a restart from the persisted state.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import type { RolloutAction } from '../../src/rollout/controller.ts';
import { loadState, stateSchema } from '../../src/rollout/state.ts';
import { tempDir } from '../helpers/process.ts';
import { feedFunction, type Harness, rolloutConfig, settle, startHarness } from './rollout-harness.ts';

const INTERVAL_MS = 60_000;
const STEPS = [1, 5, 25, 50, 100];
const T0 = Date.parse('2026-03-01T12:00:00.000Z');

const config = rolloutConfig([
  {
    name: 'recommend',
    match: { pathPrefix: '/api/recommend' },
    function: 'fn',
    weight: 0,
    rollout: {
      steps: STEPS,
      intervalMs: INTERVAL_MS,
      minRequests: 20,
      minSuccessPercent: 99,
      maxP99Ms: 500,
      threshold: 2,
    },
  },
  { name: 'plain', match: { pathPrefix: '/api/plain' }, function: 'fn', weight: 0 },
]);

async function setup(t: TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 });
  const stateFile = join(await tempDir(t), 'state.json');
  return { stateFile, harness: startHarness(t, config, { stateFile }) };
}

function view(h: Harness) {
  const record = h.store.state.rollouts.recommend;
  const weight = h.store.snapshot.weights.get('recommend')!;
  return { status: record?.status ?? 'idle', weight: weight.weightPercent, source: weight.source, record };
}

/** Advances mocked time and lets the check that fired (if any) finish. */
async function advance(t: TestContext, h: Harness, ms: number): Promise<void> {
  t.mock.timers.tick(ms);
  await settle(h.store);
}

async function healthyInterval(t: TestContext, h: Harness): Promise<void> {
  feedFunction('recommend', 50);
  await advance(t, h, INTERVAL_MS);
}

async function assertConflict(h: Harness, action: RolloutAction): Promise<void> {
  await assert.rejects(h.controller.act('recommend', action), { code: 'FNSHIFT_CONFLICT', status: 409 });
}

test('walks 0 → 1 → 5 → 25 → 50 → 100 on healthy checks, one step per interval, then succeeds', async (t) => {
  const { harness: h, stateFile } = await setup(t);
  assert.equal(view(h).weight, 0);
  await h.controller.act('recommend', 'start');
  assert.deepEqual([view(h).status, view(h).weight, view(h).source], ['progressing', 1, 'rollout']);

  const walked = [view(h).weight];
  for (const expected of STEPS.slice(1)) {
    feedFunction('recommend', 50);
    await advance(t, h, INTERVAL_MS - 1);
    assert.equal(view(h).weight, walked.at(-1), 'no check before the interval is over');
    await advance(t, h, 1);
    assert.equal(view(h).weight, expected);
    assert.equal(view(h).record?.lastCheck?.result, 'pass');
    walked.push(view(h).weight);
  }
  assert.deepEqual(walked, STEPS);
  assert.equal(view(h).status, 'progressing', 'the last step is held for one more interval');

  await healthyInterval(t, h);
  assert.deepEqual([view(h).status, view(h).weight], ['succeeded', 100]);
  const onDisk = stateSchema.parse(JSON.parse(await readFile(stateFile, 'utf8')));
  assert.equal(onDisk.rollouts.recommend?.status, 'succeeded');
  assert.equal(onDisk.weights.recommend?.weightPercent, 100);

  await healthyInterval(t, h);
  assert.equal(
    view(h).record?.lastCheck?.at,
    new Date(T0 + 5 * INTERVAL_MS).toISOString(),
    'no checks after success',
  );
});

test('holds the step as inconclusive while the function sees fewer than minRequests requests', async (t) => {
  const { harness: h } = await setup(t);
  await h.controller.act('recommend', 'start');
  for (let i = 0; i < 3; i++) {
    feedFunction('recommend', 19);
    await advance(t, h, INTERVAL_MS);
    assert.deepEqual([view(h).status, view(h).weight], ['progressing', 1]);
    assert.equal(view(h).record?.lastCheck?.result, 'inconclusive');
    assert.match(view(h).record?.lastCheck?.detail ?? '', /19 function requests < minRequests 20/);
    assert.equal(view(h).record?.failedChecks, 0, 'too little traffic is not a failure');
  }
  // Windows do not carry over: 3 × 19 earlier requests do not add up to a verdict, 20 fresh ones do.
  feedFunction('recommend', 20);
  await advance(t, h, INTERVAL_MS);
  assert.equal(view(h).weight, 5);
});

test('rolls back to 0 and fails once failed checks reach the threshold mid-rollout', async (t) => {
  const { harness: h, stateFile } = await setup(t);
  await h.controller.act('recommend', 'start');
  await healthyInterval(t, h);
  await healthyInterval(t, h);
  assert.equal(view(h).weight, 25);

  // 10 of 50 failing: 80 % success < 99 %.
  feedFunction('recommend', 50, { failures: 10 });
  await advance(t, h, INTERVAL_MS);
  assert.deepEqual(
    [view(h).status, view(h).weight],
    ['progressing', 25],
    'one failed check is below threshold 2',
  );
  assert.equal(view(h).record?.failedChecks, 1);
  assert.match(view(h).record?.lastCheck?.detail ?? '', /success 80% < 99%/);

  feedFunction('recommend', 50, { failures: 10 });
  await advance(t, h, INTERVAL_MS);
  assert.deepEqual([view(h).status, view(h).weight, view(h).source], ['failed', 0, 'rollout']);
  assert.equal(view(h).record?.failedChecks, 2);
  const onDisk = stateSchema.parse(JSON.parse(await readFile(stateFile, 'utf8')));
  assert.equal(onDisk.rollouts.recommend?.status, 'failed');
  assert.equal(onDisk.weights.recommend?.weightPercent, 0);

  const lastCheckAt = view(h).record?.lastCheck?.at;
  await healthyInterval(t, h);
  assert.equal(view(h).weight, 0, 'a failed rollout stays at 0');
  assert.equal(view(h).record?.lastCheck?.at, lastCheckAt, 'and is no longer checked');
});

test('counts a p99 above maxP99Ms as a failed check', async (t) => {
  const { harness: h } = await setup(t);
  await h.controller.act('recommend', 'start');
  for (let i = 0; i < 2; i++) {
    feedFunction('recommend', 50, { durationMs: 900 });
    await advance(t, h, INTERVAL_MS);
  }
  assert.deepEqual([view(h).status, view(h).weight], ['failed', 0]);
  assert.match(view(h).record?.lastCheck?.detail ?? '', /p99 .* ms > 500 ms/);
});

test('refuses actions that do not fit the rollout state with 409 and changes nothing', async (t) => {
  const { harness: h } = await setup(t);
  for (const action of ['pause', 'resume', 'abort'] as const) await assertConflict(h, action);
  assert.equal(view(h).status, 'idle');

  await h.controller.act('recommend', 'start');
  await assertConflict(h, 'start');
  await assertConflict(h, 'resume');
  await assert.rejects(h.store.setWeight('recommend', 50), { code: 'FNSHIFT_CONFLICT', status: 409 });
  assert.deepEqual([view(h).status, view(h).weight], ['progressing', 1]);

  await assert.rejects(h.controller.act('plain', 'start'), { code: 'FNSHIFT_CONFLICT', status: 409 });
  await assert.rejects(h.controller.act('nope', 'start'), { code: 'FNSHIFT_NOT_FOUND', status: 404 });
});

test('refuses to clear the weight of a route whose rollout is running (DELETE took the weight from the rollout)', async (t) => {
  const { harness: h } = await setup(t);
  await h.controller.act('recommend', 'start');
  await healthyInterval(t, h);
  await assert.rejects(h.store.clearWeight('recommend'), { code: 'FNSHIFT_CONFLICT', status: 409 });
  assert.deepEqual([view(h).weight, view(h).source], [5, 'rollout']);
  await h.controller.act('recommend', 'pause');
  await assert.rejects(h.store.clearWeight('recommend'), { code: 'FNSHIFT_CONFLICT', status: 409 });
  await h.controller.act('recommend', 'abort');
  await h.store.clearWeight('recommend');
  assert.deepEqual([view(h).weight, view(h).source], [0, 'config'], 'allowed once no rollout owns it');
});

test('pause stops the checks, resume restarts the interval from the resume', async (t) => {
  const { harness: h } = await setup(t);
  await h.controller.act('recommend', 'start');
  await advance(t, h, INTERVAL_MS / 2);
  await h.controller.act('recommend', 'pause');
  assert.deepEqual([view(h).status, view(h).weight], ['paused', 1]);
  await assertConflict(h, 'pause');
  await assertConflict(h, 'start');
  await assert.rejects(h.store.setWeight('recommend', 50), { code: 'FNSHIFT_CONFLICT' });

  for (let i = 0; i < 3; i++) await healthyInterval(t, h);
  assert.deepEqual([view(h).status, view(h).weight], ['paused', 1], 'no step while paused');

  await h.controller.act('recommend', 'resume');
  await assertConflict(h, 'resume');
  feedFunction('recommend', 50);
  await advance(t, h, INTERVAL_MS - 1);
  assert.equal(view(h).weight, 1, 'a full interval is measured after the resume');
  await advance(t, h, 1);
  assert.deepEqual([view(h).status, view(h).weight], ['progressing', 5]);
});

test('abort sends the route to 0 and stops; start begins again from the first step', async (t) => {
  const { harness: h } = await setup(t);
  await h.controller.act('recommend', 'start');
  await healthyInterval(t, h);
  await healthyInterval(t, h);
  assert.equal(view(h).weight, 25);

  await h.controller.act('recommend', 'abort');
  assert.deepEqual([view(h).status, view(h).weight, view(h).source], ['aborted', 0, 'rollout']);
  for (const action of ['abort', 'pause', 'resume'] as const) await assertConflict(h, action);
  await healthyInterval(t, h);
  assert.equal(view(h).weight, 0, 'no step after an abort');

  // An operator may set the weight again once no rollout owns it.
  await h.store.setWeight('recommend', 3);
  assert.deepEqual([view(h).weight, view(h).source], [3, 'admin']);

  await h.controller.act('recommend', 'start');
  assert.deepEqual([view(h).status, view(h).weight], ['progressing', 1]);
  assert.equal(view(h).record?.stepIndex, 0);
  assert.equal(view(h).record?.failedChecks, 0);
});

test('promote jumps a running rollout to the last step, succeeds, and leaves no check scheduled', async (t) => {
  const { harness: h } = await setup(t);
  await h.controller.act('recommend', 'start');
  await h.controller.act('recommend', 'promote');
  assert.deepEqual([view(h).status, view(h).weight, view(h).source], ['succeeded', 100, 'rollout']);
  await assertConflict(h, 'pause');
  await assertConflict(h, 'abort');
  await healthyInterval(t, h);
  assert.equal(view(h).record?.lastCheck, undefined, 'no check is left scheduled after a promote');
});

test('promote on an idle rollout goes straight to the last step', async (t) => {
  const { harness: h } = await setup(t);
  await h.controller.act('recommend', 'promote');
  assert.deepEqual([view(h).status, view(h).weight], ['succeeded', 100]);
});

test('a new controller on the persisted state resumes the rollout where the old one stopped', async (t) => {
  const { harness: before, stateFile } = await setup(t);
  await before.controller.act('recommend', 'start');
  await healthyInterval(t, before);
  await healthyInterval(t, before);
  assert.equal(view(before).weight, 25);
  // Die 40 % into the interval of the 25 % step.
  await advance(t, before, 0.4 * INTERVAL_MS);
  before.stop();

  const loaded = await loadState(stateFile);
  assert.equal(loaded.warning, undefined);
  const after = startHarness(t, config, { state: loaded.state, stateFile });
  assert.deepEqual(
    [view(after).status, view(after).weight, view(after).source],
    ['progressing', 25, 'rollout'],
  );
  await after.controller.sync();

  feedFunction('recommend', 50);
  await advance(t, after, 0.6 * INTERVAL_MS - 1);
  assert.equal(view(after).weight, 25, 'the elapsed part of the interval is not measured twice');
  await advance(t, after, 1);
  assert.equal(view(after).weight, 50);
  await healthyInterval(t, after);
  await healthyInterval(t, after);
  assert.deepEqual([view(after).status, view(after).weight], ['succeeded', 100]);
});

test('a restart does not restart a failed rollout, and keeps it at 0', async (t) => {
  const { harness: before, stateFile } = await setup(t);
  await before.controller.act('recommend', 'start');
  for (let i = 0; i < 2; i++) {
    feedFunction('recommend', 50, { failures: 50 });
    await advance(t, before, INTERVAL_MS);
  }
  assert.equal(view(before).status, 'failed');
  before.stop();

  const after = startHarness(t, config, { state: (await loadState(stateFile)).state, stateFile });
  await after.controller.sync();
  await healthyInterval(t, after);
  assert.deepEqual([view(after).status, view(after).weight], ['failed', 0]);
});
