// Runs one scenario in --short mode into a temp dir and checks what every report must hold.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { LoadtestResult } from '../../loadtest/result.ts';
import { runScenario } from '../../loadtest/run.ts';
import { findScenario } from '../../loadtest/scenarios/index.ts';
import type { SloThresholds } from '../../loadtest/slo.ts';

export interface ShortRun {
  readonly result: LoadtestResult;
  readonly markdown: string;
  readonly html: string;
  /** The JSON as written, read back: what --compare and other tools see. */
  readonly written: LoadtestResult;
}

export async function runShort(t: TestContext, name: string, slo: SloThresholds = {}): Promise<ShortRun> {
  const dir = mkdtempSync(join(tmpdir(), `fnshift-loadtest-${name}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const scenario = findScenario(name);
  assert.ok(scenario, `scenario ${name} exists`);
  const { result, files } = await runScenario({
    scenario,
    isShort: true,
    connections: 32,
    seed: 7,
    slo,
    outDir: dir,
    showProgress: false,
    log: () => {},
  });
  const run = {
    result,
    markdown: readFileSync(files.markdown, 'utf8'),
    html: readFileSync(files.html, 'utf8'),
    written: JSON.parse(readFileSync(files.json, 'utf8')) as LoadtestResult,
  };
  assertReportStructure(run, name);
  return run;
}

export function assertReportStructure(run: ShortRun, name: string): void {
  const { result, written, markdown, html } = run;
  assert.equal(written.kind, 'fnshift-loadtest');
  assert.equal(written.schemaVersion, 1);
  assert.equal(written.scenario.name, name);
  assert.equal(written.settings.isShort, true);
  assert.equal(written.machine.node, process.version);
  assert.ok(Object.keys(written.headline).length > 0, 'a headline');
  assert.ok(written.phases.length >= 2, 'a warm-up and at least one measured phase');
  for (const phase of written.phases) {
    assert.equal(typeof phase.name, 'string');
    assert.ok(phase.endS >= phase.startS, `${phase.name} ends after it starts`);
    assert.ok(phase.latency.service.p99Us >= phase.latency.service.p50Us);
  }
  const measured = written.phases.filter((p) => p.countsForSlo);
  assert.ok(
    measured.reduce((n, p) => n + p.requests, 0) > 100,
    'the measured phases answered more than 100 requests',
  );
  assert.ok(written.timeline.length > 0 && written.timeline.every((b) => b !== null), 'a dense timeline');
  assert.equal(written.slo.observed.requests, result.slo.observed.requests);
  // The three reports: Markdown with the phase table, HTML with every chart rendered as inline SVG.
  assert.match(markdown, /^# /);
  assert.match(markdown, /\| phase \| from–to s \|/);
  assert.match(html, /^<!doctype html>/);
  assert.ok((html.match(/<svg /g) ?? []).length >= 3, 'at least three charts rendered as SVG');
  assert.doesNotMatch(html, /<script/i, 'the HTML report runs no script');
}

export function phase(result: LoadtestResult, name: string) {
  const found = result.phases.find((p) => p.name === name);
  assert.ok(found, `a phase named ${name}`);
  return found;
}
