// The JSON document of one run (results.json): settings, machine, phases, timeline, admin samples,
// the scenario's findings and the SLO verdict. `schemaVersion` changes when a field changes meaning.
import { availableParallelism, cpus, loadavg, release, totalmem, type } from 'node:os';
import type { Comparison } from './compare.ts';
import type { LoadRunSummary } from './generator.ts';
import type { TrafficModelOptions } from './model.ts';
import type { Recorder } from './recorder.ts';
import type { AdminSample } from './sampler.ts';
import type { HeadlineValue, Scenario, ScenarioOutcome, ScenarioSettings } from './scenario.ts';
import { evaluateSlo, type SloResult, type SloThresholds } from './slo.ts';
import { type PhaseSummary, round, summarizePhases, summarizeTimeline, type TimelineBin } from './summary.ts';

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  /** A busy machine explains odd numbers: the 1-minute load average before and after the run. */
  readonly loadAverage1mBefore: number;
  readonly loadAverage1mAfter?: number;
}

export interface LoadtestResult {
  readonly schemaVersion: 1;
  readonly kind: 'fnshift-loadtest';
  readonly scenario: { readonly name: string; readonly title: string; readonly description: string };
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly machine: MachineInfo;
  readonly settings: ScenarioSettings & {
    readonly model: TrafficModelOptions;
    readonly binS: number;
  };
  readonly headline: Readonly<Record<string, HeadlineValue>>;
  readonly findings: Readonly<Record<string, unknown>>;
  readonly notes: readonly string[];
  readonly mainRoute?: string;
  readonly phases: readonly PhaseSummary[];
  readonly timeline: readonly TimelineBin[];
  readonly events: readonly { readonly tS: number; readonly label: string }[];
  readonly admin: {
    readonly samples: readonly (Omit<AdminSample, 'atMs' | 'lastReloadAt'> & { readonly tS: number })[];
    readonly failures: number;
  };
  readonly loadRuns: readonly LoadRunSummary[];
  readonly slo: SloResult;
  readonly compare?: Comparison;
}

export function describeMachine(): MachineInfo {
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    os: `${type()} ${release()}`,
    node: process.version,
    loadAverage1mBefore: round(loadavg()[0] ?? 0, 2),
  };
}

export interface ResultParts {
  readonly scenario: Scenario;
  readonly outcome: ScenarioOutcome;
  readonly settings: ScenarioSettings;
  readonly model: TrafficModelOptions;
  readonly recorder: Recorder;
  readonly samples: readonly AdminSample[];
  readonly sampleFailures: number;
  readonly loadRuns: readonly LoadRunSummary[];
  readonly startedAt: string;
  readonly machine: MachineInfo;
  readonly slo: SloThresholds;
}

export function buildResult(parts: ResultParts): LoadtestResult {
  const { recorder, scenario, outcome } = parts;
  const endMs = recorder.endMs();
  const lastBin = Math.ceil(endMs / recorder.binMs);
  const toS = (ms: number) => round(ms / 1000, 3);
  return {
    schemaVersion: 1,
    kind: 'fnshift-loadtest',
    scenario: { name: scenario.name, title: scenario.title, description: scenario.description },
    startedAt: parts.startedAt,
    finishedAt: new Date().toISOString(),
    machine: { ...parts.machine, loadAverage1mAfter: round(loadavg()[0] ?? 0, 2) },
    settings: { ...parts.settings, model: parts.model, binS: recorder.binMs / 1000 },
    headline: outcome.headline,
    findings: outcome.findings,
    notes: outcome.notes,
    mainRoute: outcome.mainRoute,
    phases: summarizePhases(recorder),
    timeline: summarizeTimeline(recorder).slice(0, lastBin),
    events: recorder.events.map((e) => ({ tS: toS(e.atMs), label: e.label })),
    admin: {
      samples: parts.samples.map(({ atMs, lastReloadAt: _, ...rest }) => ({ tS: toS(atMs), ...rest })),
      failures: parts.sampleFailures,
    },
    loadRuns: parts.loadRuns,
    slo: evaluateSlo(recorder, parts.slo),
  };
}

export function isLoadtestResult(value: unknown): value is LoadtestResult {
  const v = value as Partial<LoadtestResult> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    v.kind === 'fnshift-loadtest' &&
    v.schemaVersion === 1 &&
    Array.isArray(v.phases) &&
    typeof v.headline === 'object'
  );
}
