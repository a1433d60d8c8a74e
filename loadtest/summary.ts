// Turns what the recorder counted into plain numbers: per phase, per target, per time bin.
import { createHistogram, type LatencySummary, type UsHistogram } from './histogram.ts';
import { type Bin, type Outcome, outcomes, type PhaseStats, type Recorder } from './recorder.ts';

export interface OutcomeSummary {
  readonly count: number;
  /** Of the phase's responses. */
  readonly share: number;
  readonly service: LatencySummary;
  readonly corrected: LatencySummary;
  readonly spectrum: readonly { readonly percentile: number; readonly us: number }[];
  /** Service latency, HdrHistogram compressed base64 (µs), for later merges. */
  readonly histogramUs: string;
}

export interface UserSplit {
  /** Users with at least one answered request in the phase. */
  readonly distinct: number;
  /** Users fnshift decided for the function (answered by it, or by legacy after a fallback). */
  readonly function: number;
  readonly legacy: number;
  /** Users seen on both sides: a weight change within the phase, or a broken sticky key. */
  readonly both: number;
  /** function ÷ (function + legacy), users on both sides left out. */
  readonly functionShare: number | null;
}

export interface PhaseSummary {
  readonly name: string;
  readonly startS: number;
  readonly endS: number;
  readonly countsForSlo: boolean;
  readonly requests: number;
  readonly requestsPerSec: number;
  readonly statuses: Readonly<Record<string, number>>;
  readonly status5xx: number;
  readonly non2xx: number;
  readonly errors: {
    readonly connection: number;
    readonly timeout: number;
    readonly reset: number;
    readonly total: number;
  };
  /** (errors + 5xx) ÷ attempts: what a client would count as failed. */
  readonly errorRate: number;
  readonly latency: { readonly service: LatencySummary; readonly corrected: LatencySummary };
  readonly outcomes: Readonly<Partial<Record<Outcome, OutcomeSummary>>>;
  /** Of the requests fnshift sent to the function or fell back from it. */
  readonly functionShare: number | null;
  readonly fallbackReasons: Readonly<Record<string, number>>;
  readonly routes: Readonly<Record<string, Readonly<Partial<Record<Outcome, number>>>>>;
  readonly users: UserSplit;
  readonly servedByMismatches: number;
}

export interface TimelineBin {
  readonly tS: number;
  readonly requestsPerSec: number;
  readonly function: number;
  readonly legacy: number;
  readonly fallback: number;
  readonly direct: number;
  readonly errors: number;
  readonly status5xx: number;
  readonly otherNon2xx: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

export function summarizePhases(recorder: Recorder): PhaseSummary[] {
  const endMs = recorder.endMs();
  return recorder.phases.map((phase, i) => {
    const next = recorder.phases[i + 1];
    return summarizePhase(phase, next ? next.startMs : endMs);
  });
}

export function summarizePhase(phase: PhaseStats, endMs: number): PhaseSummary {
  const durationS = Math.max((endMs - phase.startMs) / 1000, 1e-3);
  const errors = {
    ...phase.errors,
    total: phase.errors.connection + phase.errors.timeout + phase.errors.reset,
  };
  const status5xx = phase.statuses['5xx'] ?? 0;
  const attempts = phase.requests + errors.total;
  const outcomeSummaries: Partial<Record<Outcome, OutcomeSummary>> = {};
  for (const outcome of outcomes) {
    const tally = phase.outcomes[outcome];
    if (!tally || tally.count === 0) continue;
    outcomeSummaries[outcome] = {
      count: tally.count,
      share: tally.count / Math.max(phase.requests, 1),
      service: tally.service.summary(),
      corrected: tally.corrected.summary(),
      spectrum: tally.service.spectrum(),
      histogramUs: tally.service.encode(),
    };
  }
  const toFunction = (phase.outcomes.function?.count ?? 0) + (phase.outcomes.fallback?.count ?? 0);
  const toEither = toFunction + (phase.outcomes.legacy?.count ?? 0);
  return {
    name: phase.name,
    startS: round(phase.startMs / 1000, 3),
    endS: round(endMs / 1000, 3),
    countsForSlo: phase.countsForSlo,
    requests: phase.requests,
    requestsPerSec: round(phase.requests / durationS, 1),
    statuses: { ...phase.statuses },
    status5xx,
    non2xx: phase.requests - (phase.statuses['2xx'] ?? 0),
    errors,
    errorRate: attempts === 0 ? 0 : (errors.total + status5xx) / attempts,
    latency: { service: phase.all.service.summary(), corrected: phase.all.corrected.summary() },
    outcomes: outcomeSummaries,
    functionShare: toEither === 0 ? null : toFunction / toEither,
    fallbackReasons: { ...phase.fallbackReasons },
    routes: structuredClone(phase.routes) as PhaseSummary['routes'],
    users: userSplit(phase.users),
    servedByMismatches: phase.servedByMismatches,
  };
}

function userSplit(users: ReadonlyMap<string, number>): UserSplit {
  let fn = 0;
  let legacy = 0;
  let both = 0;
  for (const sides of users.values()) {
    if (sides === 3) both++;
    else if (sides === 1) fn++;
    else legacy++;
  }
  return {
    distinct: users.size,
    function: fn,
    legacy,
    both,
    functionShare: fn + legacy === 0 ? null : fn / (fn + legacy),
  };
}

export function summarizeTimeline(recorder: Recorder): TimelineBin[] {
  const binS = recorder.binMs / 1000;
  const bins = recorder.bins();
  // Array.from, not bins.map: map skips the holes of a sparse array (bins before the first response).
  return Array.from({ length: bins.length }, (_, i): TimelineBin => {
    const bin: Bin | undefined = bins[i];
    return {
      tS: round(i * binS, 3),
      requestsPerSec: round((bin?.requests ?? 0) / binS, 1),
      function: bin?.outcomes.function ?? 0,
      legacy: bin?.outcomes.legacy ?? 0,
      fallback: bin?.outcomes.fallback ?? 0,
      direct: bin?.outcomes.direct ?? 0,
      errors: bin?.errors ?? 0,
      status5xx: bin?.status5xx ?? 0,
      otherNon2xx: bin?.otherNon2xx ?? 0,
      p50Us: bin && bin.requests > 0 ? bin.service.summary().p50Us : 0,
      p99Us: bin && bin.requests > 0 ? bin.service.summary().p99Us : 0,
    };
  });
}

/** The phases' histograms added up: a tail over every request, not a median of tails. */
export function mergeOutcome(
  phases: readonly PhaseStats[],
  outcome: Outcome | 'all',
  kind: 'service' | 'corrected' = 'service',
): UsHistogram {
  const merged = createHistogram();
  for (const phase of phases) {
    const tally = outcome === 'all' ? phase.all : phase.outcomes[outcome];
    if (tally) merged.add(tally[kind]);
  }
  return merged;
}

export function round(value: number, digits = 0): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
