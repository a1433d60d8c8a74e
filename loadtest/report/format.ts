// Number formats shared by the Markdown and HTML reports, and the rows both tables are made of.
import type { Comparison } from '../compare.ts';
import type { LoadtestResult } from '../result.ts';
import type { HeadlineValue } from '../scenario.ts';
import type { PhaseSummary } from '../summary.ts';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

export function formatUs(us: number | null | undefined): string {
  if (us === null || us === undefined) return 'n/a';
  return `${integer.format(us)} µs`;
}

export function formatPercent(share: number | null | undefined, digits = 1): string {
  if (share === null || share === undefined) return 'n/a';
  return `${(share * 100).toFixed(digits)}%`;
}

export function formatValue(value: number | null, unit: string): string {
  if (value === null) return 'n/a';
  if (unit === 'µs') return formatUs(value);
  if (unit === '') return decimal.format(value);
  return `${decimal.format(value)} ${unit}`;
}

export function formatHeadline(h: HeadlineValue): string {
  return formatValue(h.value, h.unit);
}

export function formatDelta(delta: Comparison['headline'][number]): string {
  if (delta.delta === null) return 'n/a';
  const sign = delta.delta > 0 ? '+' : '';
  const percent = delta.deltaPercent === null ? '' : ` (${sign}${delta.deltaPercent}%)`;
  return `${sign}${formatValue(delta.delta, delta.unit)}${percent}`;
}

export const phaseColumns = [
  'phase',
  'from–to s',
  'responses',
  'req/s',
  'p50',
  'p99',
  'p99.9',
  'p99 corrected',
  'function',
  'fallback',
  'errors',
  '5xx',
] as const;

export function phaseRow(p: PhaseSummary): string[] {
  return [
    p.name,
    `${p.startS.toFixed(1)}–${p.endS.toFixed(1)}`,
    integer.format(p.requests),
    decimal.format(p.requestsPerSec),
    formatUs(p.latency.service.p50Us),
    formatUs(p.latency.service.p99Us),
    formatUs(p.latency.service.p99_9Us),
    formatUs(p.latency.corrected.p99Us),
    formatPercent(p.outcomes.function?.share ?? (p.functionShare === null ? null : 0)),
    formatPercent(p.outcomes.fallback?.share ?? (p.functionShare === null ? null : 0)),
    integer.format(p.errors.total),
    integer.format(p.status5xx),
  ];
}

export const targetColumns = [
  'phase',
  'target',
  'responses',
  'share',
  'p50',
  'p90',
  'p99',
  'p99.9',
  'max',
] as const;

export function targetRows(result: LoadtestResult): string[][] {
  return result.phases.flatMap((p) =>
    Object.entries(p.outcomes).flatMap(([outcome, s]) =>
      s
        ? [
            [
              p.name,
              outcome,
              integer.format(s.count),
              formatPercent(s.share),
              formatUs(s.service.p50Us),
              formatUs(s.service.p90Us),
              formatUs(s.service.p99Us),
              formatUs(s.service.p99_9Us),
              formatUs(s.service.maxUs),
            ],
          ]
        : [],
    ),
  );
}

export function machineLine(result: LoadtestResult): string {
  const m = result.machine;
  return (
    `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}; load average ` +
    `${m.loadAverage1mBefore} before, ${m.loadAverage1mAfter ?? '?'} after`
  );
}

export function settingsLine(result: LoadtestResult): string {
  const s = result.settings;
  const rate = s.rateRps > 0 ? `${s.rateRps} req/s open loop` : 'rate chosen by the scenario';
  return (
    `${s.isShort ? 'short mode, ' : ''}${s.durationS} s, ${rate}, ${s.connections} connections, seed ${s.seed}; ` +
    `${integer.format(s.model.users)} Zipf users (s = ${s.model.userExponent}), scenes ` +
    `${Object.entries(s.model.sceneMix)
      .map(([k, v]) => `${k} ${v}`)
      .join(' / ')}, feedback POSTs ${formatPercent(s.model.feedbackShare, 0)}`
  );
}
