// The machine's stalls: busy loops that read the clock and count the gaps (host preemption, interrupts, other
// tasks). On the shared 2-vCPU VM each vCPU lost 8–9% of its wall time in gaps ≥ 50 µs, with 10–15 gaps/s of
// 1–4 ms and ~3/s of 4–11 ms, idle: a floor under any p99 measured here, so results report it next to them.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { describeError, LoadtestError } from './errors.ts';

/** A gap between two clock reads at least this long counts as a stall; shorter ones are the loop itself. */
export const STALL_THRESHOLD_MS = 0.05;
export const MIN_PROBE_DURATION_MS = 50;
export const MAX_PROBE_DURATION_MS = 10_000;
/** Past the busy loop's own time: the threads' start (a TypeScript module each) on a loaded machine. */
const START_ALLOWANCE_MS = 10_000;
const WORKER_URL = new URL('./stall-worker.ts', import.meta.url);

/** What one busy-loop thread saw; the kernel keeps such a thread on one core most of the time. */
export interface CoreStalls {
  /** The share of the loop's wall time spent in stalls ≥ STALL_THRESHOLD_MS, percent, two decimals. */
  readonly lostPercent: number;
  /** Stalls per second of wall time, one decimal. */
  readonly stallsPerS: { readonly atLeast1Ms: number; readonly atLeast4Ms: number };
  /** The longest stall, ms, two decimals; 0 when there was none. */
  readonly longestMs: number;
}

export interface MachineStalls {
  /** How long every thread busy-looped, all at once, ms. */
  readonly durationMs: number;
  readonly thresholdMs: number;
  /** availableParallelism() when probed. */
  readonly cores: number;
  /** One per busy-loop thread, in start order. */
  readonly threads: readonly CoreStalls[];
  /** Each figure's maximum over the threads, taken on its own (they may come from different threads). */
  readonly worst: CoreStalls;
}

export interface ProbeOptions {
  readonly durationMs: number;
  /** Busy-loop threads, at most one per core (default: one per core). */
  readonly threads?: number;
}

/** The gaps ≥ STALL_THRESHOLD_MS between consecutive reads of `nowMs` while busy-looping for durationMs. */
export function measureGaps(
  durationMs: number,
  nowMs: () => number = () => performance.now(),
): { gapsMs: number[]; wallMs: number } {
  const gapsMs: number[] = [];
  const startMs = nowMs();
  const endMs = startMs + durationMs;
  let lastMs = startMs;
  for (;;) {
    const atMs = nowMs();
    const gapMs = atMs - lastMs;
    lastMs = atMs;
    if (gapMs >= STALL_THRESHOLD_MS) gapsMs.push(gapMs);
    if (atMs >= endMs) return { gapsMs, wallMs: atMs - startMs };
  }
}

/** Gaps shorter than STALL_THRESHOLD_MS are ignored; wallMs is the loop's whole time, ms. */
export function summarizeGaps(gapsMs: readonly number[], wallMs: number): CoreStalls {
  if (!(wallMs > 0) || !Number.isFinite(wallMs)) {
    throw new LoadtestError('FNSHIFT_LOADTEST_STALL_PROBE', `wall time must be above 0 ms, got ${wallMs}`);
  }
  const stalls = gapsMs.filter((g) => g >= STALL_THRESHOLD_MS);
  const perS = (count: number) => round(count / (wallMs / 1000), 1);
  return {
    lostPercent: round((stalls.reduce((sum, g) => sum + g, 0) / wallMs) * 100, 2),
    stallsPerS: {
      atLeast1Ms: perS(stalls.filter((g) => g >= 1).length),
      atLeast4Ms: perS(stalls.filter((g) => g >= 4).length),
    },
    longestMs: round(Math.max(0, ...stalls), 2),
  };
}

function round(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

/** A probe's figures, or why it could not measure: a report goes on without them. */
export type StallProbeOutcome = MachineStalls | { readonly error: string };

/** probeStalls for a report: never throws, a failure becomes the outcome's error. */
export async function probeStallsForReport(options: ProbeOptions): Promise<StallProbeOutcome> {
  try {
    return await probeStalls(options);
  } catch (error) {
    return { error: describeError(error) };
  }
}

/** Busy-loops `threads` worker threads at once for durationMs; every thread is gone when this settles. */
export async function probeStalls(options: ProbeOptions): Promise<MachineStalls> {
  const cores = availableParallelism();
  const { durationMs, threads } = validate(options, cores);
  const workers = Array.from(
    { length: threads },
    () => new Worker(WORKER_URL, { workerData: { durationMs } }),
  );
  try {
    const perThread = await runThreads(workers, durationMs + START_ALLOWANCE_MS);
    return {
      durationMs,
      thresholdMs: STALL_THRESHOLD_MS,
      cores,
      threads: perThread,
      worst: worstOf(perThread),
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** More busy loops than cores would measure the probe preempting itself, not the machine. */
function validate(options: ProbeOptions, cores: number): { durationMs: number; threads: number } {
  const { durationMs, threads = cores } = options;
  if (
    typeof durationMs !== 'number' ||
    !(durationMs >= MIN_PROBE_DURATION_MS && durationMs <= MAX_PROBE_DURATION_MS)
  ) {
    throw new LoadtestError(
      'FNSHIFT_LOADTEST_STALL_PROBE',
      `durationMs must be from ${MIN_PROBE_DURATION_MS} to ${MAX_PROBE_DURATION_MS}, got ${String(durationMs)}`,
    );
  }
  if (!Number.isInteger(threads) || threads < 1 || threads > cores) {
    throw new LoadtestError(
      'FNSHIFT_LOADTEST_STALL_PROBE',
      `threads must be an integer from 1 to ${cores} (the cores), got ${String(threads)}`,
    );
  }
  return { durationMs, threads };
}

/** Each thread says it is ready; all start together on 'go', so their loops overlap. */
function runThreads(workers: readonly Worker[], deadlineMs: number): Promise<CoreStalls[]> {
  return new Promise((resolve, reject) => {
    const results: CoreStalls[] = [];
    let readyCount = 0;
    let doneCount = 0;
    const fail = (message: string, cause?: unknown) => {
      clearTimeout(timer);
      reject(new LoadtestError('FNSHIFT_LOADTEST_STALL_PROBE', message, { cause }));
    };
    const timer = setTimeout(() => fail(`no result from every thread in ${deadlineMs} ms`), deadlineMs);
    workers.forEach((worker, i) => {
      // Listeners stay until terminate(): a late 'error' without one would crash the process.
      worker.on('error', (error) => fail(`thread ${i} failed: ${error.message}`, error));
      worker.on('exit', (code) => {
        if (results[i] === undefined) fail(`thread ${i} exited with code ${code} before its result`);
      });
      worker.on('message', (message: 'ready' | CoreStalls) => {
        if (message === 'ready') {
          if (++readyCount === workers.length) for (const w of workers) w.postMessage('go');
          return;
        }
        results[i] = message;
        if (++doneCount === workers.length) {
          clearTimeout(timer);
          resolve(results);
        }
      });
    });
  });
}

function worstOf(threads: readonly CoreStalls[]): CoreStalls {
  const max = (pick: (s: CoreStalls) => number) => Math.max(...threads.map(pick));
  return {
    lostPercent: max((s) => s.lostPercent),
    stallsPerS: {
      atLeast1Ms: max((s) => s.stallsPerS.atLeast1Ms),
      atLeast4Ms: max((s) => s.stallsPerS.atLeast4Ms),
    },
    longestMs: max((s) => s.longestMs),
  };
}

const figure = new Intl.NumberFormat('en-US', {
  maximumFractionDigits: 1,
  maximumSignificantDigits: 2,
  roundingPriority: 'morePrecision',
});
const list = new Intl.ListFormat('en-US', { type: 'conjunction' });

/** One sentence for a report; `when` starts it ("Before the rounds"). */
export function describeStalls(stalls: MachineStalls, when?: string): string {
  const each = (pick: (s: CoreStalls) => number, unit = '') =>
    list.format(stalls.threads.map((s) => `${figure.format(pick(s))}${unit}`));
  const loop = `a busy loop ${where(stalls.threads.length, stalls.cores)}`;
  const subject = when === undefined ? loop.replace(/^a/, 'A') : `${when}, ${loop}`;
  return (
    `${subject} lost ${each((s) => s.lostPercent, '%')} of ${formatDuration(stalls.durationMs)} ` +
    `to stalls ≥ ${stalls.thresholdMs * 1000} µs (host preemption, interrupts, other tasks): ` +
    `${each((s) => s.stallsPerS.atLeast1Ms)} stalls/s of ≥ 1 ms, ${each((s) => s.stallsPerS.atLeast4Ms)}/s of ≥ 4 ms, ` +
    `the longest ${figure.format(stalls.worst.longestMs)} ms. ` +
    'A latency tail up to that long can come from the machine rather than the code measured.'
  );
}

function where(threads: number, cores: number): string {
  if (threads === cores) return cores === 1 ? 'on the one core' : `on each of the ${cores} cores`;
  return threads === 1 ? `on 1 of the ${cores} cores` : `on each of ${threads} of the ${cores} cores`;
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${figure.format(ms)} ms` : `${figure.format(ms / 1000)} s`;
}

/** describeStalls, or the probe's error in its place. */
export function describeStallOutcome(outcome: StallProbeOutcome, when: string): string {
  return 'error' in outcome
    ? `${when}, the stall probe could not measure: ${outcome.error}`
    : describeStalls(outcome, when);
}
