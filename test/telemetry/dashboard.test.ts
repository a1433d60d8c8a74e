// The dashboard and the docs name only metrics that exist, and the docs name every one of fnshift's.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { parseExposition } from './prometheus-text.ts';

const root = new URL('../../', import.meta.url);
/** Grafana's import placeholder, literally. */
const DS_INPUT = `$${'{'}DS_PROMETHEUS}`;
const METRIC_NAME = /\b(?:fnshift|http|nodejs|process)_[a-z0-9_]+/g;

type Panel = {
  title?: string;
  datasource?: { uid?: string };
  targets?: Array<{ expr?: string }>;
  panels?: Panel[];
};

async function exposedNames(): Promise<Set<string>> {
  const metrics = createMetrics({
    snapshot: () =>
      ({
        config: { functions: {} },
        weights: new Map(),
        legacy: { pool: { totals: { opened: 0, closed: 0 } } },
        functions: {},
      }) as never,
    breakerState: () => undefined,
  });
  try {
    const exposition = parseExposition(await metrics.render());
    const names = new Set<string>();
    for (const [name, type] of exposition.types) {
      names.add(name);
      if (type === 'HISTOGRAM') for (const suffix of ['_bucket', '_count', '_sum']) names.add(name + suffix);
    }
    return names;
  } finally {
    metrics.stop();
  }
}

test('every dashboard query names existing metrics and uses the DS_PROMETHEUS input', async () => {
  const dashboard = JSON.parse(
    readFileSync(new URL('deploy/grafana/fnshift-dashboard.json', root), 'utf8'),
  ) as {
    __inputs: Array<{ name: string; pluginId: string }>;
    panels: Panel[];
  };
  assert.deepEqual(
    dashboard.__inputs.map((i) => [i.name, i.pluginId]),
    [['DS_PROMETHEUS', 'prometheus']],
  );
  const names = await exposedNames();
  const panels = dashboard.panels.filter((p) => p.targets);
  assert.ok(panels.length >= 12);
  for (const panel of panels) {
    assert.equal(panel.datasource?.uid, DS_INPUT, panel.title);
    for (const target of panel.targets!) {
      for (const name of target.expr!.match(METRIC_NAME) ?? [])
        assert.ok(names.has(name), `${panel.title}: ${name}`);
    }
  }
});

test('docs/observability.md lists every fnshift metric and names no other', async () => {
  const docs = readFileSync(new URL('docs/observability.md', root), 'utf8');
  const names = await exposedNames();
  const own = [...names].filter((n) => /^(fnshift|http)_/.test(n) && !/_(bucket|count|sum)$/.test(n));
  for (const name of own) assert.ok(docs.includes(`\`${name}\``), `${name} is not documented`);
  for (const name of docs.match(/\b(?:fnshift|http)_[a-z0-9_]+_[a-z0-9_]+/g) ?? []) {
    assert.ok(names.has(name), `the docs name ${name}, which fnshift does not export`);
  }
});
