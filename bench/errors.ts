// The bench's failures, each with a stable code, so the report and the tests never match on message text.

export const benchErrorCodes = {
  FNSHIFT_BENCH_USAGE: 'Bad command-line flag',
  FNSHIFT_BENCH_START_TIMEOUT: 'The process did not become ready in time',
  FNSHIFT_BENCH_CHILD_EXITED: 'The process exited',
  FNSHIFT_BENCH_PREFLIGHT: 'The first request through the contender did not return 2xx',
  FNSHIFT_BENCH_ROUND_TIMEOUT: 'The load round did not finish in time',
  FNSHIFT_BENCH_LOAD_FAILED: 'The load generator failed',
  FNSHIFT_BENCH_UNAVAILABLE: 'The contender is not installed',
  FNSHIFT_BENCH_TALLY: 'A file given to the tally is not a bench result',
} as const;

export type BenchErrorCode = keyof typeof benchErrorCodes;

export class BenchError extends Error {
  readonly code: BenchErrorCode;
  override readonly cause: unknown;

  constructor(code: BenchErrorCode, message?: string, options: { cause?: unknown } = {}) {
    super(message ?? benchErrorCodes[code]);
    this.name = 'BenchError';
    this.code = code;
    this.cause = options.cause;
  }
}

/** A one-line reason for the report; keeps the code when there is one. */
export function describeError(error: unknown): string {
  if (error instanceof BenchError) return `${error.code}: ${error.message}`;
  if (error instanceof Error)
    return `${(error as NodeJS.ErrnoException).code ?? error.name}: ${error.message}`;
  return String(error);
}
