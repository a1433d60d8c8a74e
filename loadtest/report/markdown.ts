// report.md: the run in a page of Markdown (headline, SLO, comparison, phases, targets, notes).
import type { LoadtestResult } from '../result.ts';
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

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const escapeCell = (cell: string) => cell.replaceAll('|', '\\|');
  return [
    `| ${header.map(escapeCell).join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(escapeCell).join(' | ')} |`),
  ].join('\n');
}

export function renderMarkdown(result: LoadtestResult): string {
  const lines: string[] = [
    `# ${result.scenario.title}`,
    '',
    result.scenario.description,
    '',
    `- **Run:** ${result.startedAt} → ${result.finishedAt}`,
    `- **Settings:** ${settingsLine(result)}`,
    `- **Machine:** ${machineLine(result)}`,
    '',
    '## Headline',
    '',
    table(
      ['measure', 'value'],
      Object.values(result.headline).map((h) => [h.label, formatHeadline(h)]),
    ),
    '',
    ...result.notes.map((note) => `- ${note}`),
    '',
    '## SLO',
    '',
    sloText(result),
    '',
  ];
  if (result.compare) lines.push(...compareSection(result), '');
  lines.push(
    '## Phases',
    '',
    'Latency is the service time (send to last byte); "corrected" counts from the intended send time, so a ' +
      'stall is not hidden (coordinated omission). function / fallback are shares of the responses.',
    '',
    table(phaseColumns, result.phases.map(phaseRow)),
    '',
    '## Per target',
    '',
    table(targetColumns, targetRows(result)),
    '',
    '## Findings',
    '',
    '```json',
    JSON.stringify(result.findings, null, 2),
    '```',
    '',
  );
  return lines.join('\n');
}

function sloText(result: LoadtestResult): string {
  const { thresholds, observed, breaches } = result.slo;
  const observedText =
    `observed p99 ${observed.p99Ms} ms from the intended send time (${observed.serviceP99Ms} ms service), ` +
    `error rate ${(observed.errorRate * 100).toFixed(3)}% over ${observed.requests} responses`;
  if (thresholds.p99Ms === undefined && thresholds.errorRate === undefined)
    return `No SLO set; ${observedText}.`;
  const set = [
    thresholds.p99Ms === undefined ? '' : `p99 ≤ ${thresholds.p99Ms} ms`,
    thresholds.errorRate === undefined ? '' : `error rate ≤ ${(thresholds.errorRate * 100).toFixed(3)}%`,
  ].filter(Boolean);
  return breaches.length === 0
    ? `**Met** (${set.join(', ')}): ${observedText}.`
    : `**BREACHED** (${set.join(', ')}): ${breaches.join('; ')}. The run exits with code 99.`;
}

function compareSection(result: LoadtestResult): string[] {
  const c = result.compare!;
  return [
    `## Compared with ${c.against.file} (${c.against.startedAt})`,
    '',
    ...c.warnings.map((w) => `> ${w}`),
    ...(c.warnings.length > 0 ? [''] : []),
    table(
      ['measure', 'before', 'now', 'change', 'verdict'],
      c.headline.map((d) => [
        d.label,
        formatValue(d.old, d.unit),
        formatValue(d.new, d.unit),
        formatDelta(d),
        d.verdict,
      ]),
    ),
    '',
    table(
      ['phase', 'p50 before → now', 'p99 before → now', 'error rate before → now', 'req/s before → now'],
      c.phases.map((p) => [
        p.name,
        `${formatValue(p.p50Us[0], 'µs')} → ${formatValue(p.p50Us[1], 'µs')}`,
        `${formatValue(p.p99Us[0], 'µs')} → ${formatValue(p.p99Us[1], 'µs')}`,
        `${(p.errorRate[0] * 100).toFixed(2)}% → ${(p.errorRate[1] * 100).toFixed(2)}%`,
        `${p.requestsPerSec[0]} → ${p.requestsPerSec[1]}`,
      ]),
    ),
  ];
}
