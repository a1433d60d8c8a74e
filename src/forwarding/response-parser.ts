// An incremental HTTP/1.1 parser for what an upstream answers: the status line, the header fields and
// the body's framing (Content-Length, chunked, or until close). It is strict where leniency lets a
// response smuggle a second one or reach the caller half-read (RFC 9112 §6.3, §11.2): bare LF, obs-fold,
// Transfer-Encoding other than a single `chunked`, TE with Content-Length, differing Content-Lengths.
// Bytes go in with execute(); the head, body chunks and the end come out through the sink, in order.

import { hasControlByte, isToken, owsTrimmedSlice, trimOws } from './http-syntax.ts';

export type ResponseHead = {
  statusCode: number;
  statusMessage: string;
  /**
   * The header fields as a flat `[name, value, ...]` list: lower-case names, in the order sent, a
   * repeated name repeated (Set-Cookie). A list, not an object: it is copied onward as it is, and
   * building a keyed object per response cost more than everything else the parser does.
   */
  fields: string[];
  /** The Connection field's value (every line joined), for the names it lists as hop-by-hop. */
  connection: string | undefined;
  /** The connection may carry the next request once this response is read whole. */
  isKeepAlive: boolean;
  /** The upstream's `Keep-Alive: timeout=N` hint, in milliseconds. */
  keepAliveHintMs: number | undefined;
};

export type ResponseSink = {
  onHead(head: ResponseHead): void;
  /** Body bytes, borrowed from the chunk being parsed: copy what must outlive the call. */
  onData(chunk: Buffer): void;
  onEnd(): void;
};

export type ResponseParserOptions = {
  /** A response to HEAD carries no body whatever its headers say. */
  isHeadRequest: boolean;
  maxHeaderBytes: number;
  maxBodyBytes: number;
};

/** Anything an upstream sent that is not a response fnshift can relay faithfully. */
export class ResponseParseError extends Error {
  readonly code: string = 'UPSTREAM_BAD_RESPONSE';
  constructor(message: string) {
    super(message);
    this.name = 'ResponseParseError';
  }
}

/**
 * The upstream closed before its response was whole: nothing malformed was sent, the connection just
 * ended (a killed instance, a reset), so it is reported as a closed connection, not a bad response.
 */
export class ResponseCutShortError extends ResponseParseError {
  override readonly code = 'UPSTREAM_CLOSED';
  constructor(message: string) {
    super(message);
    this.name = 'ResponseCutShortError';
  }
}

const State = {
  Head: 0,
  Length: 1,
  ChunkSize: 2,
  ChunkData: 3,
  ChunkEnd: 4,
  Trailers: 5,
  UntilClose: 6,
  Done: 7,
} as const;
type State = (typeof State)[keyof typeof State];

const CRLF_CRLF = Buffer.from('\r\n\r\n');
/** Field values and reason phrases: HTAB, SP, VCHAR and obs-text; any other control byte is refused. */
const DIGITS = /^\d+$/;
const CHUNK_LINE = /^([0-9A-Fa-f]{1,15})[ \t]*(?:;.*)?$/;
/** A chunk-size line or a trailer section longer than this is not a real one. */
const MAX_CHUNK_LINE_BYTES = 4096;

export class ResponseParser {
  readonly #options: ResponseParserOptions;
  readonly #sink: ResponseSink;
  #state: State = State.Head;
  /** Bytes of an incomplete head, chunk-size line or trailer section carried over to the next execute(). */
  #pending: Buffer | undefined;
  #remaining = 0;
  #bodyBytes = 0;
  /** Bytes arrived after the response ended: the connection cannot be trusted with another request. */
  hasTrailingBytes = false;

  constructor(options: ResponseParserOptions, sink: ResponseSink) {
    this.#options = options;
    this.#sink = sink;
  }

  get isDone(): boolean {
    return this.#state === State.Done;
  }

  /** The sink may stop the parser from any callback; nothing more is delivered after. */
  stop(): void {
    this.#isStopped = true;
    this.#state = State.Done;
    this.#pending = undefined;
  }

  #isStopped = false;

  /**
   * Throws ResponseParseError on bytes that are not a valid response. `chunk` may be borrowed (a reused
   * read buffer): bytes kept for the next call are copied, and body slices reach the sink borrowed too.
   */
  execute(chunk: Buffer): void {
    let data = chunk;
    if (this.#pending) {
      data = Buffer.concat([this.#pending, chunk]);
      this.#pending = undefined;
    }
    let at = 0;
    while (at < data.length && !this.#isStopped) {
      switch (this.#state) {
        case State.Head:
          at = this.#head(data, at, chunk.length);
          break;
        case State.Length:
          at = this.#take(data, at);
          if (this.#remaining === 0 && !this.#isStopped) this.#end();
          break;
        case State.ChunkSize:
          at = this.#chunkSize(data, at);
          break;
        case State.ChunkData:
          at = this.#take(data, at);
          if (this.#remaining === 0 && !this.#isStopped) this.#state = State.ChunkEnd;
          break;
        case State.ChunkEnd:
          if (data.length - at < 2) {
            this.#pending = Buffer.from(data.subarray(at));
            return;
          }
          if (data[at] !== 13 || data[at + 1] !== 10)
            throw new ResponseParseError('chunk not followed by CRLF');
          at += 2;
          this.#state = State.ChunkSize;
          break;
        case State.Trailers:
          at = this.#trailers(data, at);
          break;
        case State.UntilClose:
          this.#body(data.subarray(at));
          at = data.length;
          break;
        case State.Done:
          if (at < data.length) this.hasTrailingBytes = true;
          return;
      }
    }
  }

  /** The upstream closed the connection: the end of a close-delimited body, or a response cut short. */
  finish(): void {
    if (this.#isStopped) return;
    if (this.#state === State.UntilClose) return this.#end();
    if (this.#state !== State.Done) {
      throw new ResponseCutShortError(
        this.#state === State.Head && this.#pending === undefined
          ? 'closed before a response'
          : 'closed before the response was complete',
      );
    }
  }

  #head(data: Buffer, at: number, newBytes: number): number {
    // Search only where the terminator can be: the carried-over bytes were searched already.
    const from = Math.max(at, data.length - newBytes - 3);
    const end = data.indexOf(CRLF_CRLF, from);
    if (end === -1) {
      // A head with bare LF line ends would never show CRLF CRLF: refuse it now, not at the deadline.
      for (let lf = data.indexOf(10, Math.max(at, from)); lf !== -1; lf = data.indexOf(10, lf + 1)) {
        if (lf === at || data[lf - 1] !== 13) throw new ResponseParseError('bare LF in the response head');
      }
      if (data.length - at > this.#options.maxHeaderBytes) {
        throw new ResponseParseError(`response head exceeds ${this.#options.maxHeaderBytes} bytes`);
      }
      this.#pending = Buffer.from(data.subarray(at));
      return data.length;
    }
    if (end - at > this.#options.maxHeaderBytes) {
      throw new ResponseParseError(`response head exceeds ${this.#options.maxHeaderBytes} bytes`);
    }
    const head = parseHead(data.toString('latin1', at, end), this.#options);
    const next = end + 4;
    if (head.statusCode < 200) {
      // 100, 102 and 103 precede the real response and are not relayed; 101 was never asked for.
      if (head.statusCode === 101) throw new ResponseParseError('101 Switching Protocols to a plain request');
      return next;
    }
    this.#frame(head);
    this.#sink.onHead(head.head);
    if (this.#isStopped) return data.length;
    if (head.framing === 'none' || (head.framing === 'length' && head.length === 0)) this.#end();
    return next;
  }

  #frame(parsed: ParsedHead): void {
    if (parsed.framing === 'length') {
      this.#state = State.Length;
      this.#remaining = parsed.length;
    } else if (parsed.framing === 'chunked') {
      this.#state = State.ChunkSize;
    } else if (parsed.framing === 'close') {
      this.#state = State.UntilClose;
    }
  }

  #chunkSize(data: Buffer, at: number): number {
    const lf = data.indexOf(10, at);
    if (lf === -1) {
      if (data.length - at > MAX_CHUNK_LINE_BYTES) throw new ResponseParseError('chunk-size line too long');
      this.#pending = Buffer.from(data.subarray(at));
      return data.length;
    }
    if (lf === at || data[lf - 1] !== 13) throw new ResponseParseError('chunk-size line not ended by CRLF');
    const line = data.toString('latin1', at, lf - 1);
    const match = CHUNK_LINE.exec(line);
    if (!match || hasControlByte(line)) throw new ResponseParseError('malformed chunk-size line');
    const size = Number.parseInt(match[1]!, 16);
    if (size === 0) {
      this.#state = State.Trailers;
      return lf + 1;
    }
    if (this.#bodyBytes + size > this.#options.maxBodyBytes) this.#overLimit();
    this.#remaining = size;
    this.#state = State.ChunkData;
    return lf + 1;
  }

  #trailers(data: Buffer, at: number): number {
    // An empty trailer section is the usual case: the last chunk is followed by CRLF alone.
    if (data.length - at >= 2 && data[at] === 13 && data[at + 1] === 10) {
      this.#end();
      return at + 2;
    }
    const end = data.indexOf(CRLF_CRLF, at);
    if (end === -1) {
      if (data.length - at > this.#options.maxHeaderBytes) throw new ResponseParseError('trailers too large');
      this.#pending = Buffer.from(data.subarray(at));
      return data.length;
    }
    // Trailer fields are read and dropped (Node's server would need them declared to send them on).
    const text = data.toString('latin1', at, end);
    const dropped: string[] = [];
    for (let start = 0, eol = 0; eol !== -1; start = eol + 2) {
      eol = text.indexOf('\r\n', start);
      parseField(text, start, eol === -1 ? text.length : eol, dropped);
    }
    this.#end();
    return end + 4;
  }

  /** Up to `#remaining` body bytes from `at`, delivered; returns where they end. */
  #take(data: Buffer, at: number): number {
    const end = Math.min(data.length, at + this.#remaining);
    this.#remaining -= end - at;
    this.#body(data.subarray(at, end));
    return end;
  }

  #body(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#bodyBytes += chunk.length;
    if (this.#bodyBytes > this.#options.maxBodyBytes) this.#overLimit();
    this.#sink.onData(chunk);
  }

  #overLimit(): never {
    throw new ResponseParseError(`response body exceeds ${this.#options.maxBodyBytes} bytes`);
  }

  #end(): void {
    this.#state = State.Done;
    this.#sink.onEnd();
  }
}

type ParsedHead = {
  statusCode: number;
  head: ResponseHead;
  framing: 'none' | 'length' | 'chunked' | 'close';
  length: number;
};

/** One header line, `text` from `start` to `end`, pushed onto `fields` as lower-case name and value. */
function parseField(text: string, start: number, end: number, fields: string[]): void {
  const colon = text.indexOf(':', start);
  if (colon === -1 || colon >= end) throw new ResponseParseError('header line without a field name');
  // Also catches obs-fold (a line starting with SP or HTAB) and a space before the colon.
  if (!isToken(text, start, colon)) throw new ResponseParseError('malformed header field name');
  if (hasControlByte(text, colon + 1, end)) {
    throw new ResponseParseError(`control byte in header ${text.slice(start, colon)}`);
  }
  fields.push(text.slice(start, colon).toLowerCase(), owsTrimmedSlice(text, colon + 1, end));
}

/** `HTTP/1.x SP 3DIGIT [SP reason]`; returns the minor version, or -1. */
function statusLineMinor(line: string): number {
  if (!line.startsWith('HTTP/1.') || line.length < 12 || line.charCodeAt(8) !== 32) return -1;
  const minor = line.charCodeAt(7) - 48;
  if (minor !== 0 && minor !== 1) return -1;
  const first = line.charCodeAt(9);
  if (first < 49 || first > 53 || !isDigit(line.charCodeAt(10)) || !isDigit(line.charCodeAt(11))) return -1;
  if (line.length > 12 && line.charCodeAt(12) !== 32) return -1;
  return minor;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function parseHead(text: string, options: ResponseParserOptions): ParsedHead {
  let eol = text.indexOf('\r\n');
  const statusLine = eol === -1 ? text : text.slice(0, eol);
  const minor = statusLineMinor(statusLine);
  if (minor === -1) throw new ResponseParseError('malformed status line');
  const reason = statusLine.length > 13 ? statusLine.slice(13) : '';
  if (hasControlByte(reason)) throw new ResponseParseError('control byte in the reason phrase');
  const statusCode = Number(statusLine.slice(9, 12));
  const fields: string[] = [];
  let connection: string | undefined;
  let keepAlive: string | undefined;
  let te: string | undefined;
  let cl: string | undefined;
  /** Where the (first) Content-Length value sits in `fields`: repeats are dropped, the value normalised. */
  let clAt = -1;
  while (eol !== -1) {
    const start = eol + 2;
    eol = text.indexOf('\r\n', start);
    parseField(text, start, eol === -1 ? text.length : eol, fields);
    const name = fields[fields.length - 2]!;
    const value = fields[fields.length - 1]!;
    if (name === 'content-length') {
      if (clAt === -1) clAt = fields.length - 1;
      else fields.length -= 2;
      cl = cl === undefined ? value : `${cl}, ${value}`;
    } else if (name === 'transfer-encoding') te = te === undefined ? value : `${te}, ${value}`;
    else if (name === 'connection') connection = connection === undefined ? value : `${connection}, ${value}`;
    else if (name === 'keep-alive') keepAlive = keepAlive === undefined ? value : `${keepAlive}, ${value}`;
  }

  // `Connection: keep-alive` (what Node servers send) is the common case: no list to split.
  const isKeepAlive =
    minor === 1 &&
    (connection === undefined || connection === 'keep-alive' || !hasToken(connection.toLowerCase(), 'close'));
  const head: ResponseHead = {
    statusCode,
    statusMessage: reason,
    fields,
    connection,
    isKeepAlive,
    keepAliveHintMs: keepAlive === undefined ? undefined : keepAliveHintMs(keepAlive),
  };

  if (statusCode < 200) return { statusCode, head, framing: 'none', length: 0 };
  if (te !== undefined) {
    if (te.trim().toLowerCase() !== 'chunked') {
      // A coding other than a single chunked would reach the caller undecoded (HAProxy refuses it too).
      throw new ResponseParseError(`unsupported transfer-encoding: ${te}`);
    }
    if (cl !== undefined) throw new ResponseParseError('both transfer-encoding and content-length');
  }
  let length = -1;
  if (cl !== undefined) {
    // One value is the usual case: no list to split.
    for (const part of cl.includes(',') ? cl.split(',') : [cl]) {
      const value = trimOws(part);
      if (!DIGITS.test(value)) throw new ResponseParseError('malformed content-length');
      const n = Number(value);
      if (length !== -1 && n !== length) throw new ResponseParseError('conflicting content-length values');
      length = n;
    }
    // One value on the way out, whatever the repetition on the way in.
    fields[clAt] = String(length);
  }
  if (options.isHeadRequest || statusCode === 204 || statusCode === 304) {
    return { statusCode, head, framing: 'none', length: 0 };
  }
  if (te !== undefined) return { statusCode, head, framing: 'chunked', length: 0 };
  if (length !== -1) {
    if (length > options.maxBodyBytes) {
      throw new ResponseParseError(`response of ${length} bytes exceeds ${options.maxBodyBytes}`);
    }
    return { statusCode, head, framing: 'length', length };
  }
  // No framing: the body runs until the upstream closes, so the connection is not reused.
  head.isKeepAlive = false;
  return { statusCode, head, framing: 'close', length: 0 };
}

/**
 * The last Keep-Alive value parsed and its hint: an upstream sends the same value on every response, so
 * each response costs one string comparison instead of a lower-cased copy, a search and a parse.
 */
let lastKeepAlive = '';
let lastKeepAliveHintMs: number | undefined;

function keepAliveHintMs(value: string): number | undefined {
  if (value === lastKeepAlive) return lastKeepAliveHintMs;
  lastKeepAlive = value;
  lastKeepAliveHintMs = parseKeepAliveHintMs(value);
  return lastKeepAliveHintMs;
}

/** `timeout=N` in a Keep-Alive value (`timeout=5`, `timeout=5, max=1000`), in milliseconds. */
function parseKeepAliveHintMs(value: string): number | undefined {
  const at = value.toLowerCase().indexOf('timeout=');
  if (at === -1) return undefined;
  const seconds = Number.parseInt(value.slice(at + 8), 10);
  return Number.isNaN(seconds) || seconds < 0 ? undefined : seconds * 1000;
}

function hasToken(list: string, token: string): boolean {
  return list.split(',').some((t) => t.trim() === token);
}
