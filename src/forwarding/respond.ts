// What fnshift itself writes to a caller: problem+json errors and the x-fnshift-* response headers.
import { type FnshiftError, problemBody } from '../errors.ts';
import type { ProxyResponse } from './exchange.ts';

export const ROUTE_HEADER = 'x-fnshift-route';
export const TARGET_HEADER = 'x-fnshift-target';
export const FALLBACK_HEADER = 'x-fnshift-fallback';

/**
 * Answers with an RFC 9457 problem document. `shouldClose` is set when unread request bytes may still be
 * on the socket (a refused body): reusing it would parse the body as the next request.
 */
export function sendProblem(
  res: ProxyResponse,
  error: FnshiftError,
  options: { shouldClose?: boolean; headers?: Record<string, string> } = {},
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy(error);
    return;
  }
  const body = problemBody(error);
  res.writeHead(error.status, undefined, {
    ...options.headers,
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...(options.shouldClose ? { connection: 'close' } : {}),
  });
  res.end(body);
}
