// `npm run bench`: fnshift against its peers on loopback, rounds interleaved; prints a table and writes JSON.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { probeStallsForReport } from '../loadtest/stalls.ts';
import { type BenchChild, forkScript, killAllChildrenNow, waitForReadyPort } from './child.ts';
import {
  type ContenderContext,
  type ContenderName,
  type RunningContender,
  startContender,
} from './contenders.ts';
import { clockTicksPerSecond, roundCpu, sampleProcessTreeCpu } from './cpu-time.ts';
import { BenchError, describeError } from './errors.ts';
import { getOnce } from './http-probe.ts';
import { mergeEncodedHistograms } from './latency.ts';
import { createLoadGenerator, type LoadGenerator, type LoadJob } from './load.ts';
import { binaryVersion, describeMachine } from './machine.ts';
import { type BenchOptions, parseBenchOptions, usage } from './options.ts';
import {
  type BenchReport,
  type ContenderResult,
  createReport,
  formatReport,
  type MachineStallProbes,
  type RoundRecord,
  summarizeRounds,
} from './report.ts';
import { createWrkLoadGenerator, WRK_PATH } from './wrk.ts';

/** A busy loop per core for 1 s: enough for a few of the ~3/s stalls ≥ 4 ms seen idle, short next to a round. */
const STALL_PROBE_MS = 1000;

/** Distinct sticky keys, so fnshift's weight-50 route splits them between "legacy" and "function". */
const USER_COUNT = 64;
const REQUEST_TIMEOUT_S = 10;

interface Entry {
  readonly name: ContenderName;
  running?: RunningContender;
  reason?: string;
  readonly rounds: RoundRecord[];
  readonly histograms: string[];
}

function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

function loadRequests(): LoadJob['requests'] {
  return Array.from({ length: USER_COUNT }, (_, i) => {
    const userId = `u${10_000 + i * 7919}`;
    return { path: `/api/recommend?userId=${userId}`, headers: { 'x-user-id': userId } };
  });
}

/** Every child dies with the bench: on normal exit, on errors and on Ctrl-C. */
function installCleanup(workDir: string): void {
  const cleanup = () => {
    killAllChildrenNow();
    rmSync(workDir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      progress(`${signal}: stopping every child process`);
      cleanup();
      process.exit(130);
    });
  }
}

async function startUpstream(): Promise<{ child: BenchChild; port: number }> {
  const child = forkScript('origin', fileURLToPath(new URL('./upstream.ts', import.meta.url)));
  return { child, port: await waitForReadyPort(child, 10_000) };
}

/** A contender that cannot start, or cannot forward one request, is reported as skipped; the rest go on. */
async function startEntry(
  name: ContenderName,
  context: ContenderContext,
  probe: LoadJob['requests'][number],
) {
  const entry: Entry = { name, rounds: [], histograms: [] };
  try {
    const running = await startContender(name, context);
    const response = await getOnce(`${running.origin}${probe.path}`, probe.headers).catch(
      (error: unknown) => {
        throw new BenchError('FNSHIFT_BENCH_PREFLIGHT', `first request failed: ${describeError(error)}`, {
          cause: error,
        });
      },
    );
    if (response.status < 200 || response.status > 299) {
      await running.stop();
      throw new BenchError('FNSHIFT_BENCH_PREFLIGHT', `first request answered ${response.status}`);
    }
    entry.running = running;
    progress(`${name} ready at ${running.origin} (${running.detail})`);
  } catch (error) {
    entry.reason = `skipped: ${describeError(error)}`;
    progress(`${name} ${entry.reason}`);
  }
  return entry;
}

function roundLabel(round: number | 'warm-up'): string {
  return round === 'warm-up' ? 'warm-up' : `round ${round}`;
}

async function runRound(
  entry: Entry,
  load: LoadGenerator,
  job: LoadJob,
  round: number | 'warm-up',
): Promise<void> {
  const running = entry.running;
  if (!running) return;
  if (!running.isAlive()) {
    entry.reason ??= running.deathReason();
    if (round !== 'warm-up') entry.rounds.push({ round, error: entry.reason });
    return;
  }
  const sampleCpu = () => (running.pid === undefined ? undefined : sampleProcessTreeCpu(running.pid));
  try {
    const cpuBefore = sampleCpu();
    const { histogramUs, ...measurement } = await load.run({ ...job, origin: running.origin });
    const cpu = roundCpu(cpuBefore, sampleCpu(), measurement.totalRequests, clockTicksPerSecond());
    const trouble = measurement.errors + measurement.non2xx > 0;
    progress(
      `${roundLabel(round)} ${entry.name}: ${Math.round(measurement.requestsPerSec)} req/s` +
        (cpu ? `, ${cpu.usPerRequest.toFixed(1)} cpu µs/req` : '') +
        (trouble ? ` (${measurement.errors} errors, ${measurement.non2xx} non-2xx)` : ''),
    );
    if (round !== 'warm-up') {
      entry.rounds.push({ round, measurement, cpu });
      entry.histograms.push(histogramUs);
    }
  } catch (error) {
    progress(`${roundLabel(round)} ${entry.name} failed: ${describeError(error)}`);
    if (round !== 'warm-up') entry.rounds.push({ round, error: describeError(error) });
  }
  if (!running.isAlive()) entry.reason ??= running.deathReason();
}

/**
 * Warm-up for each, then A B C A B C: a noisy moment on the machine hits every contender alike. The stall
 * probes run right before the first measured round and after the last, while every contender sits idle.
 */
async function measureAll(
  entries: readonly Entry[],
  options: BenchOptions,
  requests: LoadJob['requests'],
): Promise<MachineStallProbes> {
  const load =
    options.loadgen === 'wrk'
      ? createWrkLoadGenerator({ threads: options.wrkThreads })
      : createLoadGenerator();
  const job = (durationS: number): LoadJob => ({
    origin: '',
    durationS,
    connections: options.connections,
    pipelining: options.pipelining,
    requestTimeoutS: REQUEST_TIMEOUT_S,
    requests,
  });
  try {
    for (const entry of entries) {
      await runRound(entry, load, job(options.warmupS), 'warm-up');
    }
    const beforeRounds = await probeStallsForReport({ durationMs: STALL_PROBE_MS });
    for (let round = 1; round <= options.rounds; round++) {
      for (const entry of entries) {
        await runRound(entry, load, job(options.durationS), round);
      }
    }
    return { beforeRounds, afterRounds: await probeStallsForReport({ durationMs: STALL_PROBE_MS }) };
  } finally {
    await load.stop();
  }
}

function toResult(entry: Entry): ContenderResult {
  const base = {
    name: entry.name,
    detail: entry.running?.detail,
    reason: entry.reason,
    rounds: entry.rounds,
  };
  if (!entry.running) return { ...base, status: 'skipped' };
  if (entry.histograms.length === 0) return { ...base, status: 'failed' };
  const merged = mergeEncodedHistograms(entry.histograms);
  const summary = summarizeRounds(entry.rounds, merged.percentiles);
  return { ...base, status: 'measured', summary, histogramUs: merged.encoded };
}

async function bench(options: BenchOptions, workDir: string): Promise<BenchReport> {
  const startedAt = new Date().toISOString();
  const machine = describeMachine();
  const requests = loadRequests();
  const upstream = await startUpstream();
  const entries: Entry[] = [];
  try {
    const upstreamOrigin = `http://127.0.0.1:${upstream.port}`;
    const originBodyBytes = (await getOnce(`${upstreamOrigin}${requests[0]!.path}`)).bodyBytes;
    const context: ContenderContext = {
      upstreamOrigin,
      upstreamPort: upstream.port,
      workDir,
      startTimeoutMs: options.startTimeoutMs,
      nativeWorkers: options.nativeWorkers,
    };
    for (const name of options.only) {
      entries.push(await startEntry(name, context, requests[0]!));
    }
    const machineStalls = await measureAll(entries, options, requests);
    return createReport({
      startedAt,
      finishedAt: new Date().toISOString(),
      machine,
      machineStalls,
      settings: {
        durationS: options.durationS,
        warmupS: options.warmupS,
        rounds: options.rounds,
        connections: options.connections,
        pipelining: options.pipelining,
        requestSample: `${requests[0]!.path} (x-user-id: ${requests[0]!.headers['x-user-id']})`,
        users: USER_COUNT,
        originBodyBytes,
        nativeWorkers: options.nativeWorkers,
        loadgen: describeLoadgen(options),
      },
      contenders: entries.map(toResult),
    });
  } finally {
    await Promise.all(entries.map((e) => e.running?.stop()));
    await upstream.child.stop();
  }
}

function describeLoadgen(options: BenchOptions): string {
  return options.loadgen === 'wrk'
    ? `${binaryVersion(WRK_PATH)}, ${options.wrkThreads} thread${options.wrkThreads === 1 ? '' : 's'}`
    : 'autocannon (one Node thread, in a child process)';
}

function writeReport(report: BenchReport, outPath: string): void {
  const path = resolve(outPath);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\n${formatReport(report)}\n\nresults: ${path}\n`);
}

function main(): void {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  let options: BenchOptions;
  try {
    options = parseBenchOptions(argv);
  } catch (error) {
    process.stderr.write(`${describeError(error)}\n${usage}\n`);
    process.exit(2);
  }
  const workDir = mkdtempSync(join(tmpdir(), 'fnshift-bench-'));
  installCleanup(workDir);
  bench(options, workDir).then(
    (report) => {
      writeReport(report, options.outPath);
      process.exit(0);
    },
    (error: unknown) => {
      progress(`failed: ${describeError(error)}`);
      if (error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
      process.exit(1);
    },
  );
}

main();
