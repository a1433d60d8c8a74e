// The verdict of one rollout interval: pass, fail or inconclusive (too few requests to tell), with why.
import type { RolloutConfig } from '../config/schema.ts';
import type { WindowStats } from './window.ts';

export type Verdict = { result: 'pass' | 'fail' | 'inconclusive'; detail: string };

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

export function evaluateGates(config: RolloutConfig, stats: WindowStats): Verdict {
  if (stats.functionRequests < config.minRequests) {
    return {
      result: 'inconclusive',
      detail: `${stats.functionRequests} function requests < minRequests ${config.minRequests}`,
    };
  }
  const failures: string[] = [];
  if (stats.functionSuccessPercent < config.minSuccessPercent) {
    failures.push(`success ${fmt(stats.functionSuccessPercent)}% < ${config.minSuccessPercent}%`);
  }
  const p99 = stats.functionP99Ms;
  if (config.maxP99Ms !== undefined && p99 !== undefined && p99 > config.maxP99Ms) {
    failures.push(`p99 ${fmt(p99)} ms > ${config.maxP99Ms} ms`);
  }
  if (config.maxP99VsLegacy !== undefined && p99 !== undefined && stats.legacyP99Ms !== undefined) {
    const ceiling = stats.legacyP99Ms * config.maxP99VsLegacy;
    if (p99 > ceiling)
      failures.push(
        `p99 ${fmt(p99)} ms > ${config.maxP99VsLegacy} × legacy p99 ${fmt(stats.legacyP99Ms)} ms`,
      );
  }
  if (failures.length > 0) return { result: 'fail', detail: failures.join('; ') };
  return {
    result: 'pass',
    detail: `${stats.functionRequests} requests, success ${fmt(stats.functionSuccessPercent)}%, p99 ${p99 === undefined ? '-' : `${fmt(p99)} ms`}`,
  };
}

/** The weights a rollout walks through (Flagger: stepWeights, or stepWeight up to maxWeight). */
export function stepsOf(config: RolloutConfig): number[] {
  if (config.steps) return config.steps.filter((w) => w <= config.maxWeight);
  const out: number[] = [];
  const step = config.stepWeight!;
  for (let w = step; w < config.maxWeight; w = Math.round((w + step) * 100) / 100) out.push(w);
  out.push(config.maxWeight);
  return out;
}
