// Recognises the request shapes that dominate a sidecar's traffic: an HTTP/1.1 request with a plain
// header section and no body, or a small body framed by Content-Length, arrived whole with its head (the
// reads, and the feedback or cart POSTs between them). It does not reject anything: whatever it is not
// sure of (a chunked or large body, a body cut across reads, an upgrade, Expect, HTTP/1.0, a repeated
// field, a byte out of the strict grammar, a head cut across reads, a limit reached) is left to Node's
// parser, which answers errors as before. So it only needs to be right about what it accepts, never
// about what it refuses.
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
  /** Content-Length (0 without one): the body is the `bodyBytes` after the head, all of them read. */
  bodyBytes: number;
};

/**
 * The largest body taken with its head. A body this size fits in one or two reads; a larger one is
 * streamed by Node's side, so the fast lane never holds much of a caller's upload in memory.
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

/** The parsed head, or undefined when Node's parser should have the bytes (see the file comment). */
export function parseFastHead(bytes: Buffer, limits: LimitsConfig): FastHead | undefined {
  const end = bytes.indexOf(CRLF_CRLF);
  if (end === -1 || end + 4 > limits.maxHeaderBytes) return undefined;
  const text = bytes.toString('latin1', 0, end);
  let eol = text.indexOf('\r\n');
  const match = REQUEST_LINE.exec(eol === -1 ? text : text.slice(0, eol));
  if (!match) return undefined;
  const rawHeaders: string[] = [];
  // No prototype: `__proto__` or `constructor` is then a field like any other (and left to Node below).
  const headers: Record<string, string> = Object.create(null);
  let isClose = false;
  while (eol !== -1) {
    if (rawHeaders.length >= limits.maxHeaderCount * 2) return undefined;
    const start = eol + 2;
    eol = text.indexOf('\r\n', start);
    const lineEnd = eol === -1 ? text.length : eol;
    const colon = text.indexOf(':', start);
    if (colon === -1 || colon >= lineEnd) return undefined;
    if (!isToken(text, start, colon) || !isPlainAscii(text, colon + 1, lineEnd)) return undefined;
    const name = text.slice(start, colon);
    const value = owsTrimmedSlice(text, colon + 1, lineEnd);
    const lower = name.toLowerCase();
    if (LEFT_TO_NODE.has(lower) || headers[lower] !== undefined) return undefined;
    if (lower === 'connection') {
      const token = value.toLowerCase();
      if (token === 'close') isClose = true;
      else if (token !== 'keep-alive') return undefined;
    }
    headers[lower] = value;
    rawHeaders.push(name, value);
  }
  if (headers.host === undefined) return undefined;
  const headBytes = end + 4;
  let bodyBytes = 0;
  const length = headers['content-length'];
  if (length !== undefined) {
    if (!CONTENT_LENGTH.test(length)) return undefined;
    bodyBytes = Number(length);
    // Over the cap: Node's side answers 413. Not all here yet: Node's side reads the rest as it comes.
    if (bodyBytes > Math.min(limits.maxBodyBytes, MAX_WHOLE_BODY_BYTES)) return undefined;
    if (headBytes + bodyBytes > bytes.length) return undefined;
  }
  return { method: match[1]!, url: match[2]!, rawHeaders, headers, isClose, headBytes, bodyBytes };
}
