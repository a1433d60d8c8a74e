// Microsecond latency histograms (the load test's one hdr-histogram-js import): autocannon keeps whole ms.
import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  type Histogram,
} from 'hdr-histogram-js';

/** 1 µs to 120 s at 3 significant digits: every percentile within 0.1%. */
const HIGHEST_TRACKABLE_US = 120_000_000;
const SIGNIFICANT_DIGITS = 3;

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
  return wrap(
    build({
      // Int32 counts in a plain JS array (no WebAssembly memory to free): ~75 KB each, and 5× faster to
      // record and to read than the packed form, which matters at thousands of responses a second.
      bitBucketSize: 32,
      lowestDiscernibleValue: 1,
      highestTrackableValue: HIGHEST_TRACKABLE_US,
      numberOfSignificantValueDigits: SIGNIFICANT_DIGITS,
    }),
  );
}

export function decodeHistogram(encoded: string): UsHistogram {
  const decoded = decodeFromCompressedBase64(encoded, 32);
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
    encode: () => encodeIntoCompressedBase64(histogram),
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
