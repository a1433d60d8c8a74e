// The bench's results: per-contender summary, fnshift's ratios against the goals, and the text report.
import type { LatencyPercentilesUs } from './latency.ts';
import type { RoundMeasurement } from './load.ts';
import type { MachineInfo } from './machine.ts';

export interface Goal {
  readonly over: string;
  /** fnshift's median requests/s divided by the other's must be at least this. */
  readonly minRatio: number;
}

export const goals: readonly Goal[] = Object.freeze([
  { over: 'http-proxy', minRatio: 2.5 },
  { over: 'reply-from', minRatio: 1.5 },
  { over: 'nginx', minRatio: 0.5 },
]);

/** What the report keeps of a round; the histogram goes into the contender's merged one. */
export type RoundRecord =
  | { readonly round: number; readonly measurement: Omit<RoundMeasurement, 'histogramUs'> }
  | { readonly round: number; readonly error: string };

export interface ContenderSummary {
  readonly medianRequestsPerSec: number;
  readonly roundRequestsPerSec: readonly number[];
  /** (max − min) ÷ median of the rounds' requests/s, in percent: how much to trust the median. */
  readonly spreadPercent: number;
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
  /** fnshift's median requests/s ÷ the other's; null when either was not measured. */
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

/** `undefined` when no round produced a measurement. */
export function summarizeRounds(
  rounds: readonly RoundRecord[],
  latencyUs: LatencyPercentilesUs,
): ContenderSummary | undefined {
  const measured = rounds.flatMap((r) => ('measurement' in r ? [r.measurement] : []));
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
  const middle = median(perRound);
  return {
    medianRequestsPerSec: middle,
    roundRequestsPerSec: perRound,
    spreadPercent: middle > 0 ? ((Math.max(...perRound) - Math.min(...perRound)) / middle) * 100 : 0,
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

export function computeRatios(results: readonly ContenderResult[], of = 'fnshift'): Ratio[] {
  const mine = results.find((r) => r.name === of)?.summary?.medianRequestsPerSec;
  return results
    .filter((r) => r.name !== of)
    .map((r) => {
      const theirs = r.summary?.medianRequestsPerSec;
      return { over: r.name, ratio: mine !== undefined && theirs ? mine / theirs : null };
    });
}

/** A goal counts only between clean runs: a proxy answering fast 502s must not "win". */
export function evaluateGoals(results: readonly ContenderResult[], of = 'fnshift'): GoalResult[] {
  const ratios = computeRatios(results, of);
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
  { title: 'p50 µs', isRightAligned: true, cell: (s) => integer.format(s.latencyUs.p50Us) },
  { title: 'p99 µs', isRightAligned: true, cell: (s) => integer.format(s.latencyUs.p99Us) },
  { title: 'p99.9 µs', isRightAligned: true, cell: (s) => integer.format(s.latencyUs.p99_9Us) },
  {
    title: 'ms p50/99/99.9',
    isRightAligned: false,
    cell: (s) => `${s.latencyMs.p50}/${s.latencyMs.p99}/${s.latencyMs.p99_9}`,
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

function alignColumns(rows: readonly string[][], rightAligned: ReadonlySet<number>): string {
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

export function formatRatios(results: readonly ContenderResult[], of = 'fnshift'): string {
  const rows = computeRatios(results, of).map(({ over, ratio }) => [`${of} ÷ ${over}`, formatRatio(ratio)]);
  return alignColumns(rows, new Set([1]));
}

export function formatGoals(results: readonly ContenderResult[], of = 'fnshift'): string {
  const rows = evaluateGoals(results, of).map((g) => [
    `${of} ≥ ${g.minRatio}× ${g.over}`,
    formatRatio(g.ratio),
    g.status,
  ]);
  return alignColumns(rows, new Set([1]));
}

function formatRatio(ratio: number | null): string {
  return ratio === null ? 'n/a' : `${ratio.toFixed(2)}×`;
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

/** The JSON document written to --out; `schemaVersion` changes when a field changes meaning. */
export interface BenchReport {
  readonly schemaVersion: 1;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly machine: MachineInfo;
  readonly settings: BenchSettings;
  readonly contenders: readonly ContenderResult[];
  readonly ratios: readonly Ratio[];
  readonly goals: readonly GoalResult[];
}

export function createReport(fields: Omit<BenchReport, 'schemaVersion' | 'ratios' | 'goals'>): BenchReport {
  return {
    schemaVersion: 1,
    ...fields,
    ratios: computeRatios(fields.contenders),
    goals: evaluateGoals(fields.contenders),
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
    '',
    formatTable(report.contenders),
    '',
    'notes:',
    formatNotes(report.contenders),
    '',
    'ratios (median req/s):',
    indent(formatRatios(report.contenders)),
    '',
    'goals:',
    indent(formatGoals(report.contenders)),
  ].join('\n');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}
