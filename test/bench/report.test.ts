// The bench's pure parts: summaries, fnshift's ratios (by req/s and by CPU per request), goal verdicts and the text table.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LatencyPercentilesUs } from '../../bench/latency.ts';
import type { RoundMeasurement } from '../../bench/load.ts';
import {
  type ContenderResult,
  computeCpuRatios,
  computeRatios,
  evaluateCpuGoals,
  evaluateGoals,
  formatGoals,
  formatMachineStalls,
  formatRatios,
  formatTable,
  median,
  type RoundRecord,
  summarizeRounds,
} from '../../bench/report.ts';
import { probeStallsForReport } from '../../loadtest/stalls.ts';

const latencyUs: LatencyPercentilesUs = {
  count: 1000,
  meanUs: 1200,
  p50Us: 1100,
  p90Us: 1900,
  p99Us: 2500,
  p99_9Us: 4100,
  maxUs: 9000,
};

function round(
  round: number,
  requestsPerSec: number,
  trouble: { errors?: number; non2xx?: number; cpuUsPerRequest?: number } = {},
): RoundRecord {
  const measurement: Omit<RoundMeasurement, 'histogramUs'> = {
    requestsPerSec,
    totalRequests: requestsPerSec * 5,
    durationS: 5,
    non2xx: trouble.non2xx ?? 0,
    errors: trouble.errors ?? 0,
    timeouts: 0,
    statusCodes: { 200: requestsPerSec * 5 },
    latencyMs: { p50: 1, p99: 3, p99_9: 5 },
    latencyUs,
  };
  const usPerRequest = trouble.cpuUsPerRequest;
  const cpu =
    usPerRequest === undefined
      ? null
      : { cpuMs: (usPerRequest * measurement.totalRequests) / 1000, processes: 1, usPerRequest };
  return { round, measurement, cpu };
}

function measured(name: string, rounds: RoundRecord[]): ContenderResult {
  return { name, status: 'measured', rounds, summary: summarizeRounds(rounds, latencyUs) };
}

test('median takes the middle round, or the mean of the two middle ones', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test('summarizeRounds keeps the median requests/s, the spread and flags errors and non-2xx', () => {
  const summary = summarizeRounds(
    [round(1, 900), round(2, 1000, { errors: 2 }), round(3, 1100, { non2xx: 5 })],
    latencyUs,
  );
  assert.ok(summary);
  assert.equal(summary.medianRequestsPerSec, 1000);
  assert.equal(Math.round(summary.spreadPercent), 20);
  assert.equal(summary.errors, 2);
  assert.equal(summary.non2xx, 5);
  assert.equal(summary.flags.length, 2);
});

test('summarizeRounds flags failed rounds and gives nothing when no round was measured', () => {
  const summary = summarizeRounds(
    [round(1, 1000), { round: 2, error: 'FNSHIFT_BENCH_ROUND_TIMEOUT: late' }],
    latencyUs,
  );
  assert.equal(summary?.failedRounds, 1);
  assert.deepEqual(summary?.flags, ['1 failed rounds']);
  assert.equal(summarizeRounds([{ round: 1, error: 'gone' }], latencyUs), undefined);
});

test('computeRatios divides fnshift by every other contender and gives null for one not measured', () => {
  const results = [
    measured('fnshift', [round(1, 3000)]),
    measured('http-proxy', [round(1, 1000)]),
    { name: 'nginx', status: 'skipped', reason: 'not installed', rounds: [] } satisfies ContenderResult,
  ];
  assert.deepEqual(computeRatios(results), [
    { over: 'http-proxy', ratio: 3 },
    { over: 'nginx', ratio: null },
  ]);
});

test('evaluateGoals marks met, missed and not measured against the fixed goals', () => {
  const results = [
    measured('fnshift', [round(1, 3000)]),
    measured('http-proxy', [round(1, 1000)]),
    measured('reply-from', [round(1, 2500)]),
  ];
  const verdicts = Object.fromEntries(evaluateGoals(results).map((g) => [g.over, g.status]));
  assert.deepEqual(verdicts, { 'http-proxy': 'met', 'reply-from': 'missed', nginx: 'not measured' });
});

test('evaluateGoals never counts a goal as met when fnshift answered with errors', () => {
  const results = [
    measured('fnshift', [round(1, 9000, { non2xx: 100 })]),
    measured('http-proxy', [round(1, 1000)]),
  ];
  assert.equal(evaluateGoals(results).find((g) => g.over === 'http-proxy')?.status, 'invalid');
});

test('formatTable lines up its columns and shows flagged and skipped contenders', () => {
  const table = formatTable([
    measured('direct', [round(1, 21_500)]),
    measured('fnshift', [round(1, 9000, { errors: 3 })]),
    { name: 'haproxy', status: 'skipped', rounds: [] },
  ]);
  const lines = table.split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[0]!, /^contender\s+req\/s\s+spread/);
  assert.match(lines[1]!, /^direct\s+21,500\s+0%/);
  assert.match(lines[2]!, /FLAGGED$/);
  assert.match(lines[3]!, /^haproxy\s+skipped$/);
  // Right-aligned numbers end in the same column as their header.
  const end = lines[0]!.indexOf('req/s') + 'req/s'.length;
  assert.equal(lines[1]!.slice(0, end).trimEnd().endsWith('21,500'), true);
  assert.equal(lines[2]!.slice(0, end).trimEnd().endsWith('9,000'), true);
});

test('formatGoals prints each goal with the ratio and its verdict', () => {
  const text = formatGoals([measured('fnshift', [round(1, 3000)]), measured('http-proxy', [round(1, 1000)])]);
  assert.match(text, /fnshift ≥ 2\.5× http-proxy\s+3\.00×\s+met/);
  assert.match(text, /fnshift ≥ 0\.5× nginx\s+n\/a\s+not measured/);
});

test('summarizeRounds takes the median CPU µs per request over the rounds that have one', () => {
  const summary = summarizeRounds(
    [
      round(1, 900, { cpuUsPerRequest: 50 }),
      round(2, 1400, { cpuUsPerRequest: 40 }),
      round(3, 1000),
      round(4, 1100, { cpuUsPerRequest: 44 }),
    ],
    latencyUs,
  );
  assert.equal(summary?.medianCpuUsPerRequest, 44);
  assert.deepEqual(summary?.roundCpuUsPerRequest, [50, 40, null, 44]);
  assert.equal(Math.round(summary?.cpuSpreadPercent ?? 0), 23);
  const direct = summarizeRounds([round(1, 20_000)], latencyUs);
  assert.equal(direct?.medianCpuUsPerRequest, null);
  assert.equal(direct?.cpuSpreadPercent, null);
});

test('computeCpuRatios divides the other CPU per request by fnshift so that above 1 means fnshift is cheaper', () => {
  const results = [
    measured('direct', [round(1, 20_000)]),
    measured('fnshift', [round(1, 3000, { cpuUsPerRequest: 40 }), round(2, 5000, { cpuUsPerRequest: 60 })]),
    measured('http-proxy', [round(1, 1000, { cpuUsPerRequest: 150 })]),
    measured('nginx', [round(1, 8000, { cpuUsPerRequest: 20 })]),
    { name: 'haproxy', status: 'skipped', reason: 'not installed', rounds: [] } satisfies ContenderResult,
  ];
  assert.deepEqual(computeCpuRatios(results), [
    { over: 'direct', ratio: null },
    { over: 'http-proxy', ratio: 3 },
    { over: 'nginx', ratio: 0.4 },
    { over: 'haproxy', ratio: null },
  ]);
});

test('evaluateCpuGoals judges the same goals by CPU per request, apart from the req/s verdicts', () => {
  // Noise made fnshift's req/s look poor, while its CPU per request shows it cheaper than both.
  const results = [
    measured('fnshift', [round(1, 1500, { cpuUsPerRequest: 40 })]),
    measured('http-proxy', [round(1, 1000, { cpuUsPerRequest: 120 })]),
    measured('reply-from', [round(1, 1200, { cpuUsPerRequest: 50 })]),
  ];
  const byRate = Object.fromEntries(evaluateGoals(results).map((g) => [g.over, g.status]));
  const byCpu = Object.fromEntries(evaluateCpuGoals(results).map((g) => [g.over, [g.ratio, g.status]]));
  assert.deepEqual(byRate, { 'http-proxy': 'missed', 'reply-from': 'missed', nginx: 'not measured' });
  assert.deepEqual(byCpu, {
    'http-proxy': [3, 'met'],
    'reply-from': [1.25, 'missed'],
    nginx: [null, 'not measured'],
  });
});

test('evaluateCpuGoals never counts a goal as met when either side answered with errors', () => {
  const results = [
    measured('fnshift', [round(1, 3000, { cpuUsPerRequest: 10, non2xx: 5 })]),
    measured('http-proxy', [round(1, 1000, { cpuUsPerRequest: 100 })]),
  ];
  assert.equal(evaluateCpuGoals(results).find((g) => g.over === 'http-proxy')?.status, 'invalid');
});

test('formatTable shows the median CPU µs per request, and "-" for a contender without a proxy process', () => {
  const lines = formatTable([
    measured('direct', [round(1, 21_500)]),
    measured('fnshift', [
      round(1, 9000, { cpuUsPerRequest: 41.26 }),
      round(2, 9000, { cpuUsPerRequest: 45 }),
    ]),
  ]).split('\n');
  const end = lines[0]!.indexOf('cpu µs/req') + 'cpu µs/req'.length;
  assert.equal(lines[1]!.slice(0, end).trimEnd().endsWith(' -'), true);
  assert.equal(lines[2]!.slice(0, end).trimEnd().endsWith(' 43.1'), true);
  assert.match(lines[2]!, /\s9%\s/, 'the CPU spread of the two rounds');
});

test('formatRatios and formatGoals print the CPU ratios next to the req/s ones, labelled', () => {
  const results = [
    measured('direct', [round(1, 20_000)]),
    measured('fnshift', [round(1, 3000, { cpuUsPerRequest: 40 })]),
    measured('http-proxy', [round(1, 1000, { cpuUsPerRequest: 100 })]),
  ];
  const ratios = formatRatios(results);
  assert.match(ratios, /by req\/s \(fnshift ÷ other\)\s+by CPU per request \(other ÷ fnshift\)/);
  assert.match(ratios, /fnshift vs direct\s+0\.15×\s+-$/m);
  assert.match(ratios, /fnshift vs http-proxy\s+3\.00×\s+2\.50×$/m);
  const goals = formatGoals(results);
  assert.match(goals, /by req\/s\s+by CPU per request/);
  assert.match(goals, /fnshift ≥ 2\.5× http-proxy\s+3\.00×\s+met\s+2\.50×\s+met$/m);
  assert.match(goals, /fnshift ≥ 0\.5× nginx\s+n\/a\s+not measured\s+-\s+not measured$/m);
});

test('formatMachineStalls prints one line per probe, and the error of one that could not measure', () => {
  const core = { lostPercent: 8.43, stallsPerS: { atLeast1Ms: 14, atLeast4Ms: 2.4 }, longestMs: 11.42 };
  const text = formatMachineStalls({
    beforeRounds: { durationMs: 1000, thresholdMs: 0.05, cores: 1, threads: [core], worst: core },
    afterRounds: { error: 'FNSHIFT_LOADTEST_STALL_PROBE: thread 0 exited with code 1 before its result' },
  });
  const lines = text.split('\n');
  assert.equal(lines.length, 2);
  assert.match(
    lines[0]!,
    /^Before the rounds, a busy loop on the one core lost 8\.4% of 1 s to stalls ≥ 50 µs /,
  );
  assert.match(lines[0]!, /14 stalls\/s of ≥ 1 ms, 2\.4\/s of ≥ 4 ms, the longest 11\.4 ms\./);
  assert.equal(
    lines[1],
    'After the rounds, the stall probe could not measure: ' +
      'FNSHIFT_LOADTEST_STALL_PROBE: thread 0 exited with code 1 before its result',
  );
});

test('a stall probe that cannot run gives the report its error instead of failing the bench', async () => {
  const failed = await probeStallsForReport({ durationMs: 5 });
  assert.deepEqual(failed, {
    error: 'FNSHIFT_LOADTEST_STALL_PROBE: durationMs must be from 50 to 10000, got 5',
  });
  assert.match(
    formatMachineStalls({ beforeRounds: failed, afterRounds: failed }),
    /^After the rounds, the stall probe could not measure: FNSHIFT_LOADTEST_STALL_PROBE: durationMs/m,
  );
});
