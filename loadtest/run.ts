// Runs one scenario end to end: a private temp dir, the scenario, every child stopped, and the three
// reports (results.json, report.md, report.html) written to the output directory.
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareResults, readResult } from './compare.ts';
import { createTrafficModel } from './model.ts';
import { createRecorder } from './recorder.ts';
import { renderHtml } from './report/html.ts';
import { renderMarkdown } from './report/markdown.ts';
import { loadChartRenderer } from './report/vega.ts';
import { buildResult, describeMachine, type LoadtestResult } from './result.ts';
import { createScenarioRun, type Scenario, type ScenarioSettings } from './scenario.ts';
import type { SloThresholds } from './slo.ts';

const reportsRoot = fileURLToPath(new URL('./reports/', import.meta.url));

export interface RunRequest {
  readonly scenario: Scenario;
  readonly isShort: boolean;
  readonly rateRps?: number;
  readonly durationS?: number;
  readonly connections: number;
  readonly seed: number;
  readonly slo: SloThresholds;
  readonly outDir?: string;
  readonly comparePath?: string;
  readonly showProgress: boolean;
  readonly log: (line: string) => void;
}

export interface RunOutput {
  readonly result: LoadtestResult;
  readonly files: { readonly json: string; readonly markdown: string; readonly html: string };
}

export function resolveSettings(request: RunRequest): ScenarioSettings {
  const { scenario, isShort } = request;
  const durationS = request.durationS ?? (isShort ? scenario.durationS.short : scenario.durationS.full);
  return Object.freeze({
    isShort,
    durationS,
    rateRps: request.rateRps ?? (isShort ? scenario.rateRps.short : scenario.rateRps.full),
    isRateExplicit: request.rateRps !== undefined,
    connections: request.connections,
    seed: request.seed,
    showProgress: request.showProgress,
  });
}

export async function runScenario(request: RunRequest): Promise<RunOutput> {
  const settings = resolveSettings(request);
  const startedAt = new Date().toISOString();
  const machine = describeMachine();
  // Bins fine enough for a short run's chart, coarse enough that each holds a few hundred responses.
  const recorder = createRecorder({ binMs: settings.durationS <= 10 ? 250 : 1000 });
  const workDir = await mkdtemp(join(tmpdir(), `fnshift-loadtest-${request.scenario.name}-`));
  const run = createScenarioRun({ settings, recorder, workDir, log: request.log });
  request.log(`${request.scenario.name}: ${request.scenario.title} (${settings.durationS} s)`);
  let result: LoadtestResult;
  try {
    const outcome = await request.scenario.run(run.context);
    await run.close();
    result = buildResult({
      scenario: request.scenario,
      outcome,
      settings,
      model: run.model() ?? createTrafficModel({ seed: settings.seed }).options,
      recorder,
      samples: run.sampler()?.samples ?? [],
      sampleFailures: run.sampler()?.failures ?? 0,
      loadRuns: run.loadRuns,
      startedAt,
      machine,
      slo: request.slo,
    });
  } finally {
    await run.close();
    await rm(workDir, { recursive: true, force: true });
  }
  if (request.comparePath) {
    const file = await compareFile(request.comparePath, request.scenario.name);
    result = { ...result, compare: compareResults(result, await readResult(file), file) };
  }
  const outDir = resolve(
    request.outDir ??
      join(reportsRoot, `${startedAt.replaceAll(':', '-').slice(0, 19)}-${request.scenario.name}`),
  );
  return { result, files: await writeReports(result, outDir) };
}

/** A file, or a directory holding <scenario>/results.json or results.json (a `--scenario all` output). */
async function compareFile(path: string, scenario: string): Promise<string> {
  const info = await stat(path).catch(() => undefined);
  if (!info?.isDirectory()) return path;
  const nested = join(path, scenario, 'results.json');
  return (await stat(nested).catch(() => undefined)) ? nested : join(path, 'results.json');
}

export async function writeReports(result: LoadtestResult, outDir: string): Promise<RunOutput['files']> {
  await mkdir(outDir, { recursive: true });
  const files = {
    json: join(outDir, 'results.json'),
    markdown: join(outDir, 'report.md'),
    html: join(outDir, 'report.html'),
  };
  await writeFile(files.json, `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(files.markdown, renderMarkdown(result));
  await writeFile(files.html, await renderHtml(result, await loadChartRenderer()));
  return files;
}
