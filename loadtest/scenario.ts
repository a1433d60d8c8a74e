// What a scenario is, and the context it runs in: fixtures, fnshift, the load, the admin sampler, all on
// one clock and all stopped when the scenario ends, however it ends.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { AdminClient } from './admin.ts';
import type { FixtureServerOptions } from './fixture-server.ts';
import { type FixtureHandle, startFixture } from './fixtures.ts';
import { type FnshiftConfig, type FnshiftHandle, startFnshift } from './fnshift-process.ts';
import { type LoadRunSummary, runLoad } from './generator.ts';
import {
  createSteadyProfile,
  createTrafficModel,
  type RateProfile,
  type TrafficModelOptions,
} from './model.ts';
import type { Completion, Recorder } from './recorder.ts';
import { isReferenceAvailable, type ReferenceProxy, startReferenceProxy } from './reference-proxy.ts';
import { type Sampler, startSampler } from './sampler.ts';

export interface ScenarioSettings {
  readonly isShort: boolean;
  readonly durationS: number;
  readonly rateRps: number;
  /** Whether --rate was given (the overhead scenario otherwise picks half of fnshift's saturation). */
  readonly isRateExplicit: boolean;
  readonly connections: number;
  readonly seed: number;
  readonly showProgress: boolean;
}

/** A number the summary leads with, and that --compare diffs against an earlier run. */
export interface HeadlineValue {
  readonly label: string;
  readonly value: number | null;
  readonly unit: string;
  /** Which direction is an improvement; absent for numbers that are neither (a chosen rate). */
  readonly better?: 'lower' | 'higher';
}

export interface ScenarioOutcome {
  readonly headline: Readonly<Record<string, HeadlineValue>>;
  /** Scenario-specific numbers, kept whole in the JSON. */
  readonly findings: Readonly<Record<string, unknown>>;
  /** Sentences for the summary: what to make of the numbers. */
  readonly notes: readonly string[];
  /** The route whose weight the split chart draws. */
  readonly mainRoute?: string;
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly durationS: { readonly full: number; readonly short: number };
  readonly rateRps: { readonly full: number; readonly short: number };
  run(context: ScenarioContext): Promise<ScenarioOutcome>;
}

export interface LoadOptions {
  readonly durationS: number;
  /** Absent: closed loop (as fast as the connections go). */
  readonly profile?: RateProfile;
  readonly title: string;
  readonly model?: Partial<TrafficModelOptions>;
  readonly connections?: number;
  /** Sees every response, for findings the recorder does not keep (the first fallback of a kind…). */
  readonly observe?: (completion: Completion) => void;
}

export interface ScenarioContext {
  readonly settings: ScenarioSettings;
  readonly recorder: Recorder;
  readonly workDir: string;
  /** The legacy app (12 ms lognormal by default) and the function (8 ms, with cold starts). */
  startLegacy(overrides?: Partial<FixtureServerOptions>): Promise<FixtureHandle>;
  startFunction(overrides?: Partial<FixtureServerOptions>): Promise<FixtureHandle>;
  startFnshift(config: FnshiftConfig): Promise<FnshiftHandle>;
  /** nginx as a plain reverse proxy in front of `upstreamUrl`; undefined when nginx is not installed. */
  startReference(upstreamUrl: string): Promise<ReferenceProxy | undefined>;
  /** Polls GET /routes for the whole run; its samples go into the result. */
  sample(admin: AdminClient, intervalMs?: number): Sampler;
  load(origin: string, options: LoadOptions): Promise<LoadRunSummary>;
  /**
   * A short load, as its own phase that no SLO or split check counts: fnshift's first requests pay for
   * JIT compilation and new upstream connections (hundreds of ms here), which is not its steady state.
   */
  warmUp(origin: string, durationS?: number): Promise<void>;
  log(line: string): void;
}

/** A BFF's logic call: ~12 ms median, p99 ≈ 38 ms (lognormal σ 0.5). */
export const legacyLatency = { medianMs: 12, sigma: 0.5 } as const;
/** A warm function: ~8 ms median, a wider tail, and now and then a cold start of 150–450 ms. */
export const functionLatency = { medianMs: 8, sigma: 0.6 } as const;
export const functionColdStart = { probability: 0.002, minMs: 150, maxMs: 450 } as const;

export interface ContextParts {
  readonly settings: ScenarioSettings;
  readonly recorder: Recorder;
  readonly workDir: string;
  readonly log: (line: string) => void;
}

export interface ScenarioRun {
  readonly context: ScenarioContext;
  readonly loadRuns: LoadRunSummary[];
  /** The traffic model of the last load (a scenario may turn feedback POSTs off). */
  model(): TrafficModelOptions | undefined;
  sampler(): Sampler | undefined;
  /** Stops the sampler, fnshift and the fixtures; safe to call twice. */
  close(): Promise<void>;
}

export function createScenarioRun(parts: ContextParts): ScenarioRun {
  const closers: (() => Promise<void>)[] = [];
  const loadRuns: LoadRunSummary[] = [];
  let sampler: Sampler | undefined;
  let lastModel: TrafficModelOptions | undefined;
  const { settings, recorder } = parts;
  const context: ScenarioContext = {
    settings,
    recorder,
    workDir: parts.workDir,
    log: parts.log,
    async startLegacy(overrides = {}) {
      const legacy = await startFixture({
        role: 'legacy',
        seed: settings.seed,
        latency: legacyLatency,
        ...overrides,
      });
      closers.push(() => legacy.stop());
      return legacy;
    },
    async startFunction(overrides = {}) {
      const fn = await startFixture({
        role: 'function',
        seed: settings.seed,
        latency: functionLatency,
        coldStart: functionColdStart,
        ...overrides,
      });
      closers.push(() => fn.stop());
      return fn;
    },
    async startFnshift(config) {
      const fnshift = await startFnshift(parts.workDir, config);
      closers.push(() => fnshift.stop());
      return fnshift;
    },
    async startReference(upstreamUrl) {
      if (!isReferenceAvailable()) return undefined;
      const dir = join(parts.workDir, 'nginx');
      mkdirSync(dir, { recursive: true });
      const reference = await startReferenceProxy(upstreamUrl, dir);
      closers.push(() => reference.stop());
      return reference;
    },
    sample(admin, intervalMs = settings.isShort ? 50 : 100) {
      sampler = startSampler(admin, recorder.now, intervalMs);
      const started = sampler;
      closers.push(() => started.stop());
      return started;
    },
    async load(origin, options) {
      const model = createTrafficModel({ seed: settings.seed, ...options.model });
      lastModel = model.options;
      const summary = await runLoad({
        origin,
        durationS: options.durationS,
        connections: options.connections ?? settings.connections,
        profile: options.profile,
        next: model.next,
        now: recorder.now,
        onCompletion: options.observe
          ? (completion) => {
              recorder.complete(completion);
              options.observe?.(completion);
            }
          : recorder.complete,
        onFailure: recorder.fail,
        showProgress: settings.showProgress,
        title: options.title,
      });
      recorder.end();
      loadRuns.push(summary);
      return summary;
    },
    async warmUp(origin, durationS = settings.isShort ? 0.5 : 2) {
      recorder.mark('warm-up', { countsForSlo: false });
      await context.load(origin, {
        durationS,
        profile: createSteadyProfile(settings.rateRps > 0 ? settings.rateRps : 200),
        title: 'warm-up',
      });
    },
  };
  let closing: Promise<void> | undefined;
  return {
    context,
    loadRuns,
    sampler: () => sampler,
    model: () => lastModel,
    close() {
      // Newest first: the sampler and fnshift go before the fixtures they talk to.
      closing ??= (async () => {
        for (const close of closers.reverse()) await close().catch(() => undefined);
      })();
      return closing;
    },
  };
}

/** Resolves when the run's clock reaches `atMs` (at once if it has). */
export function untilRunTime(recorder: Recorder, atMs: number): Promise<void> {
  const waitMs = atMs - recorder.now();
  return waitMs > 0 ? new Promise((resolve) => setTimeout(resolve, waitMs)) : Promise.resolve();
}
