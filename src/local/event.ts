// The function event and result shapes shared by AWS Lambda function URLs (payload 2.0) and Alibaba FC 3.0 HTTP triggers.
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import {
  type IncomingMessage,
  type ServerResponse,
  validateHeaderName,
  validateHeaderValue,
} from 'node:http';
import { type ErrorCode, FnshiftError, problemBody } from '../errors.ts';

export type FunctionEvent = {
  version: '2.0';
  routeKey: '$default';
  rawPath: string;
  rawQueryString: string;
  headers: Record<string, string>;
  cookies?: string[];
  queryStringParameters: Record<string, string>;
  /** The same map under Function Compute's name, so FC handlers run unchanged. */
  queryParameters: Record<string, string>;
  body: string;
  isBase64Encoded: boolean;
  requestContext: {
    domainName: string;
    http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
    requestId: string;
    routeKey: '$default';
    stage: '$default';
    timeEpoch: number;
  };
};

export type HeaderValue = string | number | boolean;

export type FunctionResult = {
  statusCode: number;
  headers?: Record<string, HeaderValue>;
  multiValueHeaders?: Record<string, HeaderValue[]>;
  cookies?: string[];
  body?: string;
  isBase64Encoded?: boolean;
};

export type EventOptions = Readonly<{ basePath?: string; requestId?: string }>;

/** The codes the local function host answers with, from the one table in errors.ts (RFC 9457 bodies). */
export type HostErrorCode = Extract<
  ErrorCode,
  | 'FNSHIFT_BAD_REQUEST'
  | 'FNSHIFT_NOT_FOUND'
  | 'FNSHIFT_BODY_TOO_LARGE'
  | 'FNSHIFT_HEADERS_TOO_LARGE'
  | 'FNSHIFT_FUNCTION_THREW'
  | 'FNSHIFT_FUNCTION_BAD_RESULT'
  | 'FNSHIFT_FUNCTION_TIMEOUT'
  | 'FNSHIFT_INTERNAL'
>;

const JSON_TYPE = 'application/json; charset=utf-8';

/** Types whose bodies reach the function as text; everything else is base64, as on Lambda and FC. */
const TEXT_TYPE =
  /^(text\/|application\/([\w.-]+\+)?(json|xml|javascript|x-www-form-urlencoded|graphql|x-ndjson|yaml)\b)/i;

/** Framing is ours to compute; hop-by-hop fields (RFC 9110 §7.6.1) must not come from a function. */
const DROPPED_RESULT_HEADERS = new Set([
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
]);

/** Names starting with this belong to the proxy; a function must not be able to forge them. */
const RESERVED_PREFIX = 'x-fnshift-';

/** Duplicate headers joined as Lambda does (`,`); Cookie lines join with `; ` instead (RFC 9113 §8.2.3). */
function joinHeaders(rawHeaders: readonly string[]): Map<string, string> {
  const headers = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    const previous = headers.get(name);
    headers.set(
      name,
      previous === undefined ? value : `${previous}${name === 'cookie' ? '; ' : ','}${value}`,
    );
  }
  return headers;
}

/** Query parameters decoded, duplicates joined with `,` (Lambda's rule); bad escapes are kept as written. */
function queryMap(rawQueryString: string): Record<string, string> {
  const params = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    const previous = params.get(name);
    params.set(name, previous === undefined ? value : `${previous},${value}`);
  }
  // fromEntries defines own properties, so a parameter named __proto__ stays data.
  return Object.fromEntries(params);
}

function isTextBody(body: Buffer, contentType: string | undefined): boolean {
  if (contentType !== undefined && !TEXT_TYPE.test(contentType.trim())) return false;
  return isUtf8(body);
}

function stripBasePath(path: string, basePath: string): string {
  if (!basePath || basePath === '/' || !path.startsWith(basePath)) return path;
  const rest = path.slice(basePath.length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

/** The event a function sees for `req`; `basePath` (the function's mount, `/recommend`) is cut from the path. */
export function toEvent(req: IncomingMessage, body: Buffer, options: EventOptions = {}): FunctionEvent {
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const rawPath = stripBasePath(q === -1 ? target : target.slice(0, q), options.basePath ?? '');
  const rawQueryString = q === -1 ? '' : target.slice(q + 1);
  const headers = joinHeaders(req.rawHeaders);
  const query = queryMap(rawQueryString);
  const isText = isTextBody(body, headers.get('content-type'));
  const requestId = options.requestId ?? randomUUID();
  const cookie = headers.get('cookie');
  const event: FunctionEvent = {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    // Cookie stays in headers too: Lambda handlers read `cookies`, FC handlers the header.
    headers: Object.fromEntries(headers),
    queryStringParameters: query,
    queryParameters: { ...query },
    body: body.toString(isText ? 'utf8' : 'base64'),
    isBase64Encoded: !isText,
    requestContext: {
      domainName: headers.get('host') ?? '',
      http: {
        method: req.method ?? 'GET',
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '',
        userAgent: headers.get('user-agent') ?? '',
      },
      requestId,
      routeKey: '$default',
      stage: '$default',
      timeEpoch: Date.now(),
    },
  };
  if (cookie) event.cookies = cookie.split(';').flatMap((c) => (c.trim() ? [c.trim()] : []));
  return event;
}

/** The body bytes of an event, whichever way it was encoded. */
export function eventBody(event: Pick<FunctionEvent, 'body' | 'isBase64Encoded'>): Buffer {
  return Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
}

/** A handler result with a JSON body. */
export function jsonResult(
  statusCode: number,
  value: unknown,
  headers: Record<string, string> = {},
): FunctionResult {
  return { statusCode, headers: { 'content-type': JSON_TYPE, ...headers }, body: JSON.stringify(value) };
}

type Reply = { statusCode: number; headers: Array<[string, string]>; body: Buffer };
type Normalized = { ok: true; response: Reply } | { ok: false; reason: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isHeaderValue(value: unknown): value is HeaderValue {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/** Valid header pairs of a result, or why not; Node's own validators refuse CR, LF and bad tokens. */
function resultHeaders(result: Record<string, unknown>): Array<[string, string]> | string {
  const pairs: Array<[string, unknown]> = [];
  if (result.headers !== undefined && !isRecord(result.headers)) return 'headers must be an object';
  if (result.multiValueHeaders !== undefined && !isRecord(result.multiValueHeaders)) {
    return 'multiValueHeaders must be an object';
  }
  if (result.cookies !== undefined && !Array.isArray(result.cookies)) return 'cookies must be an array';
  for (const [name, value] of Object.entries(result.headers ?? {})) pairs.push([name, value]);
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) {
    if (!Array.isArray(values)) return `multiValueHeaders.${name} must be an array`;
    for (const value of values) pairs.push([name, value]);
  }
  for (const cookie of (result.cookies as unknown[] | undefined) ?? []) pairs.push(['set-cookie', cookie]);
  const out: Array<[string, string]> = [];
  for (const [name, value] of pairs) {
    if (!isHeaderValue(value)) return 'header values must be strings, numbers or booleans';
    try {
      validateHeaderName(name);
      validateHeaderValue(name, String(value));
    } catch {
      return 'a header name or value is invalid';
    }
    const lower = name.toLowerCase();
    if (!DROPPED_RESULT_HEADERS.has(lower) && !lower.startsWith(RESERVED_PREFIX)) {
      out.push([lower, String(value)]);
    }
  }
  return out;
}

function inferred(body: string): Normalized {
  const headers: Array<[string, string]> = [['content-type', 'application/json']];
  return { ok: true, response: { statusCode: 200, headers, body: Buffer.from(body) } };
}

/** Lambda's rules: an object with `statusCode` is a response; any other value is a 200 JSON body. */
function normalizeResult(result: unknown): Normalized {
  if (typeof result === 'string') return inferred(result);
  if (!isRecord(result) || !('statusCode' in result)) {
    let json: string | undefined;
    try {
      json = JSON.stringify(result);
    } catch {
      return { ok: false, reason: 'the result cannot be serialised as JSON' };
    }
    return json === undefined ? { ok: false, reason: 'the function returned nothing' } : inferred(json);
  }
  const { statusCode, body } = result;
  // 1xx cannot end an exchange (RFC 9110 §15.2): the client would wait for a final response forever.
  if (!Number.isInteger(statusCode) || (statusCode as number) < 200 || (statusCode as number) > 599) {
    return { ok: false, reason: 'statusCode must be an integer from 200 to 599' };
  }
  if (body !== undefined && body !== null && typeof body !== 'string') {
    return { ok: false, reason: 'body must be a string' };
  }
  const headers = resultHeaders(result);
  if (typeof headers === 'string') return { ok: false, reason: headers };
  if (!headers.some(([name]) => name === 'content-type')) headers.push(['content-type', 'application/json']);
  const bytes = Buffer.from(body ?? '', result.isBase64Encoded === true ? 'base64' : 'utf8');
  return { ok: true, response: { statusCode: statusCode as number, headers, body: bytes } };
}

/** The problem+json document (RFC 9457) for a host error, shaped like the proxy's own. */
export function hostProblem(code: HostErrorCode, detail: string): { status: number; body: Buffer } {
  const error = new FnshiftError(code, detail);
  return { status: error.status, body: Buffer.from(problemBody(error)) };
}

/** Writes a problem+json error; `fixedHeaders` (the host's own marks) are always sent. */
export function writeProblem(
  res: ServerResponse,
  code: HostErrorCode,
  detail: string,
  fixedHeaders: Readonly<Record<string, string>> = {},
): number {
  const { status, body } = hostProblem(code, detail);
  if (res.headersSent || res.destroyed) return status;
  res.writeHead(status, {
    ...fixedHeaders,
    'content-type': 'application/problem+json',
    'content-length': body.length,
  });
  res.end(body);
  return status;
}

/**
 * Writes a handler's result to `res` and returns the status sent. A result that is not a valid
 * response becomes a 502 `FNSHIFT_FUNCTION_BAD_RESULT`, never a half-written reply.
 */
export function writeResult(
  res: ServerResponse,
  result: unknown,
  fixedHeaders: Readonly<Record<string, string>> = {},
): number {
  const normalized = normalizeResult(result);
  if (!normalized.ok) {
    return writeProblem(res, 'FNSHIFT_FUNCTION_BAD_RESULT', normalized.reason, fixedHeaders);
  }
  const { statusCode, headers, body } = normalized.response;
  if (res.headersSent || res.destroyed) return statusCode;
  const fixed = new Set(Object.keys(fixedHeaders).map((name) => name.toLowerCase()));
  for (const [name, value] of headers) if (!fixed.has(name)) res.appendHeader(name, value);
  for (const [name, value] of Object.entries(fixedHeaders)) res.setHeader(name, value);
  // 204 and 304 carry no content, and no Content-Length either (RFC 9110 §8.6).
  const hasContent = statusCode !== 204 && statusCode !== 304;
  if (hasContent) res.setHeader('content-length', body.length);
  res.writeHead(statusCode);
  res.end(hasContent ? body : undefined);
  return statusCode;
}
