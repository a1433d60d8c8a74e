// A breaker config for tests that drive createBreaker directly: small enough numbers to open it with a
// few calls, and an open period the tests move through with mocked timers.
import type { BreakerConfig } from '../../src/config/schema.ts';

export const testBreakerConfig: BreakerConfig = {
  enabled: true,
  errorThresholdPercent: 50,
  minimumRequests: 10,
  rollingWindowMs: 10_000,
  rollingWindowBuckets: 10,
  openDurationMs: 5_000,
  maxConcurrent: 100,
};
