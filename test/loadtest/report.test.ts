// The reports from a recorded run (no processes): summaries, the SLO verdict, --compare deltas, Markdown,
// and the HTML with its charts rendered to SVG without a browser.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareResults } from '../../loadtest/compare.ts';
import { defaultModelOptions } from '../../loadtest/model.ts';
import { createRecorder, type Outcome } from '../../loadtest/recorder.ts';
import { buildCharts } from '../../loadtest/report/charts.ts';
import { renderHtml } from '../../loadtest/report/html.ts';
import { renderMarkdown } from '../../loadtest/report/markdown.ts';
import { loadChartRenderer } from '../../loadtest/report/vega.ts';
import { buildResult, describeMachine, type LoadtestResult } from '../../loadtest/result.ts';
import type { Scenario } from '../../loadtest/scenario.ts';

const scenario: Scenario = {
  name: 'synthetic',
  title: 'Synthetic run',
  description: 'Recorded by hand.',
  durationS: { full: 1, short: 1 },
  rateRps: { full: 100, short: 100 },
  run: async () => assert.fail('not run'),
};

/** 1,000 responses per phase: half function (latency `fnMs`), half legacy, a few fallbacks and 5xx. */
function recordedResult(fnMs: number, slo = {}): LoadtestResult {
  const recorder = createRecorder({ binMs: 100 });
  for (const name of ['steady', 'shifted']) {
    recorder.mark(name);
    const at = recorder.now();
    for (let i = 0; i < 1000; i++) {
      const outcome: Outcome = i % 100 === 0 ? 'fallback' : i % 2 === 0 ? 'function' : 'legacy';
      const ms = outcome === 'function' ? fnMs : outcome === 'fallback' ? 40 : 10;
      const sentAtMs = at + i * 0.1;
      recorder.complete({
        intendedAtMs: sentAtMs,
        sentAtMs,
        doneAtMs: sentAtMs + ms * (1 + (i % 10) / 10),
        status: i % 500 === 1 ? 503 : 200,
        target: outcome === 'function' ? 'function' : 'legacy',
        fallback: outcome === 'fallback' ? 'timeout' : undefined,
        servedBy: outcome === 'function' ? 'function' : 'legacy',
        userId: `user-${i % 200}`,
        route: 'recommend',
      });
    }
    recorder.fail({ kind: 'connection', sentAtMs: at + 1 });
  }
  recorder.end();
  return buildResult({
    scenario,
    outcome: {
      headline: { fnP99: { label: 'function p99', value: fnMs * 1000, unit: 'µs', better: 'lower' } },
      findings: { fnMs },
      notes: ['a note'],
      mainRoute: 'recommend',
    },
    settings: {
      isShort: true,
      durationS: 1,
      rateRps: 100,
      isRateExplicit: false,
      connections: 1,
      seed: 1,
      showProgress: false,
    },
    model: defaultModelOptions,
    recorder,
    samples: [{ atMs: 0, weights: { recommend: 50 }, breakers: { recommend: 'closed' }, rollouts: {} }],
    sampleFailures: 0,
    loadRuns: [],
    startedAt: new Date(0).toISOString(),
    machine: describeMachine(),
    slo,
  });
}

test('summarises each phase per target, with fallbacks, errors and the user split', async () => {
  const result = recordedResult(20);
  const steady = result.phases[0]!;
  assert.equal(steady.requests, 1000);
  assert.equal(steady.outcomes.fallback?.count, 10);
  assert.equal(steady.outcomes.function?.count, 490);
  assert.deepEqual(steady.fallbackReasons, { timeout: 10 });
  assert.equal(steady.status5xx, 2);
  assert.equal(steady.errors.connection, 1);
  assert.equal(steady.errorRate, 3 / 1001);
  assert.ok(steady.outcomes.function!.service.p50Us >= 20_000);
  assert.ok(steady.outcomes.legacy!.service.p99Us < 20_000);
  // user-k is on the function when k is even (i % 2): every user stayed on one side, except the ones that
  // also had a fallback, which counts as decided for the function too.
  assert.equal(steady.users.both, 0);
  assert.equal(steady.users.distinct, 200);
});

test('breaches the SLO only when p99 or the error rate is over its ceiling', async () => {
  assert.equal(recordedResult(20, { p99Ms: 1000, errorRate: 0.01 }).slo.isBreached, false);
  const breached = recordedResult(20, { p99Ms: 5, errorRate: 0.001 }).slo;
  assert.equal(breached.isBreached, true);
  assert.equal(breached.breaches.length, 2);
});

test('compares headline numbers and phases with an earlier run, better or worse by direction', async () => {
  const before = recordedResult(20);
  const after = recordedResult(40);
  const comparison = compareResults(after, before, 'before.json');
  const delta = comparison.headline.find((d) => d.key === 'fnP99')!;
  assert.equal(delta.old, 20_000);
  assert.equal(delta.new, 40_000);
  assert.equal(delta.deltaPercent, 100);
  assert.equal(delta.verdict, 'worse');
  assert.equal(compareResults(before, after, 'after.json').headline[0]!.verdict, 'better');
  assert.deepEqual(
    comparison.phases.map((p) => p.name),
    ['steady', 'shifted'],
  );
  assert.ok(comparison.phases[0]!.p99Us[1] > comparison.phases[0]!.p99Us[0]);
  const markdown = renderMarkdown({ ...after, compare: comparison });
  assert.match(markdown, /## Compared with before\.json/);
  assert.match(markdown, /\| function p99 \| 20,000 µs \| 40,000 µs \| \+20,000 µs \(\+100%\) \| worse \|/);
});

test('renders every chart to inline SVG in a self-contained HTML page', { timeout: 20_000 }, async () => {
  const result = recordedResult(20);
  const charts = buildCharts(result);
  assert.deepEqual(
    charts.map((c) => c.id),
    ['latency', 'split', 'throughput', 'errors'],
  );
  const html = await renderHtml(result, await loadChartRenderer());
  assert.equal((html.match(/<svg /g) ?? []).length, 4);
  assert.match(html, /p99\.9/, 'the percentile axis is labelled');
  assert.doesNotMatch(html, /<script|src="http|href="http/, 'nothing to fetch, nothing to run');
  const withoutVega = await renderHtml(result, undefined);
  assert.match(withoutVega, /Charts need vega and vega-lite/);
  assert.match(withoutVega, /<td>steady<\/td>/, 'the tables are there without charts');
});
