// The first stage: reject what is ambiguous or over a limit, and compute the one canonical path that
// is both matched and forwarded. Pure functions; nothing here throws on any input.
import type { LimitsConfig } from '../config/schema.ts';
import { FnshiftError } from '../errors.ts';
import type { ProxyRequest } from './exchange.ts';

export type Target = Readonly<{ path: string; query: string }>;
export type GuardResult = { ok: true; target: Target } | { ok: false; error: FnshiftError };

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const HEX = '0123456789ABCDEF';

function badPath(message: string): GuardResult {
  return { ok: false, error: new FnshiftError('FNSHIFT_BAD_PATH', message) };
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/**
 * The canonical form of a request target, or why it is refused. Origin-form only (RFC 9112 §3.2.1).
 * Escapes of unreserved characters are decoded and the rest upper-cased (RFC 3986 §6.2.2), so `/%61pi`
 * and `/api` route and forward alike. Anything a backend might read differently from us is refused
 * rather than repaired: dot segments (raw or escaped), `//`, `\`, encoded `/` and `\`, `;` parameters,
 * `#`, malformed escapes, and control or non-ASCII bytes.
 */
export function canonicalTarget(rawTarget: string): GuardResult {
  if (rawTarget === '*') return badPath('asterisk-form targets are not proxied');
  if (rawTarget.charCodeAt(0) !== 47 /* '/' */)
    return badPath('only origin-form targets (starting with /) are accepted');
  const q = rawTarget.indexOf('?');
  const rawPath = q === -1 ? rawTarget : rawTarget.slice(0, q);
  const query = q === -1 ? '' : rawTarget.slice(q + 1);
  if (rawTarget.includes('#')) return badPath('a fragment (#) is not part of a request target');

  // The path is rawPath itself unless an escape needs rewriting; only then is a new string built.
  let rewritten: string | undefined;
  let copiedTo = 0;
  for (let i = 0; i < rawPath.length; i++) {
    const code = rawPath.charCodeAt(i);
    if (code <= 0x20 || code >= 0x7f) return badPath('control, space or non-ASCII byte in the path');
    if (code === 0x5c /* \ */) return badPath('backslash in the path');
    if (code === 0x3b /* ; */) return badPath('path parameters (;) are not accepted');
    if (code === 0x25 /* % */) {
      const hi = hexValue(rawPath.charCodeAt(i + 1));
      const lo = hexValue(rawPath.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return badPath('malformed percent-escape in the path');
      const byte = hi * 16 + lo;
      const char = String.fromCharCode(byte);
      if (byte === 0x2f || byte === 0x5c) return badPath('encoded slash or backslash in the path');
      if (byte < 0x20 || byte === 0x7f) return badPath('encoded control byte in the path');
      const canonical = byte < 0x80 && UNRESERVED.test(char) ? char : `%${HEX[hi]}${HEX[lo]}`;
      rewritten = (rewritten ?? '') + rawPath.slice(copiedTo, i) + canonical;
      i += 2;
      copiedTo = i + 1;
    }
  }
  const path = rewritten === undefined ? rawPath : rewritten + rawPath.slice(copiedTo);
  if (path.includes('//')) return badPath('empty path segment (//)');
  if (hasDotSegment(path)) return badPath('dot segment in the path');
  return { ok: true, target: { path, query } };
}

/** A `.` or `..` segment in a path that starts with `/` (every segment follows a `/`). */
function hasDotSegment(path: string): boolean {
  for (let at = path.indexOf('/.'); at !== -1; at = path.indexOf('/.', at + 1)) {
    const next = path.charCodeAt(at + 2);
    if (Number.isNaN(next) || next === 0x2f) return true;
    if (next === 0x2e) {
      const after = path.charCodeAt(at + 3);
      if (Number.isNaN(after) || after === 0x2f) return true;
    }
  }
  return false;
}

function headerError(
  code: 'FNSHIFT_BAD_HEADER' | 'FNSHIFT_HEADERS_TOO_LARGE',
  message: string,
): FnshiftError {
  return new FnshiftError(code, message);
}

/**
 * Header checks Node's parser leaves to us: the count limit (431), one Host only (RFC 9112 §3.2),
 * no underscores in names (CGI-style apps map `_` to `-`, which lets `X_Forwarded_For` spoof).
 */
export function checkHeaders(rawHeaders: readonly string[], limits: LimitsConfig): FnshiftError | undefined {
  if (rawHeaders.length / 2 > limits.maxHeaderCount) {
    return headerError('FNSHIFT_HEADERS_TOO_LARGE', `more than ${limits.maxHeaderCount} header fields`);
  }
  let hosts = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
    if (name.includes('_')) return headerError('FNSHIFT_BAD_HEADER', 'underscore in a header name');
  }
  if (hosts > 1) return headerError('FNSHIFT_BAD_HEADER', 'more than one Host header');
  return undefined;
}

/** A declared body over the cap is refused before a byte of it is read (nginx client_max_body_size). */
export function checkDeclaredBody(req: ProxyRequest, limits: LimitsConfig): FnshiftError | undefined {
  const length = req.headers['content-length'];
  if (length !== undefined && Number(length) > limits.maxBodyBytes) {
    return new FnshiftError(
      'FNSHIFT_BODY_TOO_LARGE',
      `body of ${length} bytes exceeds ${limits.maxBodyBytes}`,
    );
  }
  return undefined;
}

/**
 * Node accepts any coding list that ends in chunked (`gzip, chunked`). The field is hop-by-hop and dropped
 * on the way out, so a body still gzip-coded would reach the upstream unlabelled: only plain chunked passes.
 */
export function checkTransferEncoding(req: ProxyRequest): FnshiftError | undefined {
  const te = req.headers['transfer-encoding'];
  if (te === undefined || te.trim().toLowerCase() === 'chunked') return undefined;
  return headerError('FNSHIFT_BAD_HEADER', 'only Transfer-Encoding: chunked is accepted');
}

export function guard(req: ProxyRequest, limits: LimitsConfig): GuardResult {
  const headerProblem =
    checkHeaders(req.rawHeaders, limits) ?? checkTransferEncoding(req) ?? checkDeclaredBody(req, limits);
  if (headerProblem) return { ok: false, error: headerProblem };
  return canonicalTarget(req.url ?? '');
}
