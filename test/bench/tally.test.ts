// The tally of several bench runs: each run's goals, runs met, the goals over every round, and bad files.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import fc from 'fast-check';
import type { BenchError } from '../../bench/errors.ts';
import { createLatencyRecorder } from '../../bench/latency.ts';
import type { RoundMeasurement } from '../../bench/load.ts';
import {
  type BenchReport,
  type ContenderResult,
  createReport,
  type RoundRecord,
  summarizeRounds,
} from '../../bench/report.ts';
import {
  formatTally,
  readBenchReport,
  reportProblem,
  type TalliedFile,
  tallyRuns,
} from '../../bench/tally.ts';
import { runTally } from '../../bench/tally-cli.ts';
import type { StallProbeOutcome } from '../../loadtest/stalls.ts';

/** A real encoded histogram of `count` requests at `us` each, as the bench's generators write them. */
function rounds(perSec: readonly number[], options: { cpuUs?: number; errors?: number } = {}): RoundRecord[] {
  return perSec.map((requestsPerSec, i) => {
    const measurement: Omit<RoundMeasurement, 'histogramUs'> = {
      requestsPerSec,
      totalRequests: requestsPerSec * 5,
      durationS: 5,
      non2xx: 0,
      errors: options.errors ?? 0,
      timeouts: 0,
      statusCodes: { 200: requestsPerSec * 5 },
      latencyMs: { p50: 1, p99: 3, p99_9: 5 },
      latencyUs: { count: 5, meanUs: 900, p50Us: 900, p90Us: 900, p99Us: 900, p99_9Us: 900, maxUs: 900 },
    };
    const usPerRequest = options.cpuUs;
    const cpu =
      usPerRequest === undefined
        ? null
        : { cpuMs: (usPerRequest * measurement.totalRequests) / 1000, processes: 1, usPerRequest };
    return { round: i + 1, measurement, cpu };
  });
}

/** A measured contender with a real encoded histogram, as the bench's generators write one. */
function contender(name: string, records: RoundRecord[]): ContenderResult {
  const recorder = createLatencyRecorder();
  for (let i = 0; i < 10; i++) recorder.recordMs(0.9);
  const result: ContenderResult = {
    name,
    status: 'measured',
    rounds: records,
    summary: summarizeRounds(records, recorder.percentiles()),
    histogramUs: recorder.encode(),
  };
  recorder.destroy();
  return result;
}

/** The tally never reads the stall probes; a report of a probe that could not run is a valid one. */
const noProbe: StallProbeOutcome = { error: 'not run in this test' };

function report(
  startedAt: string,
  contenders: ContenderResult[],
  settings: Partial<BenchReport['settings']> = {},
): BenchReport {
  return createReport({
    startedAt,
    finishedAt: startedAt,
    machine: {
      cpuModel: 'test',
      cores: 2,
      memoryGiB: 1,
      os: 'test',
      loadAverage1m: 0,
      node: process.version,
      nginx: 'none',
      haproxy: 'none',
    },
    machineStalls: { beforeRounds: noProbe, afterRounds: noProbe },
    settings: {
      durationS: 5,
      warmupS: 3,
      rounds: 3,
      connections: 32,
      pipelining: 1,
      requestSample: '/api/recommend',
      users: 64,
      originBodyBytes: 3226,
      nativeWorkers: 2,
      loadgen: 'wrk test, 1 thread',
      ...settings,
    },
    contenders,
  });
}

/** fnshift at `fn` req/s against http-proxy, reply-from and nginx at the given req/s, three rounds each. */
function run(startedAt: string, fn: number, others: { hp: number; rf: number; ngx: number }): TalliedFile {
  return {
    file: `/results/${startedAt}.json`,
    report: report(startedAt, [
      contender('fnshift', rounds([fn, fn, fn], { cpuUs: 1e6 / fn })),
      contender('http-proxy', rounds([others.hp, others.hp, others.hp], { cpuUs: 1e6 / others.hp })),
      contender('reply-from', rounds([others.rf, others.rf, others.rf], { cpuUs: 1e6 / others.rf })),
      contender('nginx', rounds([others.ngx, others.ngx, others.ngx], { cpuUs: 1e6 / others.ngx })),
    ]),
  };
}

test('counts the runs that met each goal and judges each goal again over every round', () => {
  const tally = tallyRuns([
    // 2.0×, 1.25×, 0.5×: the first two missed.
    run('2026-11-28T10:00:00.000Z', 10_000, { hp: 5_000, rf: 8_000, ngx: 20_000 }),
    // 3.0×, 2.0×, 0.6×: all met.
    run('2026-11-28T11:00:00.000Z', 12_000, { hp: 4_000, rf: 6_000, ngx: 20_000 }),
  ]);
  assert.deepEqual(
    tally.runs.map((r) => r.goals.map((g) => g.status)),
    [
      ['missed', 'missed', 'met'],
      ['met', 'met', 'met'],
    ],
  );
  const [hp, rf, ngx] = tally.goals;
  assert.deepEqual(
    [hp!.runsMet, hp!.runsJudged, hp!.medianRatio, hp!.lowestRatio, hp!.highestRatio],
    [1, 2, 2.5, 2, 3],
  );
  assert.deepEqual([rf!.runsMet, rf!.runsJudged], [1, 2]);
  assert.deepEqual([ngx!.runsMet, ngx!.runsJudged], [2, 2]);
  // Six rounds each: fnshift's median (10,000 + 12,000) / 2 over http-proxy's (5,000 + 4,000) / 2.
  assert.equal(hp!.pooled.ratio, 11_000 / 4_500);
  assert.equal(hp!.pooled.status, 'missed');
  assert.equal(rf!.pooled.ratio, 11_000 / 7_000);
  assert.equal(rf!.pooled.status, 'met');
  // By CPU the same rounds give the other's median µs/request over fnshift's.
  const fnCpu = (1e6 / 10_000 + 1e6 / 12_000) / 2;
  assert.ok(Math.abs(hp!.pooledByCpu.ratio! - (1e6 / 5_000 + 1e6 / 4_000) / 2 / fnCpu) < 1e-9);
  assert.deepEqual(tally.warnings, []);
});

test('a run whose contender answered with errors is not judged, and its errors stay in the pool', () => {
  const clean = run('2026-11-28T10:00:00.000Z', 12_000, { hp: 4_000, rf: 6_000, ngx: 20_000 });
  const flagged: TalliedFile = {
    file: '/results/flagged.json',
    report: report('2026-11-28T11:00:00.000Z', [
      contender('fnshift', rounds([12_000, 12_000, 12_000])),
      contender('http-proxy', rounds([1_000, 1_000, 1_000], { errors: 3 })),
    ]),
  };
  const tally = tallyRuns([clean, flagged]);
  assert.equal(tally.runs[1]!.goals[0]!.status, 'invalid');
  assert.equal(tally.runs[1]!.goals[1]!.status, 'not measured', 'that run had no reply-from');
  assert.deepEqual([tally.goals[0]!.runsMet, tally.goals[0]!.runsJudged], [1, 1]);
  assert.equal(tally.goals[0]!.pooled.status, 'invalid');
  assert.equal(tally.goals[1]!.pooled.status, 'met', 'reply-from from the one run that had it');
  assert.match(formatTally(tally), /^flagged\.json .* invalid/m);
});

test('names the settings that differ between runs, and refuses the same run twice or none', () => {
  const a = run('2026-11-28T10:00:00.000Z', 12_000, { hp: 4_000, rf: 6_000, ngx: 20_000 });
  const b: TalliedFile = {
    file: '/results/b.json',
    report: report('2026-11-28T11:00:00.000Z', [...a.report.contenders], {
      rounds: 9,
      loadgen: 'autocannon',
    }),
  };
  assert.deepEqual(tallyRuns([a, b]).warnings, [
    'the runs differ in rounds: 3, 9',
    'the runs differ in load generator: wrk test, 1 thread, autocannon',
  ]);
  assert.throws(
    () => tallyRuns([a, { file: '/elsewhere/copy.json', report: a.report }]),
    (error: BenchError) =>
      error.code === 'FNSHIFT_BENCH_TALLY' && /copy\.json and .* are the same run/.test(error.message),
  );
  assert.throws(() => tallyRuns([]), { code: 'FNSHIFT_BENCH_TALLY' });
});

test('prints a row per run in time order, misses starred, and the goals over the runs', () => {
  const text = formatTally(
    tallyRuns([
      run('2026-11-28T11:00:00.000Z', 12_000, { hp: 4_000, rf: 6_000, ngx: 20_000 }),
      // 2.498× shows three decimals: rounded to 2.50× it would read as met.
      run('2026-11-28T10:00:00.000Z', 12_490, { hp: 5_000, rf: 6_000, ngx: 20_000 }),
    ]),
  );
  const lines = text.split('\n');
  assert.equal(lines[0], 'fnshift bench tally: 2 runs');
  const rows = lines.filter((l) => l.includes('.000Z.json'));
  assert.equal(rows.length, 2);
  assert.match(
    rows[0]!,
    /2026-11-28 10:00 +3 +12,490 +80\.1 +2\.498×\* \(2\.498×\*\) +2\.08× \(2\.08×\) +0\.62×/,
  );
  assert.match(rows[1]!, /2026-11-28 11:00 +3 +12,000 +83\.3 +3\.00× \(3\.00×\)/);
  // Over all six rounds: fnshift's median (12,000 + 12,490) / 2 over http-proxy's (4,000 + 5,000) / 2.
  assert.match(text, /fnshift ≥ 2\.5× http-proxy +1 of 2 +2\.75× +2\.498–3\.00× +2\.72× met +2\.75× met/);
  assert.match(text, /fnshift ≥ 0\.5× nginx +2 of 2 /);
});

test('reads a bench result and refuses, by name and reason, a file that is not one', async (t: TestContext) => {
  const dir = mkdtempSync(join(tmpdir(), 'fnshift-tally-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const good = join(dir, 'good.json');
  const { report: written } = run('2026-11-28T10:00:00.000Z', 12_000, { hp: 4_000, rf: 6_000, ngx: 20_000 });
  writeFileSync(good, JSON.stringify(written));
  assert.deepEqual((await readBenchReport(good)).report, JSON.parse(JSON.stringify(written)));

  const cases: [string, string | Buffer, RegExp][] = [
    ['binary.json', Buffer.from([0xff, 0x00, 0x7b, 0x0a, 0xc3]), /cannot read .*binary\.json/],
    ['truncated.json', JSON.stringify(written).slice(0, 200), /cannot read .*truncated\.json/],
    ['array.json', '[1,2,3]', /array\.json is not an `npm run bench` result: not a JSON object/],
    ['loadtest.json', '{"schemaVersion":1,"scenario":{"name":"overhead"}}', /startedAt is not a string/],
    [
      'later.json',
      JSON.stringify({ ...written, schemaVersion: 2 }),
      /later\.json is not an `npm run bench` result: schemaVersion is 2, not 1/,
    ],
  ];
  for (const [name, bytes, expected] of cases) {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    await assert.rejects(readBenchReport(path), (error: BenchError) => {
      assert.equal(error.code, 'FNSHIFT_BENCH_TALLY');
      assert.match(error.message, expected);
      return true;
    });
  }
  await assert.rejects(readBenchReport(join(dir, 'absent.json')), { code: 'FNSHIFT_BENCH_TALLY' });
});

test('names the first field that is wrong, deep inside a report', () => {
  const { report: good } = run('2026-11-28T10:00:00.000Z', 12_000, { hp: 4_000, rf: 6_000, ngx: 20_000 });
  assert.equal(reportProblem(JSON.parse(JSON.stringify(good))), undefined);
  /** Sets one field deep in a copy (undefined drops it, as JSON does) and asks what is wrong. */
  const broken = (path: readonly (string | number)[], value: unknown) => {
    const copy: unknown = JSON.parse(JSON.stringify(good));
    let node = copy as Record<string | number, unknown>;
    for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
    node[path.at(-1)!] = value;
    return reportProblem(JSON.parse(JSON.stringify(copy)));
  };
  assert.equal(
    broken(['contenders', 1, 'rounds', 2, 'measurement', 'requestsPerSec'], '4000'),
    'contenders[1]: rounds[2]: measurement.requestsPerSec is not a number',
  );
  assert.equal(
    broken(['contenders', 0, 'rounds', 0, 'cpu'], { usPerRequest: -1 }),
    'contenders[0]: rounds[0]: cpu is neither null nor { usPerRequest }',
  );
  assert.equal(
    broken(['contenders', 2, 'summary'], undefined),
    'contenders[2]: a measured contender has no summary',
  );
  assert.equal(
    broken(['contenders', 3, 'summary', 'flags'], [1]),
    'contenders[3]: summary.flags is not a list of strings',
  );
  assert.equal(broken(['settings', 'loadgen'], null), 'settings.loadgen is not a string');
  assert.equal(broken(['contenders', 0, 'status'], 'fine'), 'contenders[0]: status is not known');
});

test('never throws on any JSON value, and tells what is wrong with every one that is not a report', () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      const problem = reportProblem(value);
      assert.equal(typeof problem, 'string');
    }),
    { numRuns: 500 },
  );
});

test('the command prints the tally, and exits 2 with the code on a bad file or flag', async (t: TestContext) => {
  const dir = mkdtempSync(join(tmpdir(), 'fnshift-tally-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files = ['10', '11'].map((hour, i) => {
    const path = join(dir, `run-${hour}.json`);
    const fn = i === 0 ? 10_000 : 12_000;
    writeFileSync(
      path,
      JSON.stringify(run(`2026-11-28T${hour}:00:00.000Z`, fn, { hp: 4_000, rf: 6_000, ngx: 20_000 }).report),
    );
    return path;
  });
  const call = async (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runTally(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const ok = await call(files);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /^fnshift bench tally: 2 runs$/m);
  assert.match(ok.out, /^run-10\.json .* 2\.50× \(2\.50×\)/m);
  assert.match(ok.out, /fnshift ≥ 2\.5× http-proxy +2 of 2 /);

  const garbage = join(dir, 'garbage.json');
  writeFileSync(garbage, 'GET / HTTP/1.1\r\n\r\n');
  const bad = await call([files[0]!, garbage]);
  assert.equal(bad.code, 2);
  assert.equal(bad.out, '');
  assert.match(bad.err, /^FNSHIFT_BENCH_TALLY: cannot read .*garbage\.json/);

  for (const argv of [[], ['--rounds', '3', files[0]!]]) {
    const usage = await call(argv);
    assert.equal(usage.code, 2);
    assert.match(usage.err, /^FNSHIFT_BENCH_USAGE: /);
    assert.match(usage.err, /usage: npm run bench:tally/);
  }
  const help = await call(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /^usage: npm run bench:tally/);
});
