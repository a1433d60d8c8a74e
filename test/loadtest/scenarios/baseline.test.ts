// The baseline scenario in short mode: straight to the legacy app, with a burst in the middle.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { phase, runShort } from '../short-run.ts';

test('sends traffic straight to the legacy app and reaches a peak above the base rate', {
  timeout: 30_000,
}, async (t) => {
  const { result } = await runShort(t, 'baseline');
  const base = phase(result, 'base');
  const peak = phase(result, 'peak');
  assert.deepEqual(Object.keys(base.outcomes), ['direct'], 'no fnshift in the path: no x-fnshift-target');
  assert.ok(
    peak.requestsPerSec > base.requestsPerSec * 1.5,
    `peak ${peak.requestsPerSec} vs base ${base.requestsPerSec} req/s`,
  );
  assert.equal(base.errors.total + peak.errors.total, 0);
  assert.equal(result.headline.errors?.value, 0);
});
