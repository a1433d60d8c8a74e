// The outage scenario in short mode: the function killed, hanging and recovered under GET traffic.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { phase, runShort } from '../short-run.ts';

test('serves every GET through a kill and a hang by falling back, and the function comes back', {
  timeout: 40_000,
}, async (t) => {
  const { result } = await runShort(t, 'outage');
  for (const name of ['steady', 'kill', 'hang', 'recover']) {
    const p = phase(result, name);
    assert.equal(p.errors.total + p.status5xx, 0, `${name}: no client-visible error`);
  }
  const kill = phase(result, 'kill');
  assert.equal(kill.outcomes.function, undefined, 'a killed function answers nothing');
  assert.ok((kill.outcomes.fallback?.count ?? 0) > 0, 'its share falls back to legacy');
  assert.ok(phase(result, 'hang').outcomes.fallback, 'a hanging function falls back too');
  assert.ok((phase(result, 'recover').outcomes.function?.count ?? 0) > 0, 'the function answers again');
  const findings = result.findings as { phases: Record<string, { fallbackShare: number }> };
  assert.ok(findings.phases.kill!.fallbackShare > 0.2);
  for (const key of ['errors', 'breakerOpenMs', 'fallbackP99', 'steadyP99', 'functionShareAfter']) {
    assert.ok(key in result.headline, `headline has ${key}`);
  }
});
