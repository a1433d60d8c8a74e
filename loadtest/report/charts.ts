// The report's charts as Vega-Lite specs: latency by percentile per target, the split over time against the
// weight in force, and throughput, p99 and errors over time. Pure data in, specs out.
import type { LoadtestResult } from '../result.ts';

export interface Chart {
  readonly id: string;
  readonly title: string;
  readonly caption: string;
  readonly spec: Record<string, unknown>;
}

const WIDTH = 960;
const HEIGHT = 260;
/** A phase with fewer responses of a target than this draws no line for it: its p99.9 would be noise. */
const MIN_SERIES_COUNT = 50;
const outcomeColors = { function: '#2a9d8f', legacy: '#457b9d', fallback: '#e76f51', direct: '#6c757d' };

const base = {
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  width: WIDTH,
  height: HEIGHT,
  background: 'white',
  config: {
    font: 'DejaVu Sans, Helvetica, Arial, sans-serif',
    axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridColor: '#eee' },
    legend: { labelFontSize: 11, titleFontSize: 12, orient: 'right', labelLimit: 260 },
    view: { stroke: '#ddd' },
  },
};

export function buildCharts(result: LoadtestResult): Chart[] {
  const charts = [latencySpectrum(result)];
  // A split is worth drawing when something moved: the function answered, or a weight was sampled.
  const hasSplit =
    result.timeline.some((b) => b.function + b.fallback > 0) || result.admin.samples.length > 0;
  if (hasSplit) charts.push(splitOverTime(result));
  charts.push(throughputOverTime(result), errorsOverTime(result));
  return charts;
}

/** x is the number of nines (p90 = 1, p99 = 2…), so the tail gets as much room as the middle. */
function latencySpectrum(result: LoadtestResult): Chart {
  const values = result.phases.flatMap((phase) =>
    Object.entries(phase.outcomes).flatMap(([outcome, summary]) =>
      !summary || summary.count < MIN_SERIES_COUNT || !phase.countsForSlo
        ? []
        : summary.spectrum.map((point) => ({
            series: `${phase.name} · ${outcome}`,
            outcome,
            nines: -Math.log10(1 - point.percentile / 100),
            percentile: `p${point.percentile}`,
            ms: Math.max(point.us / 1000, 0.001),
          })),
    ),
  );
  return {
    id: 'latency',
    title: 'Latency by percentile, per phase and target',
    caption:
      'Service time of each response (send to last byte), from our µs HDR histograms. Left is the median, right ' +
      'the tail; the y axis is logarithmic. Solid lines: function (or direct); dashed: legacy; dotted: fallbacks.',
    spec: {
      ...base,
      data: { values },
      mark: { type: 'line', point: true, strokeWidth: 2 },
      encoding: {
        x: {
          field: 'nines',
          type: 'quantitative',
          title: 'percentile',
          scale: { domain: [0, 4] },
          axis: {
            values: [0.30103, 1, 1.30103, 2, 2.30103, 3, 4],
            labelExpr:
              "datum.value < 0.5 ? 'p50' : datum.value < 1.1 ? 'p90' : datum.value < 1.5 ? 'p95' : " +
              "datum.value < 2.1 ? 'p99' : datum.value < 2.5 ? 'p99.5' : datum.value < 3.1 ? 'p99.9' : 'p99.99'",
          },
        },
        y: { field: 'ms', type: 'quantitative', title: 'latency (ms, log scale)', scale: { type: 'log' } },
        color: { field: 'series', type: 'nominal', title: 'phase · target' },
        strokeDash: {
          field: 'outcome',
          type: 'nominal',
          title: 'target',
          // The series names already say the target; the dash pattern needs no legend of its own.
          legend: null,
          scale: {
            domain: ['function', 'legacy', 'fallback', 'direct'],
            range: [
              [1, 0],
              [6, 3],
              [2, 2],
              [1, 0],
            ],
          },
        },
        tooltip: [{ field: 'series' }, { field: 'percentile' }, { field: 'ms', format: '.2f' }],
      },
    },
  };
}

/** Phase changes as dashed rules; labels alternate between two rows so that close ones do not overlap. */
function eventRules(result: LoadtestResult) {
  const values = result.events.filter((e) => e.tS > 0.05).map((e, i) => ({ ...e, labelY: 2 + (i % 2) * 12 }));
  return {
    data: { values },
    layer: [
      {
        mark: { type: 'rule', color: '#999', strokeDash: [4, 4] },
        encoding: { x: { field: 'tS', type: 'quantitative', scale: timeScale(result) } },
      },
      {
        mark: { type: 'text', align: 'left', baseline: 'top', dx: 3, fontSize: 10, color: '#555' },
        encoding: {
          x: { field: 'tS', type: 'quantitative', scale: timeScale(result) },
          y: { field: 'labelY', type: 'quantitative', scale: null },
          text: { field: 'label' },
        },
      },
    ],
  };
}

/** Every time chart spans the whole run, from 0, whatever its data (bars would otherwise pad the domain). */
function timeScale(result: LoadtestResult) {
  const lastS = (result.timeline.at(-1)?.tS ?? 0) + result.settings.binS;
  return { domain: [0, Math.max(lastS, ...result.events.map((e) => e.tS))], nice: false, zero: true };
}

function splitOverTime(result: LoadtestResult): Chart {
  const route = result.mainRoute ?? 'recommend';
  const shares = result.timeline.flatMap((bin) => {
    const total = bin.function + bin.legacy + bin.fallback + bin.direct;
    if (total === 0) return [];
    return (['function', 'fallback', 'legacy'] as const).map((outcome) => ({
      tS: bin.tS,
      outcome,
      share: bin[outcome] / total,
    }));
  });
  const weights = result.admin.samples.flatMap((s) =>
    s.weights[route] === undefined
      ? []
      : [{ tS: s.tS, weight: s.weights[route] / 100, series: `${route} weight` }],
  );
  const layers: unknown[] = [
    {
      data: { values: shares },
      mark: { type: 'area', interpolate: 'step-after', opacity: 0.85 },
      encoding: {
        x: { field: 'tS', type: 'quantitative', title: 'seconds since start' },
        y: {
          field: 'share',
          type: 'quantitative',
          stack: 'normalize',
          title: 'share of responses',
          axis: { format: '%' },
        },
        color: {
          field: 'outcome',
          type: 'nominal',
          title: 'answered by',
          scale: {
            domain: ['function', 'fallback', 'legacy'],
            range: [outcomeColors.function, outcomeColors.fallback, outcomeColors.legacy],
          },
        },
        order: { field: 'outcome', sort: 'descending' },
      },
    },
    eventRules(result),
  ];
  if (weights.length > 0) {
    layers.push({
      data: { values: weights },
      mark: { type: 'line', interpolate: 'step-after', color: 'black', strokeWidth: 2, strokeDash: [6, 3] },
      encoding: {
        x: { field: 'tS', type: 'quantitative' },
        y: { field: 'weight', type: 'quantitative' },
        detail: { field: 'series' },
      },
    });
  }
  return {
    id: 'split',
    title: 'Split over time',
    caption:
      `Who answered, per ${result.settings.binS} s bin, from each response's x-fnshift-target and x-fnshift-fallback. ` +
      `The dashed black line is the ${route} route's weight in force (GET /routes).`,
    spec: { ...base, layer: layers },
  };
}

function throughputOverTime(result: LoadtestResult): Chart {
  const values = result.timeline.flatMap((bin) => [
    { tS: bin.tS, value: bin.requestsPerSec, series: 'requests/s' },
    ...(bin.p99Us > 0 ? [{ tS: bin.tS, value: bin.p99Us / 1000, series: 'p99 ms' }] : []),
  ]);
  return {
    id: 'throughput',
    title: 'Throughput and p99 over time',
    caption: `Responses per second and the p99 service time of each ${result.settings.binS} s bin.`,
    spec: {
      ...base,
      height: 200,
      layer: [
        {
          data: { values: values.filter((v) => v.series === 'requests/s') },
          mark: { type: 'area', interpolate: 'step-after', color: '#a8dadc', opacity: 0.9 },
          encoding: {
            x: { field: 'tS', type: 'quantitative', title: 'seconds since start', scale: timeScale(result) },
            y: { field: 'value', type: 'quantitative', title: 'requests/s' },
          },
        },
        {
          data: { values: values.filter((v) => v.series === 'p99 ms') },
          mark: { type: 'line', interpolate: 'step-after', color: '#e63946', strokeWidth: 2 },
          encoding: {
            x: { field: 'tS', type: 'quantitative' },
            y: {
              field: 'value',
              type: 'quantitative',
              title: 'p99 (ms, red)',
              axis: { titleColor: '#e63946' },
            },
          },
        },
        eventRules(result),
      ],
      resolve: { scale: { y: 'independent' } },
    },
  };
}

function errorsOverTime(result: LoadtestResult): Chart {
  const values = result.timeline.flatMap((bin) => [
    { tS: bin.tS, kind: 'connection error / timeout', count: bin.errors },
    { tS: bin.tS, kind: '5xx', count: bin.status5xx },
    { tS: bin.tS, kind: 'other non-2xx', count: bin.otherNon2xx },
  ]);
  const total = values.reduce((n, v) => n + v.count, 0);
  return {
    id: 'errors',
    title: total === 0 ? 'Errors over time: none' : `Errors over time: ${total} in all`,
    caption:
      'Requests per bin that a client would count as failed, by kind. A fallback that legacy answered is not an error.',
    spec: {
      ...base,
      height: 160,
      layer: [
        {
          data: { values },
          mark: { type: 'bar' },
          encoding: {
            x: { field: 'tS', type: 'quantitative', title: 'seconds since start', scale: timeScale(result) },
            y: {
              field: 'count',
              type: 'quantitative',
              stack: 'zero',
              title: 'requests',
              ...(total === 0 ? { scale: { domain: [0, 1] } } : {}),
            },
            color: {
              field: 'kind',
              type: 'nominal',
              title: 'kind',
              scale: {
                domain: ['connection error / timeout', '5xx', 'other non-2xx'],
                range: ['#9d0208', '#e85d04', '#ffba08'],
              },
            },
          },
        },
        eventRules(result),
      ],
    },
  };
}
