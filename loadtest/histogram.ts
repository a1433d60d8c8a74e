// Microsecond latency histograms for the load test, over the one hdr-histogram-js seam (src/telemetry/hdr.ts).
import {
  createMicrosHistogram,
  decodeHistogram as decodeRaw,
  encodeHistogram,
  type Histogram,
} from '../src/telemetry/hdr.ts';

/** 1 µs to 120 s at 3 significant digits: every percentile within 0.1%. */
const HIGHEST_TRACKABLE_US = 120_000_000;

export interface LatencySummary {
  readonly count: number;
  readonly meanUs: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly p99_9Us: number;
  readonly maxUs: number;
}

/** The percentiles the report's "latency by percentile" chart draws. */
export const spectrumPercentiles = [50, 75, 90, 95, 99, 99.5, 99.9, 99.99] as const;

export interface UsHistogram {
  recordUs(us: number): void;
  add(other: UsHistogram): void;
  readonly count: number;
  summary(): LatencySummary;
  /** [percentile, µs] for each of `spectrumPercentiles`, for the chart. */
  spectrum(): { readonly percentile: number; readonly us: number }[];
  /** HdrHistogram's compressed base64 form: the raw data, for later reports and merges. */
  encode(): string;
  readonly raw: Histogram;
}

export function createHistogram(): UsHistogram {
  return wrap(createMicrosHistogram(HIGHEST_TRACKABLE_US));
}

export function decodeHistogram(encoded: string): UsHistogram {
  const decoded = decodeRaw(encoded);
  const histogram = createHistogram();
  histogram.raw.add(decoded);
  return histogram;
}

function wrap(histogram: Histogram): UsHistogram {
  return {
    raw: histogram,
    recordUs(us) {
      histogram.recordValue(Math.min(Math.max(Math.round(us), 1), HIGHEST_TRACKABLE_US));
    },
    add(other) {
      histogram.add(other.raw);
    },
    get count() {
      return histogram.totalCount;
    },
    summary: () => summaryOf(histogram),
    spectrum: () =>
      histogram.totalCount === 0
        ? []
        : spectrumPercentiles.map((percentile) => ({
            percentile,
            us: histogram.getValueAtPercentile(percentile),
          })),
    encode: () => encodeHistogram(histogram),
  };
}

function summaryOf(histogram: Histogram): LatencySummary {
  if (histogram.totalCount === 0) {
    return { count: 0, meanUs: 0, p50Us: 0, p90Us: 0, p99Us: 0, p99_9Us: 0, maxUs: 0 };
  }
  return {
    count: histogram.totalCount,
    meanUs: Math.round(histogram.mean),
    p50Us: histogram.getValueAtPercentile(50),
    p90Us: histogram.getValueAtPercentile(90),
    p99Us: histogram.getValueAtPercentile(99),
    p99_9Us: histogram.getValueAtPercentile(99.9),
    maxUs: histogram.maxValue,
  };
}
