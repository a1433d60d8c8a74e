// The bench's results: per-contender summary, fnshift's ratios against the goals, and the text report.
import { describeStallOutcome, type StallProbeOutcome } from '../loadtest/stalls.ts';
import type { RoundCpu } from './cpu-time.ts';
import type { LatencyPercentilesUs } from './latency.ts';
import type { RoundMeasurement } from './load.ts';
import type { MachineInfo } from './machine.ts';

export interface Goal {
  readonly over: string;
  /** fnshift's median requests/s ÷ the other's, and the other's CPU µs per request ÷ fnshift's, at least this. */
  readonly minRatio: number;
}

export const goals: readonly Goal[] = Object.freeze([
  { over: 'http-proxy', minRatio: 2.5 },
  { over: 'reply-from', minRatio: 1.5 },
  { over: 'nginx', minRatio: 0.5 },
]);

/**
 * What the report keeps of a round; the histogram goes into the contender's merged one. `cpu` is the
 * contender's process tree's CPU time over the round: null for `direct` (no proxy) and without /proc.
 */
export type RoundRecord =
  | {
      readonly round: number;
      readonly measurement: Omit<RoundMeasurement, 'histogramUs'>;
      readonly cpu: RoundCpu | null;
    }
  | { readonly round: number; readonly error: string };

export interface ContenderSummary {
  readonly medianRequestsPerSec: number;
  readonly roundRequestsPerSec: readonly number[];
  /** (max − min) ÷ median of the rounds' requests/s, in percent: how much to trust the median. */
  readonly spreadPercent: number;
  /** The contender's own CPU µs per completed request, median over the rounds that have it; null for none. */
  readonly medianCpuUsPerRequest: number | null;
  readonly roundCpuUsPerRequest: readonly (number | null)[];
  /** As spreadPercent, for CPU µs per request; null when no round has it. */
  readonly cpuSpreadPercent: number | null;
  /** Over every request of every measured round (the rounds' histograms added up). */
  readonly latencyUs: LatencyPercentilesUs;
  /** The load generator's own percentiles in ms (autocannon: whole ms), median over rounds. */
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly p99_9: number };
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly failedRounds: number;
  /** Why its numbers cannot be trusted as they are (errors, non-2xx, failed rounds); empty when clean. */
  readonly flags: readonly string[];
}

export interface ContenderResult {
  readonly name: string;
  /** skipped: never started (or failed its first request); failed: started, but no round produced numbers. */
  readonly status: 'measured' | 'skipped' | 'failed';
  readonly detail?: string;
  /** Why it was skipped, or what went wrong after it started. */
  readonly reason?: string;
  readonly rounds: readonly RoundRecord[];
  readonly summary?: ContenderSummary;
  /** Every measured request's latency, HdrHistogram compressed base64, µs. */
  readonly histogramUs?: string;
}

export interface Ratio {
  readonly over: string;
  /**
   * >1 means fnshift is ahead. In `ratios`: fnshift's median requests/s ÷ the other's. In `cpuRatios`: the
   * other's median CPU µs per request ÷ fnshift's. null when either has no such number.
   */
  readonly ratio: number | null;
}

export type GoalStatus = 'met' | 'missed' | 'not measured' | 'invalid';

export interface GoalResult extends Goal {
  readonly ratio: number | null;
  readonly status: GoalStatus;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** (max − min) ÷ median, in percent. */
function spreadPercent(values: readonly number[]): number {
  const middle = median(values);
  return middle > 0 ? ((Math.max(...values) - Math.min(...values)) / middle) * 100 : 0;
}

/** `undefined` when no round produced a measurement. */
export function summarizeRounds(
  rounds: readonly RoundRecord[],
  latencyUs: LatencyPercentilesUs,
): ContenderSummary | undefined {
  const measuredRounds = rounds.flatMap((r) => ('measurement' in r ? [r] : []));
  const measured = measuredRounds.map((r) => r.measurement);
  if (measured.length === 0) return undefined;
  const sum = (pick: (m: (typeof measured)[number]) => number) =>
    measured.reduce((total, m) => total + pick(m), 0);
  const non2xx = sum((m) => m.non2xx);
  const errors = sum((m) => m.errors);
  const timeouts = sum((m) => m.timeouts);
  const failedRounds = rounds.length - measured.length;
  const flags = [
    ...(errors > 0 ? [`${errors} errors (${timeouts} timeouts)`] : []),
    ...(non2xx > 0 ? [`${non2xx} non-2xx`] : []),
    ...(failedRounds > 0 ? [`${failedRounds} failed rounds`] : []),
  ];
  const perRound = measured.map((m) => m.requestsPerSec);
  const cpuPerRound = measuredRounds.map((r) => r.cpu?.usPerRequest ?? null);
  const cpuKnown = cpuPerRound.filter((v): v is number => v !== null);
  return {
    medianRequestsPerSec: median(perRound),
    roundRequestsPerSec: perRound,
    spreadPercent: spreadPercent(perRound),
    medianCpuUsPerRequest: cpuKnown.length > 0 ? median(cpuKnown) : null,
    roundCpuUsPerRequest: cpuPerRound,
    cpuSpreadPercent: cpuKnown.length > 0 ? spreadPercent(cpuKnown) : null,
    latencyUs,
    latencyMs: {
      p50: median(measured.map((m) => m.latencyMs.p50)),
      p99: median(measured.map((m) => m.latencyMs.p99)),
      p99_9: median(measured.map((m) => m.latencyMs.p99_9)),
    },
    non2xx,
    errors,
    timeouts,
    failedRounds,
    flags,
  };
}

export function isFlagged(result: ContenderResult | undefined): boolean {
  return result?.summary !== undefined && result.summary.flags.length > 0;
}

/** `of`'s number against every other contender's; null where either is missing or the quotient is not finite. */
function ratiosOf(
  results: readonly ContenderResult[],
  of: string,
  pick: (summary: ContenderSummary) => number | null,
  divide: (mine: number, theirs: number) => number,
): Ratio[] {
  const subject = results.find((r) => r.name === of)?.summary;
  const mine = subject ? pick(subject) : null;
  return results
    .filter((r) => r.name !== of)
    .map((r) => {
      const theirs = r.summary ? pick(r.summary) : null;
      const ratio = mine === null || theirs === null ? null : divide(mine, theirs);
      return { over: r.name, ratio: ratio !== null && Number.isFinite(ratio) ? ratio : null };
    });
}

/** fnshift's median requests/s ÷ each other's: the end-to-end measure, as noisy as the machine. */
export function computeRatios(results: readonly ContenderResult[], of = 'fnshift'): Ratio[] {
  return ratiosOf(
    results,
    of,
    (s) => s.medianRequestsPerSec,
    (mine, theirs) => mine / theirs,
  );
}

/** Each other's median CPU µs per request ÷ fnshift's, so >1 means fnshift does the same work for less CPU. */
export function computeCpuRatios(results: readonly ContenderResult[], of = 'fnshift'): Ratio[] {
  return ratiosOf(
    results,
    of,
    (s) => s.medianCpuUsPerRequest,
    (mine, theirs) => theirs / mine,
  );
}

/** A goal counts only between clean runs: a proxy answering fast 502s must not "win". */
export function evaluateGoals(results: readonly ContenderResult[], of = 'fnshift'): GoalResult[] {
  return judgeGoals(results, computeRatios(results, of), of);
}

/** The same goals, met by CPU per request instead of requests/s. */
export function evaluateCpuGoals(results: readonly ContenderResult[], of = 'fnshift'): GoalResult[] {
  return judgeGoals(results, computeCpuRatios(results, of), of);
}

function judgeGoals(results: readonly ContenderResult[], ratios: readonly Ratio[], of: string): GoalResult[] {
  const subject = results.find((r) => r.name === of);
  return goals.map((goal) => {
    const ratio = ratios.find((r) => r.over === goal.over)?.ratio ?? null;
    const other = results.find((r) => r.name === goal.over);
    let status: GoalStatus;
    if (ratio === null) status = 'not measured';
    else if (isFlagged(subject) || isFlagged(other)) status = 'invalid';
    else status = ratio >= goal.minRatio ? 'met' : 'missed';
    return { ...goal, ratio, status };
  });
}

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
/** The load generator's own millisecond figures are medians of rounds: a float sum, cut to what it can tell. */
const twoDecimals = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
/** What a cell shows for a number the contender does not have (`direct` has no proxy CPU). */
const NONE = '-';

interface Column {
  readonly title: string;
  readonly isRightAligned: boolean;
  readonly cell: (summary: ContenderSummary) => string;
}

const tableColumns: readonly Column[] = [
  { title: 'req/s', isRightAligned: true, cell: (s) => integer.format(s.medianRequestsPerSec) },
  { title: 'spread', isRightAligned: true, cell: (s) => `${Math.round(s.spreadPercent)}%` },
  {
    title: 'rounds req/s',
    isRightAligned: false,
    cell: (s) => s.roundRequestsPerSec.map((v) => integer.format(v)).join(' '),
  },
  {
    title: 'cpu µs/req',
    isRightAligned: true,
    cell: (s) => (s.medianCpuUsPerRequest === null ? NONE : oneDecimal.format(s.medianCpuUsPerRequest)),
  },
  {
    title: 'cpu spread',
    isRightAligned: true,
    cell: (s) => (s.cpuSpreadPercent === null ? NONE : `${Math.round(s.cpuSpreadPercent)}%`),
  },
  { title: 'p50 µs', isRightAligned: true, cell: (s) => integer.format(s.latencyUs.p50Us) },
  { title: 'p99 µs', isRightAligned: true, cell: (s) => integer.format(s.latencyUs.p99Us) },
  { title: 'p99.9 µs', isRightAligned: true, cell: (s) => integer.format(s.latencyUs.p99_9Us) },
  {
    title: 'loadgen ms p50/99/99.9',
    isRightAligned: false,
    cell: (s) =>
      [s.latencyMs.p50, s.latencyMs.p99, s.latencyMs.p99_9].map((v) => twoDecimals.format(v)).join('/'),
  },
  { title: 'non-2xx', isRightAligned: true, cell: (s) => String(s.non2xx) },
  { title: 'errors', isRightAligned: true, cell: (s) => String(s.errors) },
  { title: 'flag', isRightAligned: false, cell: (s) => (s.flags.length > 0 ? 'FLAGGED' : '') },
];

/** One row per contender; one without numbers shows its status (skipped, failed) in place of them. */
export function formatTable(results: readonly ContenderResult[]): string {
  const header = ['contender', ...tableColumns.map((c) => c.title)];
  const rows = results.map((r) => {
    const summary = r.summary;
    if (!summary) return [r.name, ...tableColumns.map((_, i) => (i === 0 ? r.status : ''))];
    return [r.name, ...tableColumns.map((c) => c.cell(summary))];
  });
  const rightAligned = new Set(tableColumns.flatMap((c, i) => (c.isRightAligned ? [i + 1] : [])));
  return alignColumns([header, ...rows], rightAligned);
}

/** Pads every column to its widest cell; the columns in `rightAligned` (by index) are padded on the left. */
export function alignColumns(rows: readonly string[][], rightAligned: ReadonlySet<number>): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) =>
          rightAligned.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Both kinds side by side, one row per other contender; >1 means fnshift is ahead in either column. */
export function formatRatios(results: readonly ContenderResult[], of = 'fnshift'): string {
  const byCpu = computeCpuRatios(results, of);
  const rows = computeRatios(results, of).map(({ over, ratio }, i) => [
    `${of} vs ${over}`,
    formatRatio(ratio),
    formatRatio(byCpu[i]!.ratio, NONE),
  ]);
  const header = ['', `by req/s (${of} ÷ other)`, `by CPU per request (other ÷ ${of})`];
  return alignColumns([header, ...rows], new Set([1, 2]));
}

/** Each goal judged twice: by requests/s (end to end) and by CPU per request (the proxy's own cost). */
export function formatGoals(results: readonly ContenderResult[], of = 'fnshift'): string {
  const byCpu = evaluateCpuGoals(results, of);
  const rows = evaluateGoals(results, of).map((g, i) => [
    `${of} ≥ ${g.minRatio}× ${g.over}`,
    formatRatio(g.ratio),
    g.status,
    formatRatio(byCpu[i]!.ratio, NONE),
    byCpu[i]!.status,
  ]);
  const header = ['', 'by req/s', '', 'by CPU per request', ''];
  return alignColumns([header, ...rows], new Set([1, 3]));
}

export function formatRatio(ratio: number | null, missing = 'n/a'): string {
  return ratio === null ? missing : `${ratio.toFixed(2)}×`;
}

export function formatNotes(results: readonly ContenderResult[]): string {
  return results
    .flatMap((r) => {
      const notes = [r.detail, r.reason, ...(r.summary?.flags ?? [])].filter((n): n is string => Boolean(n));
      return notes.length > 0 ? [`  ${r.name}: ${notes.join('; ')}`] : [];
    })
    .join('\n');
}

export interface BenchSettings {
  readonly durationS: number;
  readonly warmupS: number;
  readonly rounds: number;
  readonly connections: number;
  readonly pipelining: number;
  readonly requestSample: string;
  readonly users: number;
  readonly originBodyBytes: number;
  readonly nativeWorkers: number;
  /** Which load generator measured, with its version and threads. */
  readonly loadgen: string;
}

export interface MachineStallProbes {
  readonly beforeRounds: StallProbeOutcome;
  readonly afterRounds: StallProbeOutcome;
}

/** The JSON document written to --out; `schemaVersion` changes when a field changes meaning. */
export interface BenchReport {
  readonly schemaVersion: 1;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly machine: MachineInfo;
  /** Busy loops on every core just before the first measured round and after the last: the p99's floor. */
  readonly machineStalls: MachineStallProbes;
  readonly settings: BenchSettings;
  readonly contenders: readonly ContenderResult[];
  readonly ratios: readonly Ratio[];
  readonly goals: readonly GoalResult[];
  /** The same goals by CPU per request: `cpuRatios` are the other's cpu µs/req ÷ fnshift's. */
  readonly cpuRatios: readonly Ratio[];
  readonly cpuGoals: readonly GoalResult[];
}

export function createReport(
  fields: Omit<BenchReport, 'schemaVersion' | 'ratios' | 'goals' | 'cpuRatios' | 'cpuGoals'>,
): BenchReport {
  return {
    schemaVersion: 1,
    ...fields,
    ratios: computeRatios(fields.contenders),
    goals: evaluateGoals(fields.contenders),
    cpuRatios: computeCpuRatios(fields.contenders),
    cpuGoals: evaluateCpuGoals(fields.contenders),
  };
}

export function formatReport(report: BenchReport): string {
  const { machine: m, settings: s } = report;
  return [
    `fnshift peer bench: ${s.rounds} rounds × ${s.durationS} s per contender, interleaved, after a ${s.warmupS} s warm-up each`,
    `load: ${s.loadgen}, ${s.connections} connections, pipelining ${s.pipelining}, GET ${s.requestSample} over ${s.users} users`,
    `origin: node:http, ${s.originBodyBytes}-byte JSON, keep-alive; nginx/haproxy workers: ${s.nativeWorkers}`,
    `machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, load average ${m.loadAverage1m.toFixed(2)}`,
    `versions: node ${m.node}, ${m.nginx}, ${m.haproxy}`,
    formatMachineStalls(report.machineStalls),
    '',
    formatTable(report.contenders),
    '',
    'notes:',
    formatNotes(report.contenders),
    '',
    'ratios (medians; >1 means fnshift is ahead):',
    indent(formatRatios(report.contenders)),
    '',
    'goals:',
    indent(formatGoals(report.contenders)),
    '',
    ...workersSection(report.contenders),
    measuresNote(m.cores),
  ].join('\n');
}

/** One line per probe; one that failed says so and why, in its place. */
export function formatMachineStalls(probes: MachineStallProbes): string {
  return [
    describeStallOutcome(probes.beforeRounds, 'Before the rounds'),
    describeStallOutcome(probes.afterRounds, 'After the rounds'),
  ].join('\n');
}

/** The same ratios and goals for fnshift with workers (as many as nginx), when it ran. */
function workersSection(results: readonly ContenderResult[]): string[] {
  const of = 'fnshift-workers';
  if (!results.some((r) => r.name === of && r.summary)) return [];
  const others = results.filter((r) => r.name !== 'fnshift');
  return [
    `with workers (${of}: as many data-plane processes as nginx has workers):`,
    indent(formatRatios(others, of)),
    '',
    indent(formatGoals(others, of)),
    '',
  ];
}

/** Why two sets of ratios: on a small shared machine they can disagree, and each answers its own question. */
function measuresNote(cores: number): string {
  return [
    `note: req/s is the end-to-end measure; here the load generator and the origin share the ${cores} cores`,
    '  with the proxy, so it swings with them and with anything else on the machine. cpu µs/req is the',
    "  proxy's own CPU time (utime + stime of its whole process tree, from /proc) per completed request:",
    '  on such a machine it is the fairer efficiency measure. "-" means no proxy process (direct) or no /proc.',
  ].join('\n');
}

export function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}
