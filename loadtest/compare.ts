// --compare: this run's headline numbers and phases against an earlier run's results.json.
import { readFile } from 'node:fs/promises';
import { LoadtestError } from './errors.ts';
import type { LoadtestResult } from './result.ts';
import { isLoadtestResult } from './result.ts';
import { round } from './summary.ts';

/** Changes smaller than this are reported as "same": run-to-run noise on a shared machine is larger. */
const NOISE_PERCENT = 5;

export type Verdict = 'better' | 'worse' | 'same' | 'n/a';

export interface HeadlineDelta {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  readonly old: number | null;
  readonly new: number | null;
  readonly delta: number | null;
  readonly deltaPercent: number | null;
  readonly verdict: Verdict;
}

export interface PhaseDelta {
  readonly name: string;
  readonly p50Us: readonly [number, number];
  readonly p99Us: readonly [number, number];
  readonly errorRate: readonly [number, number];
  readonly requestsPerSec: readonly [number, number];
}

export interface Comparison {
  readonly against: { readonly file: string; readonly startedAt: string; readonly scenario: string };
  readonly headline: readonly HeadlineDelta[];
  readonly phases: readonly PhaseDelta[];
  readonly warnings: readonly string[];
}

export async function readResult(file: string): Promise<LoadtestResult> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new LoadtestError('FNSHIFT_LOADTEST_COMPARE', `cannot read ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!isLoadtestResult(parsed)) {
    throw new LoadtestError(
      'FNSHIFT_LOADTEST_COMPARE',
      `${file} is not a load-test results.json (schemaVersion 1)`,
    );
  }
  return parsed;
}

export function compareResults(current: LoadtestResult, old: LoadtestResult, file: string): Comparison {
  const warnings: string[] = [];
  if (old.scenario.name !== current.scenario.name) {
    warnings.push(`comparing scenario ${current.scenario.name} with a run of ${old.scenario.name}`);
  }
  if (old.settings.isShort !== current.settings.isShort)
    warnings.push('one run is --short and the other is not');
  if (old.settings.rateRps !== current.settings.rateRps) {
    warnings.push(`rates differ: ${old.settings.rateRps} then ${current.settings.rateRps} req/s`);
  }
  if (old.machine.cpuModel !== current.machine.cpuModel || old.machine.cores !== current.machine.cores) {
    warnings.push(
      `machines differ: ${old.machine.cpuModel} ×${old.machine.cores}, then ${current.machine.cpuModel} ×${current.machine.cores}`,
    );
  }
  const headline = Object.entries(current.headline).map(([key, now]): HeadlineDelta => {
    const before = old.headline[key]?.value ?? null;
    const after = now.value;
    const delta = before === null || after === null ? null : after - before;
    const deltaPercent =
      delta === null || before === 0 || before === null ? null : round((delta / Math.abs(before)) * 100, 1);
    return {
      key,
      label: now.label,
      unit: now.unit,
      old: before,
      new: after,
      delta,
      deltaPercent,
      verdict: verdictOf(now.better, delta, deltaPercent),
    };
  });
  const phases = current.phases.flatMap((phase): PhaseDelta[] => {
    const before = old.phases.find((p) => p.name === phase.name);
    if (!before) return [];
    return [
      {
        name: phase.name,
        p50Us: [before.latency.service.p50Us, phase.latency.service.p50Us],
        p99Us: [before.latency.service.p99Us, phase.latency.service.p99Us],
        errorRate: [before.errorRate, phase.errorRate],
        requestsPerSec: [before.requestsPerSec, phase.requestsPerSec],
      },
    ];
  });
  return {
    against: { file, startedAt: old.startedAt, scenario: old.scenario.name },
    headline,
    phases,
    warnings,
  };
}

function verdictOf(
  better: 'lower' | 'higher' | undefined,
  delta: number | null,
  deltaPercent: number | null,
): Verdict {
  if (better === undefined || delta === null) return 'n/a';
  if (delta === 0 || (deltaPercent !== null && Math.abs(deltaPercent) < NOISE_PERCENT)) return 'same';
  return delta < 0 === (better === 'lower') ? 'better' : 'worse';
}
