// Spans made by hand over the core's channels (OTel HTTP semconv 1.45): a SERVER span per request and a
// CLIENT span per upstream attempt, whose context goes out as `traceparent`. API only: the SDK that
// records and exports them is started in tracing.ts, and without it every call here is a no-op.
import {
  type Context,
  INVALID_SPANID,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapSetter,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import { type AttemptEvent, channels, listen, type RequestEvent } from './events.ts';

export const ATTR_FNSHIFT_ROUTE = 'fnshift.route';
export const ATTR_FNSHIFT_TARGET = 'fnshift.target';
export const ATTR_FNSHIFT_DECISION = 'fnshift.decision';
export const ATTR_FNSHIFT_FALLBACK = 'fnshift.fallback';
export const ATTR_FNSHIFT_UPSTREAM = 'fnshift.upstream';

/** semconv: any other method is reported as `_OTHER` and names its span `HTTP`. */
const KNOWN_METHODS = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'QUERY',
]);
const MAX_PATH_CHARS = 1024;

type ServerEntry = {
  span: Span;
  /** The caller's context (trace parent, baggage). */
  context: Context;
  /** `context` with the SERVER span in it: the parent of every attempt, made on the first one. */
  childParent: Context | undefined;
};

// The spans ride on the core's event objects under private symbols, so they live and die with the
// request. Not a WeakMap: with a key per request its ephemerons cost about 1 µs per entry in GC (measured).
const SERVER = Symbol('fnshift.serverSpan');
const CLIENT = Symbol('fnshift.clientSpan');
type TracedRequest = RequestEvent & { [SERVER]?: ServerEntry };
type TracedAttempt = AttemptEvent & { [CLIENT]?: Span };

export type SpanOptions = {
  tracer: Tracer;
  /** The template a route matches (`/api/recommend/*`) for `http.route`; the route name when undefined. */
  routeTemplate?: (routeName: string) => string | undefined;
};

/** The request's trace id (sampled or not: it reaches the upstreams either way), for log correlation. */
export function traceIdOf(event: RequestEvent): string | undefined {
  const context = (event as TracedRequest)[SERVER]?.span.spanContext();
  return context && context.spanId !== INVALID_SPANID ? context.traceId : undefined;
}

function removeHeader(list: string[], name: string): void {
  for (let i = list.length - 2; i >= 0; i -= 2) {
    if (list[i]!.toLowerCase() === name) list.splice(i, 2);
  }
}

/** Writes into the core's flat outbound header list, replacing a pair of the same name. */
const headerListSetter: TextMapSetter<string[]> = {
  set(list, key, value) {
    removeHeader(list, key);
    list.push(key, value);
  },
};

function spanMethod(method: string): string {
  return KNOWN_METHODS.has(method) ? method : 'HTTP';
}

function setMethod(span: Span, method: string): void {
  if (KNOWN_METHODS.has(method)) return void span.setAttribute(ATTR_HTTP_REQUEST_METHOD, method);
  span.setAttribute(ATTR_HTTP_REQUEST_METHOD, '_OTHER');
  span.setAttribute(ATTR_HTTP_REQUEST_METHOD_ORIGINAL, method);
}

type Origin = { address: string; port: number };
const origins = new Map<string, Origin>();

/** Upstream origins come from the config, so this stays small; cleared anyway should reloads pile up. */
function parseOrigin(origin: string): Origin {
  let parsed = origins.get(origin);
  if (parsed) return parsed;
  const url = new URL(origin);
  parsed = {
    address: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
  };
  if (origins.size >= 256) origins.clear();
  origins.set(origin, parsed);
  return parsed;
}

/** The path of the request target, never its query (it may carry tokens); nothing for absolute-form. */
function pathOf(url: string | undefined): string | undefined {
  if (!url?.startsWith('/')) return undefined;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return path.length > MAX_PATH_CHARS ? path.slice(0, MAX_PATH_CHARS) : path;
}

function serverErrorType(event: RequestEvent): string | undefined {
  if (event.errorCode) return event.errorCode;
  return event.statusCode >= 500 ? String(event.statusCode) : undefined;
}

function clientErrorType(event: AttemptEvent): string | undefined {
  switch (event.outcome) {
    case 'failed':
      return event.errorCode === 'FNSHIFT_BREAKER_OPEN' ? 'circuit_open' : (event.errorCode ?? '_OTHER');
    case 'client_gone':
      return 'FNSHIFT_CLIENT_GONE';
    default:
      return event.statusCode !== undefined && event.statusCode >= 400 ? String(event.statusCode) : undefined;
  }
}

/** Subscribes the span makers to the core's channels; returns the call that stops them. */
export function traceRequests(options: SpanOptions): () => void {
  const { tracer } = options;
  const routeTemplate = options.routeTemplate ?? (() => undefined);

  const onRequestStart = (event: RequestEvent) => {
    const { req } = event;
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan(spanMethod(event.method), { kind: SpanKind.SERVER }, parent);
    // Unsampled requests pay for ids and propagation only, never for attributes.
    if (span.isRecording()) {
      setMethod(span, event.method);
      span.setAttribute(ATTR_URL_SCHEME, 'http');
      const path = pathOf(req.url);
      if (path !== undefined) span.setAttribute(ATTR_URL_PATH, path);
      if (req.socket.remoteAddress) span.setAttribute(ATTR_CLIENT_ADDRESS, req.socket.remoteAddress);
      span.setAttribute(ATTR_NETWORK_PROTOCOL_VERSION, req.httpVersion);
    }
    (event as TracedRequest)[SERVER] = { span, context: parent, childParent: undefined };
  };

  const onRequestEnd = (event: RequestEvent) => {
    const entry = (event as TracedRequest)[SERVER];
    if (!entry) return;
    const { span } = entry;
    if (span.isRecording()) {
      const method = spanMethod(event.method);
      if (event.route !== undefined) {
        span.updateName(`${method} ${event.route}`);
        span.setAttribute(ATTR_HTTP_ROUTE, routeTemplate(event.route) ?? event.route);
        span.setAttribute(ATTR_FNSHIFT_ROUTE, event.route);
      }
      if (event.target) span.setAttribute(ATTR_FNSHIFT_TARGET, event.target);
      span.setAttribute(ATTR_FNSHIFT_DECISION, event.reason);
      if (event.fallback) span.setAttribute(ATTR_FNSHIFT_FALLBACK, event.fallback);
      // 499: the caller left, so no status reached anyone.
      if (event.statusCode > 0 && event.statusCode !== 499)
        span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, event.statusCode);
      const errorType = serverErrorType(event);
      if (errorType) span.setAttribute(ATTR_ERROR_TYPE, errorType);
      // semconv: a server's 4xx is the caller's failure, not ours; leave the status unset.
      if (event.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  };

  const onAttemptStart = (event: AttemptEvent) => {
    const entry = (event.request as TracedRequest)[SERVER];
    let parent = ROOT_CONTEXT;
    if (entry) {
      entry.childParent ??= trace.setSpan(entry.context, entry.span);
      parent = entry.childParent;
    }
    const span = tracer.startSpan(spanMethod(event.method), { kind: SpanKind.CLIENT }, parent);
    if (span.isRecording()) {
      const origin = parseOrigin(event.origin);
      setMethod(span, event.method);
      span.setAttribute(ATTR_SERVER_ADDRESS, origin.address);
      span.setAttribute(ATTR_SERVER_PORT, origin.port);
      span.setAttribute(ATTR_URL_FULL, event.origin + event.path);
      if (event.resendCount > 0) span.setAttribute(ATTR_HTTP_REQUEST_RESEND_COUNT, event.resendCount);
      span.setAttribute(ATTR_FNSHIFT_TARGET, event.target);
      span.setAttribute(ATTR_FNSHIFT_UPSTREAM, event.upstreamName);
    }
    // Sampled or not, the upstream continues this trace. The core forwards the caller's pair as is; the
    // setter replaces traceparent, and a tracestate the propagator does not rewrite must not ride along.
    // An invalid context means no SDK behind the API (a disabled OTEL_CONFIG_FILE): leave the caller's pair.
    if (span.spanContext().spanId !== INVALID_SPANID) {
      removeHeader(event.headers, 'tracestate');
      propagation.inject(trace.setSpan(parent, span), event.headers, headerListSetter);
    }
    (event as TracedAttempt)[CLIENT] = span;
  };

  const onAttemptEnd = (event: AttemptEvent) => {
    const span = (event as TracedAttempt)[CLIENT];
    if (!span) return;
    if (span.isRecording()) {
      if (event.statusCode !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, event.statusCode);
      const errorType = clientErrorType(event);
      if (errorType) {
        span.setAttribute(ATTR_ERROR_TYPE, errorType);
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
    }
    span.end();
  };

  const unsubscribers = [
    listen(channels.requestStart, onRequestStart),
    listen(channels.requestEnd, onRequestEnd),
    listen(channels.attemptStart, onAttemptStart),
    listen(channels.attemptEnd, onAttemptEnd),
  ];
  return () => {
    for (const unsubscribe of unsubscribers.splice(0)) unsubscribe();
  };
}
