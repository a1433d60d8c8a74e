// The one opossum import: a breaker per function around fnshift's attempts. Deadlines stay per call
// (each attempt's own headers and body timers); opossum's own timeout and its breaker-wide AbortController are
// off, because one timeout there aborts every call in flight (opossum #674, #892).
import CircuitBreaker from 'opossum';
import type { BreakerConfig } from '../config/schema.ts';
import { FnshiftError } from '../errors.ts';
import type { AttemptResult } from '../forwarding/forward.ts';
import { publishBreaker } from '../telemetry/events.ts';

export type BreakerState = 'closed' | 'open' | 'half_open' | 'disabled';

/** Carries a failed attempt through opossum's rejection path so it is counted, then unwrapped. */
class CountedFailure extends Error {
  readonly result: AttemptResult;
  constructor(result: AttemptResult) {
    super('function attempt failed');
    this.result = result;
  }
}

/** 5xx, timeouts, resets and refused connections count; 4xx and a client hanging up do not. */
export function isFailure(result: AttemptResult): boolean {
  if (result.kind === 'diverted') return result.statusCode >= 500;
  if (result.kind === 'relayed') return result.statusCode >= 500;
  if (result.kind === 'failed') {
    const code = (result.error as { code?: string }).code;
    // Our own refusals (pool full) say nothing about the function's health.
    return (
      code !== 'FNSHIFT_OVERLOADED' &&
      code !== 'FNSHIFT_BODY_TOO_LARGE' &&
      code !== 'FNSHIFT_REQUEST_TIMEOUT' &&
      code !== 'FNSHIFT_BAD_REQUEST'
    );
  }
  return false;
}

const run = async (attempt: () => Promise<AttemptResult>): Promise<AttemptResult> => {
  const result = await attempt();
  if (isFailure(result)) throw new CountedFailure(result);
  return result;
};

export type Breaker = {
  readonly functionName: string;
  readonly config: BreakerConfig;
  state(): BreakerState;
  /** True while calls are refused without reaching the function (open, not yet half-open). */
  isOpen(): boolean;
  call(attempt: () => Promise<AttemptResult>): Promise<AttemptResult>;
  shutdown(): void;
};

function refused(code: 'FNSHIFT_BREAKER_OPEN' | 'FNSHIFT_OVERLOADED', functionName: string): AttemptResult {
  const message =
    code === 'FNSHIFT_BREAKER_OPEN'
      ? `function ${functionName} is switched off by its breaker`
      : `function ${functionName} has too many calls in flight`;
  return { kind: 'failed', error: new FnshiftError(code, message), isSent: false, isResponseStarted: false };
}

export function createBreaker(functionName: string, config: BreakerConfig): Breaker {
  if (!config.enabled) {
    return {
      functionName,
      config,
      state: () => 'disabled',
      isOpen: () => false,
      call: (attempt) => attempt(),
      shutdown: () => {},
    };
  }
  const breaker = new CircuitBreaker(run, {
    timeout: false,
    errorThresholdPercentage: config.errorThresholdPercent,
    volumeThreshold: config.minimumRequests,
    rollingCountTimeout: config.rollingWindowMs,
    rollingCountBuckets: config.rollingWindowBuckets,
    resetTimeout: config.openDurationMs,
    capacity: config.maxConcurrent,
    allowWarmUp: false,
    enableSnapshots: false,
    // fnshift keeps its own latency histograms; opossum's per-call latency arrays would be dead weight.
    rollingPercentilesEnabled: false,
    name: functionName,
  });
  breaker.on('open', () => publishBreaker({ functionName, event: 'open' }));
  breaker.on('halfOpen', () => publishBreaker({ functionName, event: 'half_open' }));
  breaker.on('close', () => publishBreaker({ functionName, event: 'close' }));
  breaker.on('reject', () => publishBreaker({ functionName, event: 'reject' }));

  return {
    functionName,
    config,
    state: () => (breaker.opened ? 'open' : breaker.halfOpen ? 'half_open' : 'closed'),
    isOpen: () => breaker.opened,
    async call(attempt) {
      try {
        return (await breaker.fire(attempt)) as AttemptResult;
      } catch (error) {
        if (error instanceof CountedFailure) return error.result;
        const code = (error as { code?: string }).code;
        if (code === 'EOPENBREAKER') return refused('FNSHIFT_BREAKER_OPEN', functionName);
        if (code === 'ESEMLOCKED') return refused('FNSHIFT_OVERLOADED', functionName);
        return { kind: 'failed', error: error as Error, isSent: false, isResponseStarted: false };
      }
    },
    shutdown: () => breaker.shutdown(),
  };
}
