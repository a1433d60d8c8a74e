// The one hdr-histogram-js import: microsecond latency histograms for the rollout gates, the load tests
// and the bench (autocannon and wrk round to whole milliseconds; percentiles are never taken from sorted
// arrays). Int32 counts in a plain array: no WebAssembly memory to free, and fast to record.
import {
  build,
  decodeFromCompressedBase64,
  encodeIntoCompressedBase64,
  type Histogram,
} from 'hdr-histogram-js';

export type { Histogram };

/** 1 µs up to `highestTrackableUs`, 3 significant digits: every percentile within 0.1%. */
export function createMicrosHistogram(highestTrackableUs: number): Histogram {
  return build({
    bitBucketSize: 32,
    lowestDiscernibleValue: 1,
    highestTrackableValue: highestTrackableUs,
    numberOfSignificantValueDigits: 3,
  });
}

export function encodeHistogram(histogram: Histogram): string {
  return encodeIntoCompressedBase64(histogram);
}

export function decodeHistogram(encoded: string): Histogram {
  return decodeFromCompressedBase64(encoded, 32);
}

export type LatencySummaryUs = {
  readonly count: number;
  readonly meanUs: number;
  readonly p50Us: number;
  readonly p90Us: number;
  readonly p99Us: number;
  readonly p99_9Us: number;
  readonly maxUs: number;
};

/** The percentiles every report shows; all zero for an empty histogram (its mean would be NaN). */
export function summarize(histogram: Histogram): LatencySummaryUs {
  if (histogram.totalCount === 0)
    return { count: 0, meanUs: 0, p50Us: 0, p90Us: 0, p99Us: 0, p99_9Us: 0, maxUs: 0 };
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
