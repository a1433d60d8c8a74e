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
