// The shift-sweep scenario in short mode: weights 0, 10, 50, 100 through the admin API under load.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SplitCheck } from '../../../loadtest/scenarios/shift-sweep.ts';
import { phase, runShort } from '../short-run.ts';

test('splits users at weight 50 within a binomial bound and keeps every user on one side', {
  timeout: 30_000,
}, async (t) => {
  const { result } = await runShort(t, 'shift-sweep');
  const steps = (result.findings as { steps: SplitCheck[] }).steps;
  assert.deepEqual(
    steps.map((s) => s.weightPercent),
    [0, 10, 50, 100],
  );
  const at50 = phase(result, 'weight 50');
  const n = at50.users.function + at50.users.legacy;
  assert.ok(n >= 30, `enough users at weight 50 to judge the split (${n})`);
  const share = at50.users.functionShare!;
  // Buckets are per user: the share of users is binomial; 4σ keeps a false alarm below 1 in 15,000.
  assert.ok(Math.abs(share - 0.5) <= 4 * Math.sqrt(0.25 / n), `user share ${share} over ${n} users`);
  for (const step of steps)
    assert.equal(step.stickyViolations, 0, `weight ${step.weightPercent}: no user on both sides`);
  assert.equal(
    phase(result, 'weight 0').outcomes.function,
    undefined,
    'weight 0 sends nothing to the function',
  );
  assert.equal(phase(result, 'weight 100').outcomes.legacy, undefined, 'weight 100 sends nothing to legacy');
  assert.equal(at50.servedByMismatches, 0, 'x-fnshift-target agrees with the fixture that answered');
  const weights = result.admin.samples.map((s) => s.weights.recommend);
  assert.ok(weights.includes(50) && weights.at(-1) === 100, 'GET /routes saw the weights change');
});
