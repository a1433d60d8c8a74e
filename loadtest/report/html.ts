// report.html: one self-contained file (inline CSS and SVG, no script, nothing fetched) with the charts.
import type { LoadtestResult } from '../result.ts';
import { buildCharts } from './charts.ts';
import {
  formatDelta,
  formatHeadline,
  formatValue,
  machineLine,
  phaseColumns,
  phaseRow,
  settingsLine,
  targetColumns,
  targetRows,
} from './format.ts';
import type { ChartRenderer } from './vega.ts';

const style = `
body { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1280px; color: #222; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ddd; }
p.meta { color: #555; font-size: 13px; margin: 2px 0; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: right; } th { background: #f5f5f5; }
td:first-child, th:first-child { text-align: left; }
.ok { color: #1b7f3b; font-weight: bold; } .bad { color: #b00020; font-weight: bold; }
figure { margin: 16px 0; } figcaption { font-size: 12px; color: #555; max-width: 1100px; }
pre { background: #f7f7f7; padding: 8px; font-size: 12px; overflow-x: auto; }
.better { color: #1b7f3b; } .worse { color: #b00020; }
`;

function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  classes?: (row: number) => string,
): string {
  const head = `<tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const body = rows
    .map(
      (row, i) =>
        `<tr class="${classes?.(i) ?? ''}">${row.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return `<table>${head}\n${body}</table>`;
}

/** Without a renderer (vega not installed) the report still has every table, and says why it has no charts. */
export async function renderHtml(
  result: LoadtestResult,
  renderer: ChartRenderer | undefined,
): Promise<string> {
  const charts = buildCharts(result);
  const figures: string[] = [];
  for (const chart of charts) {
    const svg = renderer
      ? await renderer.toSvg(chart.spec)
      : '<p class="bad">Charts need vega and vega-lite (npm install in a checkout of fnshift).</p>';
    figures.push(
      `<figure id="${chart.id}"><h3>${escapeHtml(chart.title)}</h3>${svg}<figcaption>${escapeHtml(chart.caption)}</figcaption></figure>`,
    );
  }
  const slo = result.slo;
  const sloSet = slo.thresholds.p99Ms !== undefined || slo.thresholds.errorRate !== undefined;
  const sloHtml = !sloSet
    ? `<p>No SLO set. Observed p99 ${slo.observed.p99Ms} ms from the intended send time, error rate ${(slo.observed.errorRate * 100).toFixed(3)}%.</p>`
    : slo.isBreached
      ? `<p class="bad">SLO BREACHED: ${escapeHtml(slo.breaches.join('; '))} (exit code 99)</p>`
      : `<p class="ok">SLO met: p99 ${slo.observed.p99Ms} ms, error rate ${(slo.observed.errorRate * 100).toFixed(3)}%.</p>`;
  const compare = result.compare
    ? `<h2>Compared with ${escapeHtml(result.compare.against.file)} (${escapeHtml(result.compare.against.startedAt)})</h2>
${result.compare.warnings.map((w) => `<p class="bad">${escapeHtml(w)}</p>`).join('\n')}
${table(
  ['measure', 'before', 'now', 'change', 'verdict'],
  result.compare.headline.map((d) => [
    d.label,
    formatValue(d.old, d.unit),
    formatValue(d.new, d.unit),
    formatDelta(d),
    d.verdict,
  ]),
  (i) => result.compare!.headline[i]!.verdict,
)}`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fnshift load test: ${escapeHtml(result.scenario.name)}</title>
<style>${style}</style></head>
<body>
<h1>${escapeHtml(result.scenario.title)}</h1>
<p>${escapeHtml(result.scenario.description)}</p>
<p class="meta">Run ${escapeHtml(result.startedAt)} → ${escapeHtml(result.finishedAt)}</p>
<p class="meta">Settings: ${escapeHtml(settingsLine(result))}</p>
<p class="meta">Machine: ${escapeHtml(machineLine(result))}</p>
<h2>Headline</h2>
${table(
  ['measure', 'value'],
  Object.values(result.headline).map((h) => [h.label, formatHeadline(h)]),
)}
<ul>${result.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>
<h2>SLO</h2>
${sloHtml}
${compare}
<h2>Charts</h2>
${figures.join('\n')}
<h2>Phases</h2>
<p class="meta">Service time is send to last byte; "corrected" counts from the intended send time (coordinated omission).</p>
${table(phaseColumns, result.phases.map(phaseRow))}
<h2>Per target</h2>
${table(targetColumns, targetRows(result))}
<h2>Findings</h2>
<pre>${escapeHtml(JSON.stringify(result.findings, null, 2))}</pre>
</body></html>
`;
}
