// The reload-storm scenario in short mode: the config renamed over ten times a second under load.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { phase, runShort } from '../short-run.ts';

test('answers every request while the config is rewritten ten times a second', {
  timeout: 30_000,
}, async (t) => {
  const { result } = await runShort(t, 'reload-storm');
  const findings = result.findings as { writes: number; distinctReloadsSampled: number };
  assert.ok(findings.writes >= 5, `the storm wrote the config ${findings.writes} times`);
  assert.ok(findings.distinctReloadsSampled >= 2, 'fnshift applied reloads during the storm');
  assert.equal(result.headline.status5xx?.value, 0, 'no 5xx');
  assert.equal(result.headline.errors?.value, 0, 'no connection errors');
  assert.equal(result.headline.stickyViolations?.value, 0, 'no user changed sides');
  assert.ok(phase(result, 'storm').requests > 100);
});
