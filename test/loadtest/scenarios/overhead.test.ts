// The overhead scenario in short mode: direct, through fnshift at weight 0 and through nginx (the reference
// hop, when installed), at one fixed rate.
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { isReferenceAvailable } from '../../../loadtest/reference-proxy.ts';
import { phase, runShort } from '../short-run.ts';

interface OverheadFindings {
  rateRps: number;
  saturationRps: number;
  addedUs: { p50: number; p99: number };
  cpuWaitPercent: Record<string, Array<Record<string, number | null>>>;
  fnshiftOwnUs: { p50: number | null; p99: number | null };
  perRound: Array<{
    directP99Us: number;
    fnshiftP99Us: number;
    addedP99Us: number;
    nginxP99Us?: number;
    nginxAddedP99Us?: number;
  }>;
  medianAddedP99Us: number;
  leadIn: { seconds: number; p99Us: Record<string, number> };
  machineStalls: Record<
    'beforeRounds' | 'afterRounds',
    { threads?: unknown[]; durationMs?: number; error?: string }
  >;
  reference: {
    detail: string;
    addedUs: { p50: number; p99: number };
    medianAddedP99Us: number;
    fnshiftBeyondUs: { p50: number; p99: number };
  } | null;
}

// One short run (about 10 s) answers both questions.
test('overhead scenario, short', { timeout: 40_000 }, async (t) => {
  const { result } = await runShort(t, 'overhead');
  const findings = result.findings as unknown as OverheadFindings;
  await t.test('measures direct and fnshift rounds at the same rate and reports the added µs', () => {
    assert.ok(findings.saturationRps > 0);
    assert.ok(findings.rateRps >= 50);
    const direct = phase(result, 'direct r1');
    const through = phase(result, 'fnshift r1');
    assert.deepEqual(Object.keys(direct.outcomes), ['direct']);
    assert.deepEqual(
      Object.keys(through.outcomes),
      ['legacy'],
      'weight 0: fnshift sends everything to legacy',
    );
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
    // One entry per round and arm, a share of the round for each process that arm's requests pass through
    // (Linux: all readable).
    const expectedPids: Record<string, string[]> = {
      direct: ['generator', 'legacy'],
      fnshift: ['fnshift', 'generator', 'legacy'],
      ...(isReferenceAvailable() ? { nginx: ['generator', 'legacy', 'nginx'] } : {}),
    };
    assert.deepEqual(Object.keys(findings.cpuWaitPercent).sort(), Object.keys(expectedPids).sort());
    for (const [arm, rounds] of Object.entries(findings.cpuWaitPercent)) {
      assert.equal(rounds.length, 1);
      assert.deepEqual(Object.keys(rounds[0]!).sort(), expectedPids[arm]);
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

  await t.test("keeps each round's first part, while its connections open, out of the round", () => {
    const arms = Object.keys(findings.cpuWaitPercent);
    assert.deepEqual(Object.keys(findings.leadIn.p99Us), arms);
    assert.equal(findings.leadIn.seconds, 0.25);
    for (const arm of arms) {
      const leadIn = phase(result, `${arm} r1 lead-in`);
      const measured = phase(result, `${arm} r1`);
      assert.equal(leadIn.countsForSlo, false);
      assert.equal(measured.countsForSlo, true);
      // The lead-in comes first and hands over to the round within the same load run.
      assert.ok(leadIn.startS < measured.startS && leadIn.endS <= measured.startS + 0.01, arm);
      assert.ok(leadIn.requests > 0, `${arm}: the lead-in answered requests`);
      assert.equal(findings.leadIn.p99Us[arm], leadIn.latency.service.p99Us);
    }
    assert.ok(
      result.notes.some((note) => note.includes('not counted in it')),
      result.notes.join('\n'),
    );
  });

  await t.test('probes the machine for stalls before and after the rounds, with no load', () => {
    for (const [when, probe] of Object.entries(findings.machineStalls)) {
      assert.equal(probe.error, undefined, `${when}: ${probe.error}`);
      assert.equal(probe.durationMs, 200);
      assert.equal(probe.threads?.length, availableParallelism());
    }
    for (const when of ['Before the rounds', 'After the rounds']) {
      assert.ok(
        result.notes.some((note) => note.startsWith(`${when}, a busy loop on`)),
        result.notes.join('\n'),
      );
    }
  });

  await t.test('measures nginx as the reference hop in the same rounds, or says why not', (t) => {
    if (!isReferenceAvailable()) {
      assert.equal(findings.reference, null);
      assert.equal(result.headline.nginxAddedP99, undefined);
      assert.ok(
        result.notes.some((note) => note.includes('nginx is not installed')),
        result.notes.join('\n'),
      );
      t.diagnostic('nginx is not installed here: only the absence is checked');
      return;
    }
    const direct = phase(result, 'direct r1');
    const fnshift = phase(result, 'fnshift r1');
    const nginx = phase(result, 'nginx r1');
    // The reference round runs at the same fixed rate, answered by the app through nginx (no fnshift header).
    assert.deepEqual(Object.keys(nginx.outcomes), ['direct']);
    assert.equal(nginx.errors.total + nginx.status5xx, 0);
    assert.ok(
      Math.abs(nginx.requests - direct.requests) <= direct.requests * 0.2,
      `${nginx.requests} vs ${direct.requests}`,
    );
    const reference = findings.reference;
    assert.ok(reference, 'reference findings');
    assert.match(reference.detail, /^nginx\/[\d.]+, one process/);
    // Differences from the merged phases, so the numbers trace back to the phases they came from.
    assert.equal(reference.addedUs.p50, nginx.latency.service.p50Us - direct.latency.service.p50Us);
    assert.equal(reference.addedUs.p99, nginx.latency.service.p99Us - direct.latency.service.p99Us);
    assert.equal(reference.fnshiftBeyondUs.p99, fnshift.latency.service.p99Us - nginx.latency.service.p99Us);
    const [only] = findings.perRound;
    assert.equal(only!.nginxP99Us, nginx.latency.service.p99Us);
    assert.equal(only!.nginxAddedP99Us, nginx.latency.service.p99Us - direct.latency.service.p99Us);
    assert.equal(reference.medianAddedP99Us, only!.nginxAddedP99Us);
    assert.equal(result.headline.nginxAddedP99?.value, reference.addedUs.p99);
    assert.equal(result.headline.beyondNginxP99?.value, reference.fnshiftBeyondUs.p99);
    assert.equal(result.headline.nginxAddedP99MedianRound?.value, reference.medianAddedP99Us);
    assert.ok(
      result.notes.some((note) => note.startsWith('The reference hop, nginx/')),
      result.notes.join('\n'),
    );
  });
});
