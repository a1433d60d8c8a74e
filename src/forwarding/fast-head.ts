// Recognises the one request shape that dominates a sidecar's traffic: a bodiless GET or HEAD in
// HTTP/1.1 with a plain header section, arrived whole. It does not reject anything: whatever it is not
// sure of (a body, an upgrade, HTTP/1.0, a repeated field, a byte out of the strict grammar, a head cut
// across reads, a limit reached) is left to Node's parser, which answers errors as before. So it only
// needs to be right about what it accepts, never about what it refuses.
import type { LimitsConfig } from '../config/schema.ts';
import { isPlainAscii, isToken, owsTrimmedSlice } from './http-syntax.ts';

export type FastHead = {
  method: 'GET' | 'HEAD';
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
};

const CRLF_CRLF = Buffer.from('\r\n\r\n');
const REQUEST_LINE = /^(GET|HEAD) (\/[\x21-\x7e]*) HTTP\/1\.1$/;

/**
 * Fields whose presence means framing, protocol switching or interim responses: Node handles those
 * requests, so the fast lane never frames a body or answers 100-continue.
 */
const LEFT_TO_NODE = new Set([
  'content-length',
  'transfer-encoding',
  'upgrade',
  'expect',
  'http2-settings',
  'te',
  'trailer',
]);

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
  return {
    method: match[1] as 'GET' | 'HEAD',
    url: match[2]!,
    rawHeaders,
    headers,
    isClose,
    headBytes: end + 4,
  };
}
