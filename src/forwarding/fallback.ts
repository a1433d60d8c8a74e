// The safety rule for replaying a failed function call on legacy, and the error a failure maps to.
// Replay only if the function never received the request, or if the method is idempotent, the body
// was buffered whole and no response byte reached the caller (HAProxy retry-on, nginx since 1.9.13).
import { FnshiftError } from '../errors.ts';

/** RFC 9110 §9.2.2. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export function isIdempotent(method: string): boolean {
  return IDEMPOTENT.has(method);
}

export type FallbackReason =
  | 'breaker_open'
  | 'connect_failure'
  | 'overloaded'
  | 'timeout'
  | 'function_5xx'
  | 'upstream_error';

export type FailureFacts = {
  method: string;
  /** The request reached a connection to the function (fnshift started writing it). */
  isSent: boolean;
  /** The body is held whole in memory (or there is none), so it can be sent again. */
  isBodyReplayable: boolean;
  isResponseStarted: boolean;
};

export function canReplay(facts: FailureFacts): boolean {
  if (facts.isResponseStarted) return false;
  if (!facts.isSent) return true;
  return isIdempotent(facts.method) && facts.isBodyReplayable;
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UPSTREAM_CONNECT_TIMEOUT',
  'UPSTREAM_CONNECT_FAILED',
]);

const TIMEOUT_CODES = new Set([
  'UPSTREAM_HEADERS_TIMEOUT',
  'UPSTREAM_WRITE_TIMEOUT',
  'UPSTREAM_BODY_TIMEOUT',
  'FNSHIFT_UPSTREAM_TIMEOUT',
]);

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function fallbackReason(error: unknown): FallbackReason {
  const code = codeOf(error);
  if (code === 'FNSHIFT_OVERLOADED') return 'overloaded';
  if (code === 'FNSHIFT_BREAKER_OPEN') return 'breaker_open';
  if (code && CONNECT_CODES.has(code)) return 'connect_failure';
  if (code && TIMEOUT_CODES.has(code)) return 'timeout';
  return 'upstream_error';
}

/** The error the caller sees when an upstream attempt fails and nothing else can answer. */
export function toUpstreamError(error: unknown, upstreamName: string): FnshiftError {
  if (error instanceof FnshiftError) return error;
  const code = codeOf(error);
  const details = { upstream: upstreamName, ...(code ? { cause: code } : {}) };
  if (code && CONNECT_CODES.has(code)) {
    return new FnshiftError('FNSHIFT_UPSTREAM_UNAVAILABLE', `${upstreamName} cannot be reached`, {
      cause: error,
      details,
    });
  }
  if (code && TIMEOUT_CODES.has(code)) {
    return new FnshiftError('FNSHIFT_UPSTREAM_TIMEOUT', `${upstreamName} did not answer in time`, {
      cause: error,
      details,
    });
  }
  if (code === 'UPSTREAM_BAD_RESPONSE') {
    return new FnshiftError(
      'FNSHIFT_UPSTREAM_BAD_RESPONSE',
      `${upstreamName} sent a malformed or oversized response`,
      { cause: error, details },
    );
  }
  return new FnshiftError('FNSHIFT_UPSTREAM_ERROR', `${upstreamName} failed`, { cause: error, details });
}
