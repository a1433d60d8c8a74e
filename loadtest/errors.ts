// The load test's failures, each with a stable code; the CLI maps them to exit codes.

export const loadtestErrorCodes = {
  FNSHIFT_LOADTEST_USAGE: 'Bad command-line flag',
  FNSHIFT_LOADTEST_START: 'A process did not become ready in time',
  FNSHIFT_LOADTEST_CHILD_EXITED: 'A process exited',
  FNSHIFT_LOADTEST_ADMIN: 'The admin API refused a request',
  FNSHIFT_LOADTEST_LOAD: 'The load generator failed',
  FNSHIFT_LOADTEST_COMPARE: 'The --compare file is not a load-test result',
  FNSHIFT_LOADTEST_STALL_PROBE: 'The stall probe could not measure',
} as const;

export type LoadtestErrorCode = keyof typeof loadtestErrorCodes;

export class LoadtestError extends Error {
  readonly code: LoadtestErrorCode;
  override readonly cause: unknown;

  constructor(code: LoadtestErrorCode, message?: string, options: { cause?: unknown } = {}) {
    super(message ?? loadtestErrorCodes[code]);
    this.name = 'LoadtestError';
    this.code = code;
    this.cause = options.cause;
  }
}

export function describeError(error: unknown): string {
  if (error instanceof LoadtestError) return `${error.code}: ${error.message}`;
  if (error instanceof Error)
    return `${(error as NodeJS.ErrnoException).code ?? error.name}: ${error.message}`;
  return String(error);
}
