// The overhead scenario in short mode: direct and through fnshift at weight 0, at one fixed rate.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { phase, runShort } from '../short-run.ts';

test('measures direct and fnshift rounds at the same rate and reports the added µs', {
  timeout: 30_000,
}, async (t) => {
  const { result } = await runShort(t, 'overhead');
  const findings = result.findings as {
    rateRps: number;
    saturationRps: number;
    addedUs: { p50: number; p99: number };
  };
  assert.ok(findings.saturationRps > 0);
  assert.ok(findings.rateRps >= 50);
  const direct = phase(result, 'direct r1');
  const through = phase(result, 'fnshift r1');
  assert.deepEqual(Object.keys(direct.outcomes), ['direct']);
  assert.deepEqual(Object.keys(through.outcomes), ['legacy'], 'weight 0: fnshift sends everything to legacy');
  assert.equal(phase(result, 'saturation probe').countsForSlo, false);
  assert.equal(typeof findings.addedUs.p50, 'number');
  assert.equal(result.headline.addedP50?.value, findings.addedUs.p50);
  assert.equal(direct.errors.total + through.errors.total + through.status5xx, 0);
});
