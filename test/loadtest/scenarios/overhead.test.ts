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
    cpuWaitPercent: Record<'direct' | 'fnshift', Array<Record<string, number | null>>>;
    fnshiftOwnUs: { p50: number | null; p99: number | null };
    perRound: Array<{ directP99Us: number; fnshiftP99Us: number; addedP99Us: number }>;
    medianAddedP99Us: number;
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
  // Per round: the two p99s and their difference, from the round's own phases; one round here, so the
  // median is that round's.
  assert.equal(findings.perRound.length, 1);
  const [only] = findings.perRound;
  assert.equal(only!.directP99Us, direct.latency.service.p99Us);
  assert.equal(only!.fnshiftP99Us, through.latency.service.p99Us);
  assert.equal(only!.addedP99Us, only!.fnshiftP99Us - only!.directP99Us);
  assert.equal(findings.medianAddedP99Us, only!.addedP99Us);
  assert.equal(result.headline.addedP99MedianRound?.value, findings.medianAddedP99Us);
  assert.equal(direct.errors.total + through.errors.total + through.status5xx, 0);
  // One entry per round, a share of the round for each of the three processes (Linux: all readable).
  for (const rounds of [findings.cpuWaitPercent.direct, findings.cpuWaitPercent.fnshift]) {
    assert.equal(rounds.length, 1);
    assert.deepEqual(Object.keys(rounds[0]!).sort(), ['fnshift', 'generator', 'legacy']);
    for (const value of Object.values(rounds[0]!)) {
      if (process.platform === 'linux')
        assert.ok(value !== null && value >= 0 && value <= 100, String(value));
    }
  }
  assert.ok(result.notes.some((note) => note.includes('waited for a CPU')) || process.platform !== 'linux');
  // fnshift's own time comes from its fnshift_overhead_seconds buckets: bounds in µs, p50 within p99.
  // It is a part of each request's whole time, and a bucket bound overshoots by at most its 2.5× step.
  const own = findings.fnshiftOwnUs;
  assert.ok(own.p50 !== null && own.p99 !== null, JSON.stringify(own));
  assert.ok(own.p50 >= 10 && own.p50 <= own.p99, JSON.stringify(own));
  assert.ok(own.p99 <= through.latency.service.p99Us * 2.5, JSON.stringify(own));
  assert.equal(result.headline.ownP99?.value, own.p99);
});
