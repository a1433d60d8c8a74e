// An optional, sampled access log: one JSON line per sampled request through the pino logger. It names
// the route, target, decision and outcome; it never carries a query string or a header.
import { channels, listen, type RequestEvent } from './events.ts';
import type { Logger } from './log.ts';

const MAX_PATH_CHARS = 256;

export type AccessLogOptions = {
  logger: Logger;
  /** Share of requests logged, 0–1: 1 logs all, 0.01 one in a hundred. */
  sampleRatio: number;
  /** Links a line to its trace when tracing is on. */
  traceIdOf?: (event: RequestEvent) => string | undefined;
  random?: () => number;
};

export type AccessLine = {
  method: string;
  path: string | undefined;
  route: string | null;
  target: string | null;
  decision: string;
  fallback: string | null;
  status: number;
  errorCode: string | null;
  durationMs: number;
  traceId?: string;
};

/** The request target's path without its query (tokens and personal data travel there). */
function pathOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return path.length > MAX_PATH_CHARS ? `${path.slice(0, MAX_PATH_CHARS)}…` : path;
}

export function accessLine(event: RequestEvent, traceId?: string): AccessLine {
  const line: AccessLine = {
    method: event.method,
    path: pathOf(event.req.url),
    route: event.route ?? null,
    target: event.target ?? null,
    decision: event.reason,
    fallback: event.fallback ?? null,
    status: event.statusCode,
    errorCode: event.errorCode ?? null,
    durationMs: Math.round(event.durationMs * 100) / 100,
  };
  if (traceId) line.traceId = traceId;
  return line;
}

/** Starts logging sampled requests; returns the call that stops it. A ratio of 0 starts nothing. */
export function startAccessLog(options: AccessLogOptions): () => void {
  const ratio = Math.min(1, Math.max(0, options.sampleRatio));
  if (!(ratio > 0)) return () => {};
  const random = options.random ?? Math.random;
  const log = options.logger.child({ log: 'access' });
  return listen(channels.requestEnd, (event: RequestEvent) => {
    if (ratio < 1 && random() >= ratio) return;
    log.info(accessLine(event, options.traceIdOf?.(event)), 'request');
  });
}
