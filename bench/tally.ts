// Several `npm run bench` results read together: each run's goal ratios, how many runs met each goal, and
// the goals judged once more over every round of every run. On a shared machine one five-round run lands a
// ratio 10–15% either side of its middle (docs/load-testing.md); the tally tells a miss from that noise.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { BenchError } from './errors.ts';
import { mergeEncodedHistograms } from './latency.ts';
import {
  alignColumns,
  type BenchReport,
  type ContenderResult,
  evaluateCpuGoals,
  evaluateGoals,
  formatRatio,
  type GoalResult,
  goals,
  indent,
  median,
  type RoundRecord,
  summarizeRounds,
} from './report.ts';

/** One result file, as read: its name for the table, and the report in it. */
export interface TalliedFile {
  readonly file: string;
  readonly report: BenchReport;
}

export interface RunTally {
  readonly file: string;
  readonly startedAt: string;
  readonly rounds: number;
  /** fnshift's median req/s and CPU µs per request in this run; null when it has no numbers there. */
  readonly requestsPerSec: number | null;
  readonly cpuUsPerRequest: number | null;
  /** Judged again from the run's contenders, with today's goals (a file keeps the goals of its day). */
  readonly goals: readonly GoalResult[];
  readonly cpuGoals: readonly GoalResult[];
}

export interface GoalTally {
  readonly over: string;
  readonly minRatio: number;
  /** Runs whose ratio could be judged (both sides measured, neither flagged), and how many of them met it. */
  readonly runsJudged: number;
  readonly runsMet: number;
  /** Over the judged runs' ratios; null when none was judged. */
  readonly medianRatio: number | null;
  readonly lowestRatio: number | null;
  readonly highestRatio: number | null;
  /** The goal over every round of every run, as if they were one long run; see `pool`. */
  readonly pooled: GoalResult;
  readonly pooledByCpu: GoalResult;
}

export interface Tally {
  readonly runs: readonly RunTally[];
  readonly goals: readonly GoalTally[];
  /** Settings that differ between the runs (rounds, duration, connections, load generator), one line each. */
  readonly warnings: readonly string[];
}

/** A file that is not a bench result gets an error naming it and what is wrong; nothing is guessed. */
export async function readBenchReport(file: string): Promise<TalliedFile> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new BenchError('FNSHIFT_BENCH_TALLY', `cannot read ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const problem = reportProblem(parsed);
  if (problem !== undefined) {
    throw new BenchError('FNSHIFT_BENCH_TALLY', `${file} is not an \`npm run bench\` result: ${problem}`);
  }
  return { file, report: parsed as BenchReport };
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isCount = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0;

/** What the tally reads of a report, checked field by field: the first thing wrong, or undefined. */
export function reportProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not a JSON object';
  if (value.schemaVersion !== 1) return `schemaVersion is ${JSON.stringify(value.schemaVersion)}, not 1`;
  if (typeof value.startedAt !== 'string') return 'startedAt is not a string';
  const settings = value.settings;
  if (!isObject(settings)) return 'settings is not an object';
  for (const key of ['rounds', 'durationS', 'connections'] as const) {
    if (!isCount(settings[key])) return `settings.${key} is not a number`;
  }
  if (typeof settings.loadgen !== 'string') return 'settings.loadgen is not a string';
  if (!Array.isArray(value.contenders)) return 'contenders is not an array';
  for (const [i, contender] of value.contenders.entries()) {
    const problem = contenderProblem(contender);
    if (problem !== undefined) return `contenders[${i}]: ${problem}`;
  }
  return undefined;
}

function contenderProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not an object';
  if (typeof value.name !== 'string') return 'name is not a string';
  if (!['measured', 'skipped', 'failed'].includes(value.status as string)) return 'status is not known';
  if (!Array.isArray(value.rounds)) return 'rounds is not an array';
  for (const [i, round] of value.rounds.entries()) {
    const problem = roundProblem(round);
    if (problem !== undefined) return `rounds[${i}]: ${problem}`;
  }
  if (value.status !== 'measured') return undefined;
  if (typeof value.histogramUs !== 'string') return 'histogramUs is not a string';
  const summary = value.summary;
  if (!isObject(summary)) return 'a measured contender has no summary';
  if (!isCount(summary.medianRequestsPerSec)) return 'summary.medianRequestsPerSec is not a number';
  if (summary.medianCpuUsPerRequest !== null && !isCount(summary.medianCpuUsPerRequest)) {
    return 'summary.medianCpuUsPerRequest is neither a number nor null';
  }
  if (!Array.isArray(summary.flags) || !summary.flags.every((f) => typeof f === 'string')) {
    return 'summary.flags is not a list of strings';
  }
  return undefined;
}

function roundProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not an object';
  if (!isCount(value.round)) return 'round is not a number';
  if (typeof value.error === 'string') return undefined;
  const m = value.measurement;
  if (!isObject(m)) return 'neither a measurement nor an error';
  for (const key of ['requestsPerSec', 'totalRequests', 'non2xx', 'errors', 'timeouts'] as const) {
    if (!isCount(m[key])) return `measurement.${key} is not a number`;
  }
  const latency = m.latencyMs;
  if (!isObject(latency) || ![latency.p50, latency.p99, latency.p99_9].every(isCount)) {
    return 'measurement.latencyMs is not p50/p99/p99_9 numbers';
  }
  if (value.cpu !== null && (!isObject(value.cpu) || !isCount(value.cpu.usPerRequest))) {
    return 'cpu is neither null nor { usPerRequest }';
  }
  return undefined;
}

/**
 * Every contender's rounds of every run as one contender: the median over all its rounds and one merged
 * latency histogram. Fair because each run interleaves its contenders round by round, so every run puts as
 * many rounds of each into the pool. A contender flagged in any run stays flagged (its errors add up).
 */
export function pool(files: readonly TalliedFile[]): ContenderResult[] {
  const names = [...new Set(files.flatMap((f) => f.report.contenders.map((c) => c.name)))];
  return names.map((name) => {
    const runs = files.flatMap((f) => f.report.contenders.filter((c) => c.name === name));
    const rounds: RoundRecord[] = runs.flatMap((c) => c.rounds);
    const histograms = runs.flatMap((c) => (c.status === 'measured' && c.histogramUs ? [c.histogramUs] : []));
    const summary = histograms.length
      ? summarizeRounds(rounds, mergeEncodedHistograms(histograms).percentiles)
      : undefined;
    return summary
      ? { name, status: 'measured', rounds, summary }
      : { name, status: 'failed', rounds, reason: 'no measured round in any run' };
  });
}

export function tallyRuns(files: readonly TalliedFile[]): Tally {
  if (files.length === 0) throw new BenchError('FNSHIFT_BENCH_TALLY', 'no result files to tally');
  const seen = new Map<string, string>();
  for (const { file, report } of files) {
    const earlier = seen.get(report.startedAt);
    if (earlier !== undefined) {
      // The same run twice would count its rounds twice.
      throw new BenchError(
        'FNSHIFT_BENCH_TALLY',
        `${file} and ${earlier} are the same run (started ${report.startedAt})`,
      );
    }
    seen.set(report.startedAt, file);
  }
  const runs = files.map(({ file, report }): RunTally => {
    const fnshift = report.contenders.find((c) => c.name === 'fnshift')?.summary;
    return {
      file,
      startedAt: report.startedAt,
      rounds: report.settings.rounds,
      requestsPerSec: fnshift?.medianRequestsPerSec ?? null,
      cpuUsPerRequest: fnshift?.medianCpuUsPerRequest ?? null,
      goals: evaluateGoals(report.contenders),
      cpuGoals: evaluateCpuGoals(report.contenders),
    };
  });
  const pooled = pool(files);
  const pooledGoals = evaluateGoals(pooled);
  const pooledCpuGoals = evaluateCpuGoals(pooled);
  return {
    runs,
    goals: goals.map((goal, i): GoalTally => {
      const judged = runs.map((r) => r.goals[i]!).filter((g) => g.status === 'met' || g.status === 'missed');
      const ratios = judged.map((g) => g.ratio!);
      return {
        ...goal,
        runsJudged: judged.length,
        runsMet: judged.filter((g) => g.status === 'met').length,
        medianRatio: ratios.length ? median(ratios) : null,
        lowestRatio: ratios.length ? Math.min(...ratios) : null,
        highestRatio: ratios.length ? Math.max(...ratios) : null,
        pooled: pooledGoals[i]!,
        pooledByCpu: pooledCpuGoals[i]!,
      };
    }),
    warnings: settingsWarnings(files),
  };
}

function settingsWarnings(files: readonly TalliedFile[]): string[] {
  const described: [string, (r: BenchReport) => string][] = [
    ['rounds', (r) => String(r.settings.rounds)],
    ['round length', (r) => `${r.settings.durationS} s`],
    ['connections', (r) => String(r.settings.connections)],
    ['load generator', (r) => r.settings.loadgen],
  ];
  return described.flatMap(([what, describe]) => {
    const values = [...new Set(files.map((f) => describe(f.report)))];
    return values.length > 1 ? [`the runs differ in ${what}: ${values.join(', ')}`] : [];
  });
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function formatTally(tally: Tally): string {
  const byTime = [...tally.runs].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const runRows = byTime.map((run) => [
    basename(run.file),
    run.startedAt.slice(0, 16).replace('T', ' '),
    String(run.rounds),
    run.requestsPerSec === null ? '-' : integer.format(run.requestsPerSec),
    run.cpuUsPerRequest === null ? '-' : run.cpuUsPerRequest.toFixed(1),
    ...run.goals.map((g, i) => `${markedRatio(g)} (${markedRatio(run.cpuGoals[i]!)})`),
  ]);
  const runHeader = [
    'run',
    'started (UTC)',
    'rounds',
    'fnshift req/s',
    'µs/req',
    ...goals.map((g) => `÷ ${g.over}`),
  ];
  const goalRows = tally.goals.map((g) => [
    `fnshift ≥ ${g.minRatio}× ${g.over}`,
    `${g.runsMet} of ${g.runsJudged}`,
    formatRatio(g.medianRatio, '-'),
    g.lowestRatio === null
      ? '-'
      : `${ratioAgainst(g.lowestRatio, g.minRatio)}–${ratioAgainst(g.highestRatio!, g.minRatio)}×`,
    `${goalRatio(g.pooled)} ${g.pooled.status}`,
    `${goalRatio(g.pooledByCpu)} ${g.pooledByCpu.status}`,
  ]);
  const goalHeader = ['', 'runs met', 'median', 'range', 'all rounds', 'all rounds, by CPU'];
  return [
    `fnshift bench tally: ${tally.runs.length} run${tally.runs.length === 1 ? '' : 's'}`,
    ...tally.warnings.map((w) => `warning: ${w}`),
    '',
    alignColumns([runHeader, ...runRows], new Set([2, 3, 4])),
    '  (÷: fnshift ÷ the other by req/s, then by CPU per request in brackets; * marks a missed goal)',
    '',
    'goals by req/s:',
    indent(alignColumns([goalHeader, ...goalRows], new Set([2]))),
    '  (runs met: runs judged, neither side flagged; all rounds: medians over every round of every run)',
  ].join('\n');
}

/** Two decimals, or three where two would round a ratio under the goal up to it: 1.498× is not 1.50×. */
function ratioAgainst(ratio: number, minRatio: number): string {
  const isRoundedUp = ratio < minRatio && Number(ratio.toFixed(2)) >= minRatio;
  return ratio.toFixed(isRoundedUp ? 3 : 2);
}

function goalRatio(goal: GoalResult): string {
  return goal.ratio === null ? '-' : `${ratioAgainst(goal.ratio, goal.minRatio)}×`;
}

function markedRatio(goal: GoalResult): string {
  if (goal.status === 'missed') return `${goalRatio(goal)}*`;
  return goal.status === 'invalid' ? `${goalRatio(goal)} invalid` : goalRatio(goal);
}
