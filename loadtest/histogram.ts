// Microsecond latency histograms for the load test, over the one hdr-histogram-js seam (src/telemetry/hdr.ts).
import {
  createMicrosHistogram,
  decodeHistogram as decodeRaw,
  encodeHistogram,
  type Histogram,
  type LatencySummaryUs,
  summarize,
} from '../src/telemetry/hdr.ts';

/** 1 µs to 120 s at 3 significant digits: every percentile within 0.1%. */
const HIGHEST_TRACKABLE_US = 120_000_000;

export type LatencySummary = LatencySummaryUs;

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
    summary: () => summarize(histogram),
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
