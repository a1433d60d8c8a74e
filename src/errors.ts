// One error class and one code → status table for every failure fnshift reports (fastify's model).

export const errorCodes = {
  FNSHIFT_BAD_REQUEST: { status: 400, title: 'Bad request' },
  FNSHIFT_BAD_PATH: { status: 400, title: 'Ambiguous or malformed request target' },
  FNSHIFT_BAD_HEADER: { status: 400, title: 'Malformed or ambiguous request header' },
  FNSHIFT_UNAUTHORIZED: { status: 401, title: 'Missing or wrong bearer token' },
  FNSHIFT_NOT_FOUND: { status: 404, title: 'Not found' },
  FNSHIFT_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  FNSHIFT_REQUEST_TIMEOUT: { status: 408, title: 'The request was not received in time' },
  FNSHIFT_CONFLICT: { status: 409, title: 'The change conflicts with the current state' },
  FNSHIFT_BODY_TOO_LARGE: { status: 413, title: 'Request body exceeds the cap' },
  FNSHIFT_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  FNSHIFT_EXPECTATION_FAILED: { status: 417, title: 'The Expect header asks for what fnshift does not do' },
  FNSHIFT_HEADERS_TOO_LARGE: { status: 431, title: 'Request headers exceed the limits' },
  FNSHIFT_UPSTREAM_ERROR: { status: 502, title: 'The upstream failed' },
  FNSHIFT_UPSTREAM_BAD_RESPONSE: {
    status: 502,
    title: 'The upstream sent a malformed or oversized response',
  },
  FNSHIFT_FUNCTION_ERROR: { status: 502, title: 'The function failed and the request cannot be replayed' },
  FNSHIFT_FUNCTION_THREW: { status: 502, title: 'The function threw an error' },
  FNSHIFT_FUNCTION_BAD_RESULT: {
    status: 502,
    title: 'The function returned a result that is not a response',
  },
  FNSHIFT_UPSTREAM_UNAVAILABLE: { status: 503, title: 'The upstream cannot be reached' },
  FNSHIFT_BREAKER_OPEN: { status: 503, title: 'The function is switched off by its circuit breaker' },
  FNSHIFT_OVERLOADED: { status: 503, title: 'Too many requests are waiting for this upstream' },
  FNSHIFT_DRAINING: { status: 503, title: 'fnshift is shutting down' },
  FNSHIFT_CONNECTION_EXHAUSTED: {
    status: 503,
    title: 'This connection has carried limits.maxRequestsPerSocket requests; open a new one',
  },
  FNSHIFT_UPSTREAM_TIMEOUT: { status: 504, title: 'The upstream did not answer in time' },
  FNSHIFT_FUNCTION_TIMEOUT: { status: 504, title: 'The function did not finish in time' },
  FNSHIFT_CONFIG_INVALID: { status: 400, title: 'The configuration is invalid' },
  FNSHIFT_STATE_WRITE_FAILED: { status: 500, title: 'The state file could not be written' },
  FNSHIFT_INTERNAL: { status: 500, title: 'Internal error' },
} as const;

export type ErrorCode = keyof typeof errorCodes;

export class FnshiftError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  override readonly cause: unknown;
  /** Extra, safe-to-show members for the problem+json body (RFC 9457 extension members). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    message?: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message ?? errorCodes[code].title);
    this.name = 'FnshiftError';
    this.code = code;
    this.status = errorCodes[code].status;
    this.cause = options.cause;
    this.details = options.details;
  }
}

export function isFnshiftError(value: unknown): value is FnshiftError {
  return value instanceof FnshiftError;
}

/** The RFC 9457 problem document for an error; `instance` is left out so no raw path leaks. */
export function toProblem(error: FnshiftError): Record<string, unknown> {
  return {
    type: `https://fnshift.dev/problems/${error.code.toLowerCase().replaceAll('_', '-')}`,
    title: errorCodes[error.code].title,
    status: error.status,
    code: error.code,
    detail: error.message,
    ...error.details,
  };
}

export function problemBody(error: FnshiftError): string {
  return JSON.stringify(toProblem(error));
}
