// Recognises the request shapes that dominate a sidecar's traffic: an HTTP/1.1 request with a plain
// header section and no body, or a small body framed by Content-Length (the reads, and the feedback or
// cart POSTs between them). It does not reject anything: whatever it is not sure of (a chunked or large
// body, an upgrade, Expect, HTTP/1.0, a repeated field, a byte out of the strict grammar, a limit
// reached) is left to Node's parser, which answers errors as before. So it only needs to be right about
// what it accepts, never about what it refuses. What it would take but has not all read yet, the lane
// waits for: a head cut across reads (isHeadPending), and a small body after a whole head
// (cutRequestBytes).
import type { LimitsConfig } from '../config/schema.ts';
import { isPlainAscii, isToken, owsTrimmedSlice } from './http-syntax.ts';

export type FastHead = {
  method: string;
  /** The request target as sent (origin-form; the guard canonicalises it). */
  url: string;
  /** Names as sent, values trimmed: `[name, value, ...]`, as IncomingMessage.rawHeaders. */
  rawHeaders: string[];
  /** Lower-case names, each present once; no prototype. */
  headers: Record<string, string>;
  /** The caller sent `Connection: close`. */
  isClose: boolean;
  /** Bytes the head took, its final CRLF included. */
  headBytes: number;
  /** Content-Length (0 without one): the body is the `bodyBytes` after the head. */
  bodyBytes: number;
};

/**
 * The largest body the lane reads whole before forwarding it. A larger one is streamed by Node's side,
 * so the fast lane never holds much of a caller's upload in memory.
 */
export const MAX_WHOLE_BODY_BYTES = 64 * 1024;

const CRLF_CRLF = Buffer.from('\r\n\r\n');
const REQUEST_LINE = /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) (\/[\x21-\x7e]*) HTTP\/1\.1$/;
/** Digits only: no sign, no list (`5, 5`), no spaces inside; at most 9 keeps Number() exact and small. */
const CONTENT_LENGTH = /^[0-9]{1,9}$/;

/**
 * Fields whose presence means chunked framing, protocol switching or interim responses: Node handles
 * those requests, so the fast lane never decodes chunks or answers 100-continue.
 */
const LEFT_TO_NODE = new Set(['transfer-encoding', 'upgrade', 'expect', 'http2-settings', 'te', 'trailer']);

/**
 * The parsed head, its body all read, or undefined when Node's parser should have the bytes (see the file
 * comment) or the body is still cut (cutRequestBytes tells).
 */
export function parseFastHead(bytes: Buffer, limits: LimitsConfig): FastHead | undefined {
  const head = readHead(bytes, limits);
  return head && head.headBytes + head.bodyBytes <= bytes.length ? head : undefined;
}

/**
 * The bytes (head and body) of the request at the start of `bytes` when it is one the lane would take
 * and only its Content-Length body is cut, so the lane waits for the rest; 0 otherwise. A body of a few
 * KB over a real network comes in several TCP segments, and a hand-off to Node is for good.
 */
export function cutRequestBytes(bytes: Buffer, limits: LimitsConfig): number {
  const head = readHead(bytes, limits);
  const requestBytes = head ? head.headBytes + head.bodyBytes : 0;
  return requestBytes > bytes.length ? requestBytes : 0;
}

/** parseFastHead without the check that the body is all there. */
function readHead(bytes: Buffer, limits: LimitsConfig): FastHead | undefined {
  const end = bytes.indexOf(CRLF_CRLF);
  if (end === -1 || end + 4 > limits.maxHeaderBytes) return undefined;
  const text = bytes.toString('latin1', 0, end);
  let eol = text.indexOf('\r\n');
  const match = REQUEST_LINE.exec(eol === -1 ? text : text.slice(0, eol));
  if (!match) return undefined;
  const rawHeaders: string[] = [];
  // No prototype: `__proto__` or `constructor` is then a field like any other (and left to Node below).
  const headers: Record<string, string> = Object.create(null);
  while (eol !== -1) {
    if (rawHeaders.length >= limits.maxHeaderCount * 2) return undefined;
    const start = eol + 2;
    eol = text.indexOf('\r\n', start);
    if (!takeField(text, start, eol === -1 ? text.length : eol, headers, rawHeaders)) return undefined;
  }
  if (headers.host === undefined) return undefined;
  const isClose = headers.connection?.toLowerCase() === 'close';
  const headBytes = end + 4;
  let bodyBytes = 0;
  const length = headers['content-length'];
  if (length !== undefined) {
    if (!CONTENT_LENGTH.test(length)) return undefined;
    bodyBytes = Number(length);
    // Over the cap: Node's side answers 413. Over the lane's size: Node's side streams it.
    if (bodyBytes > Math.min(limits.maxBodyBytes, MAX_WHOLE_BODY_BYTES)) return undefined;
  }
  return { method: match[1]!, url: match[2]!, rawHeaders, headers, isClose, headBytes, bodyBytes };
}

/**
 * Whether `bytes` are the start of a head the lane would take, cut across reads: no blank line yet, under
 * maxHeaderBytes, a request line the lane accepts (or the start of one) and every whole field line so
 * far one it accepts.
 * Then the lane waits for the rest instead of handing the connection to Node for good, which a head
 * split over two TCP segments (a 2 KB cookie on a 1,460-byte MSS) would otherwise do on every
 * long-lived connection sooner or later. Anything else is Node's at once, so its 400s come as before.
 */
export function isHeadPending(bytes: Buffer, limits: LimitsConfig): boolean {
  if (bytes.length >= limits.maxHeaderBytes || bytes.indexOf(CRLF_CRLF) !== -1) return false;
  const text = bytes.toString('latin1');
  const lastEol = text.lastIndexOf('\r\n');
  if (lastEol === -1) return isRequestLineStart(text);
  let eol = text.indexOf('\r\n');
  if (!REQUEST_LINE.test(text.slice(0, eol))) return false;
  const headers: Record<string, string> = Object.create(null);
  const rawHeaders: string[] = [];
  while (eol !== lastEol) {
    if (rawHeaders.length >= limits.maxHeaderCount * 2) return false;
    const start = eol + 2;
    eol = text.indexOf('\r\n', start);
    if (!takeField(text, start, eol, headers, rawHeaders)) return false;
  }
  return true;
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const VERSION = 'HTTP/1.1';
const TARGET_SO_FAR = /^(?:\/[\x21-\x7e]*)?$/;

/**
 * Whether `line`, no CRLF yet, can still grow into a request line REQUEST_LINE accepts: a long query
 * string can put a segment boundary inside the request line too.
 */
function isRequestLineStart(line: string): boolean {
  const afterMethod = line.indexOf(' ');
  if (afterMethod === -1) return line !== '' && METHODS.some((method) => method.startsWith(line));
  if (!METHODS.includes(line.slice(0, afterMethod))) return false;
  const afterTarget = line.indexOf(' ', afterMethod + 1);
  const target = line.slice(afterMethod + 1, afterTarget === -1 ? line.length : afterTarget);
  if (!TARGET_SO_FAR.test(target)) return false;
  if (afterTarget === -1) return true;
  const version = line.slice(afterTarget + 1);
  return target !== '' && (VERSION.startsWith(version) || version === `${VERSION}\r`);
}

/**
 * Takes one field line, text[start, lineEnd), into `headers` and `rawHeaders`; false when Node should
 * judge it instead (not a token, not plain ASCII, a field the lane leaves to Node, a repeat, a Connection
 * other than close or keep-alive).
 */
function takeField(
  text: string,
  start: number,
  lineEnd: number,
  headers: Record<string, string>,
  rawHeaders: string[],
): boolean {
  const colon = text.indexOf(':', start);
  if (colon === -1 || colon >= lineEnd) return false;
  if (!isToken(text, start, colon) || !isPlainAscii(text, colon + 1, lineEnd)) return false;
  const name = text.slice(start, colon);
  const value = owsTrimmedSlice(text, colon + 1, lineEnd);
  const lower = name.toLowerCase();
  if (LEFT_TO_NODE.has(lower) || headers[lower] !== undefined) return false;
  if (lower === 'connection') {
    const token = value.toLowerCase();
    if (token !== 'close' && token !== 'keep-alive') return false;
  }
  headers[lower] = value;
  rawHeaders.push(name, value);
  return true;
}
