// The one opossum import: a breaker per function around fnshift's attempts. Deadlines stay per call
// (each attempt's own headers and body timers); opossum's own timeout and its breaker-wide AbortController are
// off, because one timeout there aborts every call in flight (opossum #674, #892).
//
// fnshift admits each call and runs its attempt itself; opossum is fired only afterwards, with the verdict,
// and only when the result says something about the function. opossum 10 has no "neither" outcome: a
// resolved call and an errorFilter'ed error both emit 'success' (lib/circuit.js, handleError), which adds
// to the window's successes and closes a half-open breaker. So a caller hanging up, or fnshift refusing
// the request itself, made a hanging function look healthy and closed a half-open breaker on no evidence.
import CircuitBreaker from 'opossum';
import type { BreakerConfig } from '../config/schema.ts';
import { FnshiftError } from '../errors.ts';
import type { AttemptResult } from '../forwarding/forward.ts';
import { publishBreaker } from '../telemetry/events.ts';

export type BreakerState = 'closed' | 'open' | 'half_open' | 'disabled';

/** What an attempt says about the function's health; `none` is counted neither way. */
export type Verdict = 'success' | 'failure' | 'none';

/** fnshift's own refusals: the request was turned away on fnshift's side, whatever the function's state. */
const OWN_REFUSALS = new Set([
  'FNSHIFT_OVERLOADED',
  'FNSHIFT_BODY_TOO_LARGE',
  'FNSHIFT_REQUEST_TIMEOUT',
  'FNSHIFT_BAD_REQUEST',
]);

/** 5xx, timeouts, resets and refused connections are failures; 4xx is the function answering. */
export function verdictOf(result: AttemptResult): Verdict {
  // A downstream cancel is not an upstream health signal (Envoy's outlier detection and Hystrix's
  // CANCELLED event both leave it out of the health counts).
  if (result.kind === 'client_gone') return 'none';
  if (result.kind === 'failed') {
    const code = (result.error as { code?: string }).code;
    return code !== undefined && OWN_REFUSALS.has(code) ? 'none' : 'failure';
  }
  return result.statusCode >= 500 ? 'failure' : 'success';
}

const failure = new Error('function attempt failed');

/** opossum's action: it only turns a verdict fnshift already reached into a success or a failure. */
const judge = async (isFailed: boolean): Promise<void> => {
  if (isFailed) throw failure;
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

/** An attempt that threw (a bug: attempts resolve) is a failed attempt like any other. */
function asFailed(error: unknown): AttemptResult {
  return { kind: 'failed', error: error as Error, isSent: false, isResponseStarted: false };
}

function start(attempt: () => Promise<AttemptResult>): Promise<AttemptResult> {
  try {
    return attempt().catch(asFailed);
  } catch (error) {
    return Promise.resolve(asFailed(error));
  }
}

const ignore = () => {};

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
  const breaker = new CircuitBreaker(judge, {
    timeout: false,
    errorThresholdPercentage: config.errorThresholdPercent,
    volumeThreshold: config.minimumRequests,
    rollingCountTimeout: config.rollingWindowMs,
    rollingCountBuckets: config.rollingWindowBuckets,
    resetTimeout: config.openDurationMs,
    // No capacity: opossum only sees verdicts, which take no time; the bulkhead is `inFlight` below.
    allowWarmUp: false,
    enableSnapshots: false,
    // fnshift keeps its own latency histograms; opossum's per-call latency arrays would be dead weight.
    rollingPercentilesEnabled: false,
    name: functionName,
  });
  breaker.on('open', () => publishBreaker({ functionName, event: 'open' }));
  breaker.on('halfOpen', () => publishBreaker({ functionName, event: 'half_open' }));
  breaker.on('close', () => publishBreaker({ functionName, event: 'close' }));

  let inFlight = 0;
  let isTrialInFlight = false;

  /**
   * Fires opossum with a verdict, unless it would refuse it (open, or its half-open slot just taken).
   * Settles once opossum has counted it, so the breaker's state is current when the caller resumes.
   */
  function report(isFailed: boolean): Promise<void> | undefined {
    if (!breaker.closed && !breaker.pendingClose) return undefined;
    return breaker.fire(isFailed).then(ignore, ignore);
  }

  /** Counts what the result says about the function: `none` if it said nothing, undefined if opossum refused it. */
  function count(result: AttemptResult): Promise<void> | 'none' | undefined {
    const verdict = verdictOf(result);
    return verdict === 'none' ? 'none' : report(verdict === 'failure');
  }

  /**
   * The end of the one half-open trial. A trial that taught nothing sends the breaker back to open for a
   * full period, counted as no failure, rather than leaving it half-open with the slot free: open means
   * legacy answers, the safe default, while a slot freed at once would hand a function that hangs, whose
   * callers give up first, one caller after another without ever judging it. Hystrix does the same on a
   * cancelled trial (markNonSuccess). The slot stays taken until the verdict is in, so no second trial
   * slips in.
   */
  function endTrial(result: AttemptResult): AttemptResult | Promise<AttemptResult> {
    inFlight--;
    const counted = count(result);
    if (counted === 'none') {
      isTrialInFlight = false;
      // Unless another call's verdict (one admitted while closed) already closed or opened it.
      if (breaker.halfOpen) breaker.open();
      return result;
    }
    const done = () => {
      isTrialInFlight = false;
      return result;
    };
    return counted ? counted.then(done) : done();
  }

  function endCall(result: AttemptResult): AttemptResult | Promise<AttemptResult> {
    inFlight--;
    const counted = count(result);
    return counted === 'none' || counted === undefined ? result : counted.then(() => result);
  }

  function call(attempt: () => Promise<AttemptResult>): Promise<AttemptResult> {
    if (breaker.opened || (breaker.halfOpen && isTrialInFlight)) {
      publishBreaker({ functionName, event: 'reject' });
      return Promise.resolve(refused('FNSHIFT_BREAKER_OPEN', functionName));
    }
    if (inFlight >= config.maxConcurrent) {
      // As opossum's own semaphore did: too many calls still waiting on the function counts against it.
      const overloaded = refused('FNSHIFT_OVERLOADED', functionName);
      return (report(true) ?? Promise.resolve()).then(() => overloaded);
    }
    inFlight++;
    if (!breaker.halfOpen) return start(attempt).then(endCall);
    isTrialInFlight = true;
    return start(attempt).then(endTrial);
  }

  return {
    functionName,
    config,
    state: () => (breaker.opened ? 'open' : breaker.halfOpen ? 'half_open' : 'closed'),
    isOpen: () => breaker.opened,
    call,
    shutdown: () => breaker.shutdown(),
  };
}
