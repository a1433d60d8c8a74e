// Microsecond latency recorders for the bench, over the one hdr-histogram-js seam (src/telemetry/hdr.ts).
import {
  createMicrosHistogram,
  decodeHistogram,
  encodeHistogram,
  type Histogram,
  type LatencySummaryUs,
  summarize,
} from '../src/telemetry/hdr.ts';

/** 1 µs to 60 s at 3 significant digits: a 0.1% error on every percentile. */
const HIGHEST_TRACKABLE_US = 60_000_000;

export type LatencyPercentilesUs = LatencySummaryUs;

export interface LatencyRecorder {
  recordMs(responseTimeMs: number): void;
  percentiles(): LatencyPercentilesUs;
  /** HdrHistogram's compressed base64 form, so rounds can be merged in another process. */
  encode(): string;
  destroy(): void;
}

function createHistogram(): Histogram {
  return createMicrosHistogram(HIGHEST_TRACKABLE_US);
}

export function createLatencyRecorder(): LatencyRecorder {
  const histogram = createHistogram();
  return {
    recordMs(responseTimeMs) {
      const us = Math.round(responseTimeMs * 1000);
      histogram.recordValue(Math.min(Math.max(us, 1), HIGHEST_TRACKABLE_US));
    },
    percentiles: () => summarize(histogram),
    encode: () => encodeHistogram(histogram),
    destroy: () => histogram.destroy(),
  };
}

/** Adds the rounds' histograms up, so the summary's tail is over every request, not a median of tails. */
export function mergeEncodedHistograms(encoded: readonly string[]): {
  percentiles: LatencyPercentilesUs;
  encoded: string;
} {
  const total = createHistogram();
  for (const one of encoded) {
    const histogram = decodeHistogram(one);
    total.add(histogram);
    histogram.destroy();
  }
  const result = { percentiles: summarize(total), encoded: encodeHistogram(total) };
  total.destroy();
  return result;
}

/**
 * A histogram rebuilt from a generator's quantiles (wrk prints percentiles, not its histogram): each
 * quantile gets the requests between it and the one before, at its own value, so the rebuilt percentiles
 * equal the generator's at every grid point and rounds can be merged like autocannon's.
 */
export function histogramFromQuantiles(
  quantiles: readonly (readonly [percentile: number, us: number])[],
  totalCount: number,
): { percentiles: LatencyPercentilesUs; encoded: string } {
  const histogram = createHistogram();
  let recorded = 0;
  for (const [percentile, us] of quantiles) {
    const upTo = Math.round((Math.min(percentile, 100) / 100) * totalCount);
    const count = upTo - recorded;
    if (count > 0) {
      histogram.recordValueWithCount(Math.min(Math.max(Math.round(us), 1), HIGHEST_TRACKABLE_US), count);
      recorded = upTo;
    }
  }
  const result = { percentiles: summarize(histogram), encoded: encodeHistogram(histogram) };
  histogram.destroy();
  return result;
}
