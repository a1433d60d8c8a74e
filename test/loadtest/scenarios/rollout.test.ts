// The rollout scenario in short mode: the automated rollout steps through its weights under load.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runShort } from '../short-run.ts';

test('walks the recommend route up its rollout steps while traffic flows', { timeout: 30_000 }, async (t) => {
  const { result } = await runShort(t, 'rollout');
  const findings = result.findings as { weights: { atS: number; weight: number }[]; status: string };
  const seen = findings.weights.map((w) => w.weight);
  assert.deepEqual(seen.slice(0, 2), [0, 10], 'starts from 0 and goes to the first step');
  assert.ok(seen.includes(25), `went past the first step: ${seen.join(' → ')}`);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, 'the weight only goes up');
  const split = result.timeline.filter((b) => b.function > 0);
  assert.ok(split.length > 0, 'the function answered some of the traffic');
  assert.equal(result.headline.errors?.value, 0);
});
