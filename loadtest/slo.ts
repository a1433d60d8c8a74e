// Service-level objectives of a run: a p99 ceiling and an error-rate ceiling; a breach exits with 99.
import type { Recorder } from './recorder.ts';
import { mergeOutcome, round } from './summary.ts';

/** The exit code of a run whose SLO was breached, apart from 1 (the run itself failed) and 2 (usage). */
export const SLO_BREACHED_EXIT_CODE = 99;

export interface SloThresholds {
  readonly p99Ms?: number;
  /** A fraction: 0.01 is 1%. */
  readonly errorRate?: number;
}

export interface SloResult {
  readonly thresholds: SloThresholds;
  readonly observed: {
    readonly requests: number;
    /** From the intended send time: a stall of the system under test is counted, not hidden. */
    readonly p99Ms: number;
    readonly serviceP99Ms: number;
    readonly errorRate: number;
  };
  readonly breaches: readonly string[];
  readonly isBreached: boolean;
}

/** Over the phases that count (not a saturation probe): every request, every error. */
export function evaluateSlo(recorder: Recorder, thresholds: SloThresholds): SloResult {
  const phases = recorder.phases.filter((p) => p.countsForSlo);
  const corrected = mergeOutcome(phases, 'all', 'corrected').summary();
  const service = mergeOutcome(phases, 'all', 'service').summary();
  const requests = phases.reduce((n, p) => n + p.requests, 0);
  const failed = phases.reduce(
    (n, p) => n + p.errors.connection + p.errors.timeout + p.errors.reset + (p.statuses['5xx'] ?? 0),
    0,
  );
  const attempts =
    requests + phases.reduce((n, p) => n + p.errors.connection + p.errors.timeout + p.errors.reset, 0);
  const observed = {
    requests,
    p99Ms: round(corrected.p99Us / 1000, 3),
    serviceP99Ms: round(service.p99Us / 1000, 3),
    errorRate: attempts === 0 ? 0 : round(failed / attempts, 6),
  };
  const breaches: string[] = [];
  if (thresholds.p99Ms !== undefined && observed.p99Ms > thresholds.p99Ms) {
    breaches.push(`p99 ${observed.p99Ms} ms > ${thresholds.p99Ms} ms`);
  }
  if (thresholds.errorRate !== undefined && observed.errorRate > thresholds.errorRate) {
    breaches.push(
      `error rate ${(observed.errorRate * 100).toFixed(3)}% > ${(thresholds.errorRate * 100).toFixed(3)}%`,
    );
  }
  return { thresholds, observed, breaches, isBreached: breaches.length > 0 };
}
