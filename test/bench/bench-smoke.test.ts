// Runs the real bench briefly (direct and http-proxy only) and checks the JSON it writes, with the default
// load generator (wrk where it is installed, autocannon elsewhere) and with autocannon asked for by name.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { BenchReport } from '../../bench/report.ts';
import { reportProblem } from '../../bench/tally.ts';
import { isWrkInstalled } from '../../bench/wrk.ts';

const runScript = fileURLToPath(new URL('../../bench/run.ts', import.meta.url));

async function runBench(
  t: TestContext,
  extra: readonly string[],
): Promise<{ stdout: string; report: BenchReport }> {
  const dir = mkdtempSync(join(tmpdir(), 'fnshift-bench-smoke-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const outPath = join(dir, 'results.json');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      runScript,
      '--duration-s',
      '1',
      '--rounds',
      '1',
      '--only',
      'direct,http-proxy',
      '--out',
      outPath,
      ...extra,
    ],
    { timeout: 25_000, killSignal: 'SIGINT' },
  );
  return { stdout, report: JSON.parse(readFileSync(outPath, 'utf8')) as BenchReport };
}

function assertWellFormed(stdout: string, report: BenchReport): void {
  assert.match(stdout, /^contender\s+req\/s/m);
  assert.match(stdout, /cpu µs\/req/);
  assert.match(stdout, /^direct\s.*\s-\s/m, 'direct has no proxy process to measure');
  assert.match(stdout, /goals:/);
  assert.match(stdout, /^machine: /m);
  assert.match(stdout, /^Before the rounds, a busy loop on .* lost .* to stalls ≥ 50 µs /m);
  assert.match(stdout, /^After the rounds, a busy loop on /m);
  for (const probe of [report.machineStalls.beforeRounds, report.machineStalls.afterRounds]) {
    assert.ok('threads' in probe, `the stall probe measured: ${JSON.stringify(probe)}`);
    assert.equal(probe.durationMs, 1000);
    assert.equal(probe.threads.length, availableParallelism());
    assert.ok(probe.worst.lostPercent >= 0 && probe.worst.lostPercent <= 100);
  }
  assert.equal(report.schemaVersion, 1);
  assert.equal(reportProblem(report), undefined, '`npm run bench:tally` reads what the bench writes');
  assert.equal(report.machine.node, process.version);
  assert.equal(report.settings.rounds, 1);
  assert.ok(report.settings.originBodyBytes > 2500, 'the origin answers a ~3 KB body');
  assert.deepEqual(
    report.contenders.map((c) => [c.name, c.status]),
    [
      ['direct', 'measured'],
      ['http-proxy', 'measured'],
    ],
  );
  for (const contender of report.contenders) {
    assert.equal(contender.rounds.length, 1);
    assert.ok(contender.summary, `${contender.name} has a summary`);
    assert.ok(contender.summary.medianRequestsPerSec > 0);
    assert.ok(contender.summary.latencyUs.p50Us > 0);
    assert.ok(contender.summary.latencyUs.p99_9Us >= contender.summary.latencyUs.p50Us);
    assert.equal(typeof contender.histogramUs, 'string');
  }
  const [direct, httpProxy] = report.contenders;
  const directRound = direct?.rounds[0];
  assert.ok(directRound && 'cpu' in directRound);
  assert.equal(directRound.cpu, null);
  if (existsSync('/proc/self/stat')) {
    const proxyRound = httpProxy?.rounds[0];
    assert.ok(proxyRound && 'cpu' in proxyRound && proxyRound.cpu, 'http-proxy has a CPU figure on Linux');
    assert.ok(proxyRound.cpu.usPerRequest > 0 && proxyRound.cpu.processes === 1);
    assert.equal(httpProxy?.summary?.medianCpuUsPerRequest, proxyRound.cpu.usPerRequest);
  }
  assert.deepEqual(report.cpuRatios, report.ratios);
  // fnshift was not run, so there is nothing to divide by.
  assert.deepEqual(report.ratios, [
    { over: 'direct', ratio: null },
    { over: 'http-proxy', ratio: null },
  ]);
  assert.deepEqual(
    report.goals.map((g) => [g.over, g.status]),
    [
      ['http-proxy', 'not measured'],
      ['reply-from', 'not measured'],
      ['nginx', 'not measured'],
    ],
  );
  assert.deepEqual(
    report.cpuGoals.map((g) => [g.over, g.status]),
    report.goals.map((g) => [g.over, g.status]),
  );
}

test('runs direct and http-proxy for one short round and writes a well-formed JSON report', {
  timeout: 30_000,
}, async (t) => {
  const { stdout, report } = await runBench(t, []);
  assertWellFormed(stdout, report);
  assert.match(report.settings.loadgen, isWrkInstalled() ? /^wrk / : /^autocannon/);
});

test('measures with autocannon when asked to, as it does where wrk is not installed', {
  timeout: 30_000,
}, async (t) => {
  const { stdout, report } = await runBench(t, ['--loadgen', 'autocannon']);
  assertWellFormed(stdout, report);
  assert.match(report.settings.loadgen, /^autocannon/);
});
