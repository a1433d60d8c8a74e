// The data plane in order — guard → match → decide → forward (with fallback) → respond. This is the
// one place where the order of the stages is written.
import { performance } from 'node:perf_hooks';
import type { RouteConfig } from './config/schema.ts';
import type { Snapshot } from './config/snapshot.ts';
import { FnshiftError } from './errors.ts';
import { BodySource, bodyOf, bufferBody, hasStreamedBody } from './forwarding/body.ts';
import type { ProxyRequest, ProxyResponse } from './forwarding/exchange.ts';
import { canReplay, fallbackReason, isIdempotent, toUpstreamError } from './forwarding/fallback.ts';
import { type AttemptRequest, type AttemptResult, attempt } from './forwarding/forward.ts';
import { guard } from './forwarding/guard.ts';
import { requestHeaders } from './forwarding/headers.ts';
import { FALLBACK_HEADER, ROUTE_HEADER, sendProblem, TARGET_HEADER } from './forwarding/respond.ts';
import type { Upstream } from './forwarding/upstreams.ts';
import { type Decision, decide, FORCE_HEADER, type Target } from './routing/decide.ts';
import { type CompiledRoute, rewritePath } from './routing/match.ts';
import { readStickyKey } from './routing/sticky.ts';
import { type AttemptEvent, channels, publish, type RequestEvent } from './telemetry/events.ts';

/** How function calls pass through the breakers; the resilience layer provides it. */
export type FunctionGate = {
  isOpen(functionName: string): boolean;
  call(functionName: string, run: () => Promise<AttemptResult>): Promise<AttemptResult>;
};

export const openGate: FunctionGate = {
  isOpen: () => false,
  call: (_name, run) => run(),
};

export type RequestPathOptions = {
  snapshot: () => Snapshot;
  gate?: FunctionGate;
  /** The scheme callers reach fnshift by, for X-Forwarded-Proto (fnshift itself listens on plain HTTP). */
  proto?: string;
};

type Exchange = {
  req: ProxyRequest;
  res: ProxyResponse;
  snap: Snapshot;
  event: RequestEvent;
  /** Attempts made so far (0, or 1 after a fallback). */
  attempts: number;
};

function finish(ex: Exchange, statusCode: number, errorCode?: string): void {
  ex.event.statusCode = statusCode;
  ex.event.errorCode = errorCode;
  ex.event.durationMs = performance.now() - ex.event.startMs;
  publish(channels.requestEnd, ex.event);
}

/** Whether anything listens for what observed() measures: then attempts are timed, else they just run. */
function isObserved(): boolean {
  return (
    channels.attemptStart.hasSubscribers ||
    channels.attemptEnd.hasSubscribers ||
    channels.requestEnd.hasSubscribers
  );
}

/**
 * Runs one attempt between `fnshift:attempt:start` (subscribers may add headers) and `:end`, and adds the
 * time it waited on the upstream (its duration less the attempt's own work) to the request's
 * `upstreamWaitMs`.
 */
async function observed(
  ex: Exchange,
  request: AttemptRequest,
  upstreamName: string,
  target: Target,
  run: () => Promise<AttemptResult>,
): Promise<AttemptResult> {
  if (!isObserved()) return run();
  const q = request.path.indexOf('?');
  const event: AttemptEvent = {
    request: ex.event,
    target,
    upstreamName,
    origin: request.upstream.origin,
    method: request.method,
    path: q === -1 ? request.path : request.path.slice(0, q),
    resendCount: ex.attempts++,
    headers: request.headers,
    startMs: performance.now(),
    outcome: undefined,
    statusCode: undefined,
    errorCode: undefined,
    durationMs: 0,
  };
  publish(channels.attemptStart, event);
  // After the subscribers: their work (trace context) is fnshift's own, not the upstream's.
  const runStartMs = performance.now();
  const result = await run();
  const endMs = performance.now();
  event.outcome = result.kind;
  event.durationMs = endMs - event.startMs;
  ex.event.upstreamWaitMs += Math.max(0, endMs - runStartMs - (request.clock?.busyMs ?? 0));
  if (result.kind === 'relayed' || result.kind === 'diverted') event.statusCode = result.statusCode;
  if (result.kind === 'failed')
    event.errorCode = (result.error as { code?: string }).code ?? result.error.name;
  publish(channels.attemptEnd, event);
  return result;
}

function refuse(ex: Exchange, error: FnshiftError, shouldClose: boolean): void {
  // Unread request bytes left on a kept-alive socket would be parsed as the next request.
  sendProblem(ex.res, error, { shouldClose: shouldClose || !ex.req.complete });
  finish(ex, error.status, error.code);
}

export function createRequestPath(options: RequestPathOptions) {
  const gate = options.gate ?? openGate;
  const proto = options.proto ?? 'http';

  function baseAttempt(
    ex: Exchange,
    upstream: Upstream,
    path: string,
    body: AttemptRequest['body'],
    timeouts: { timeoutMs: number; bodyTimeoutMs: number },
    route: RouteConfig | undefined,
    target: Target,
    fallback?: string,
  ): AttemptRequest {
    const { req, res, snap } = ex;
    const peer = req.socket.remoteAddress ?? '';
    const isDecorated = snap.config.forwarding.responseHeaders;
    return {
      upstream,
      method: req.method!,
      path,
      headers: requestHeaders(req, { peer, isTrustedPeer: snap.isTrustedPeer(peer), proto }),
      body,
      headersTimeoutMs: timeouts.timeoutMs,
      bodyTimeoutMs: timeouts.bodyTimeoutMs,
      res,
      clock: isObserved() ? { busyMs: 0 } : undefined,
      decorate: isDecorated
        ? (fields) => {
            if (route) fields.push(ROUTE_HEADER, route.name);
            fields.push(TARGET_HEADER, target);
            if (fallback) fields.push(FALLBACK_HEADER, fallback);
          }
        : undefined,
    };
  }

  async function toLegacy(
    ex: Exchange,
    path: string,
    body: AttemptRequest['body'],
    route: RouteConfig | undefined,
    fallback?: string,
  ): Promise<void> {
    const { snap } = ex;
    ex.event.target = 'legacy';
    ex.event.fallback = fallback;
    const request = baseAttempt(
      ex,
      snap.legacy,
      snap.legacy.basePath + path,
      body,
      snap.config.legacy,
      route,
      'legacy',
      fallback,
    );
    const result = await observed(ex, request, 'legacy', 'legacy', () => attempt(request));
    settle(ex, result, 'legacy');
  }

  function settle(ex: Exchange, result: AttemptResult, upstreamName: string): void {
    switch (result.kind) {
      case 'relayed':
        return finish(ex, result.statusCode);
      case 'client_gone':
        return finish(ex, 499, 'FNSHIFT_CLIENT_GONE');
      case 'diverted':
        return refuse(
          ex,
          new FnshiftError('FNSHIFT_FUNCTION_ERROR', `the function answered ${result.statusCode}`, {
            details: { functionStatus: result.statusCode },
          }),
          false,
        );
      case 'failed': {
        if (result.isResponseStarted) {
          // Bytes already reached the caller: the only honest signal left is a cut connection.
          ex.res.destroy(result.error);
          return finish(ex, 502, toUpstreamError(result.error, upstreamName).code);
        }
        const error = toUpstreamError(result.error, upstreamName);
        return refuse(
          ex,
          error,
          error.code === 'FNSHIFT_BODY_TOO_LARGE' || error.code === 'FNSHIFT_REQUEST_TIMEOUT',
        );
      }
    }
  }

  async function toFunction(
    ex: Exchange,
    matched: CompiledRoute,
    canonicalPath: string,
    query: string,
  ): Promise<void> {
    const { req, snap } = ex;
    const route = matched.route;
    const upstream = snap.functions[route.function]!;
    const fnConfig = snap.config.functions[route.function]!;
    const limits = snap.config.limits;
    const isSafe = route.fallback === 'safe';
    const legacyPath = canonicalPath + query;
    let body: AttemptRequest['body'] = null;
    let isBodyReplayable = true;
    if (req.body !== undefined) {
      // Read whole with its head (the fast lane): held in memory already, so as replayable as a body
      // buffered under the cap.
      body = bodyOf(req, limits);
      isBodyReplayable = req.body.length <= limits.fallbackBufferBytes;
    } else if (hasStreamedBody(req)) {
      const length = Number(req.headers['content-length']);
      if (isSafe && isIdempotent(req.method!) && length <= limits.fallbackBufferBytes) {
        try {
          body = await bufferBody(req, limits, limits.fallbackBufferBytes);
        } catch (error) {
          return refuse(ex, error as FnshiftError, true);
        }
      } else {
        body = new BodySource(req, limits);
        isBodyReplayable = false;
      }
    }
    const fnPath = upstream.basePath + rewritePath(matched, canonicalPath) + query;
    const request = baseAttempt(ex, upstream, fnPath, body, fnConfig, route, 'function');
    request.shouldDivert = (statusCode) => statusCode >= 500;
    const result = await observed(ex, request, route.function, 'function', () =>
      gate.call(route.function, () => attempt(request)),
    );
    if (result.kind === 'relayed' || result.kind === 'client_gone') return settle(ex, result, route.function);

    const bodySource = body instanceof BodySource ? body : undefined;
    const isSent = result.kind === 'diverted' || result.isSent || Boolean(bodySource?.hasStarted);
    const isResponseStarted = result.kind === 'failed' && result.isResponseStarted;
    const facts = { method: req.method!, isSent, isBodyReplayable, isResponseStarted };
    if (!isSafe || !canReplay(facts)) {
      bodySource?.destroy();
      return settle(ex, result, route.function);
    }
    const reason = result.kind === 'diverted' ? 'function_5xx' : fallbackReason(result.error);
    const replayBody = bodySource && hasStreamedBody(req) ? new BodySource(req, limits) : body;
    return toLegacy(ex, legacyPath, replayBody, route, reason);
  }

  return async function handle(req: ProxyRequest, res: ProxyResponse): Promise<void> {
    const snap = options.snapshot();
    const ex: Exchange = {
      req,
      res,
      snap,
      attempts: 0,
      event: {
        req,
        startMs: performance.now(),
        route: undefined,
        method: req.method ?? '',
        target: undefined,
        reason: 'refused',
        fallback: undefined,
        statusCode: 0,
        errorCode: undefined,
        durationMs: 0,
        upstreamWaitMs: 0,
      },
    };
    publish(channels.requestStart, ex.event);
    const guarded = guard(req, snap.config.limits);
    if (!guarded.ok) return refuse(ex, guarded.error, true);
    // Chunked is not HTTP/1.0 (RFC 9112 §6.1): a 1.0 hop before us may have framed this body otherwise,
    // so the connection is not reused after the response (HAProxy's rule for the same request).
    if (req.httpVersionMinor === 0 && req.headers['transfer-encoding'] !== undefined)
      res.shouldKeepAlive = false;
    const { path, query: rawQuery } = guarded.target;
    const query = rawQuery ? `?${rawQuery}` : '';

    const matched = snap.matcher(req.method!, path);
    if (!matched) {
      ex.event.reason = 'unmatched';
      return toLegacy(ex, path + query, bodyOf(req, snap.config.limits), undefined);
    }
    const route = matched.route;
    ex.event.route = route.name;
    const decision: Decision = decide({
      route,
      weightPercent: snap.weights.get(route.name)?.weightPercent ?? 0,
      stickyKey: readStickyKey(route.sticky, req.headers, rawQuery),
      forceHeader: req.headers[FORCE_HEADER],
      isBreakerOpen: gate.isOpen(route.function),
    });
    ex.event.reason = decision.reason;
    if (decision.target === 'function') {
      ex.event.target = 'function';
      return toFunction(ex, matched, path, query);
    }
    if (decision.reason === 'breaker_open' && route.fallback === 'never') {
      return refuse(
        ex,
        new FnshiftError('FNSHIFT_BREAKER_OPEN', `function ${route.function} is switched off by its breaker`),
        false,
      );
    }
    return toLegacy(
      ex,
      path + query,
      bodyOf(req, snap.config.limits),
      route,
      decision.reason === 'breaker_open' ? 'breaker_open' : undefined,
    );
  };
}
