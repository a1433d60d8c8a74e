// The fast lane's request and response: plain objects over the caller's socket in place of Node's
// IncomingMessage and ServerResponse streams, for the requests fast-head.ts accepts (bodiless, or with a
// small body read whole). The response writes its head, body and framing in one corked write, as Node's
// server does.
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { copyBorrowed, recycle } from './borrowed-copies.ts';
import type { ProxyRequest, ProxyResponse, ResponseHeaderValues } from './exchange.ts';
import type { FastHead } from './fast-head.ts';
import { isSendableValue, isToken } from './http-syntax.ts';

export class FastRequest implements ProxyRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly httpVersion = '1.1';
  readonly httpVersionMinor = 1;
  readonly complete = true;
  readonly socket: Socket;
  readonly body: Buffer | undefined;

  /** `body`: the Content-Length bytes that followed the head (absent without Content-Length). */
  constructor(head: FastHead, socket: Socket, body: Buffer | undefined) {
    this.method = head.method;
    this.url = head.url;
    this.headers = head.headers;
    this.rawHeaders = head.rawHeaders;
    this.socket = socket;
    this.body = body;
  }
}

const EMPTY = Buffer.alloc(0);

let dateSecond = -1;
let dateText = '';
function httpDate(): string {
  const nowS = Math.floor(Date.now() / 1000);
  if (nowS !== dateSecond) {
    dateSecond = nowS;
    dateText = new Date(nowS * 1000).toUTCString();
  }
  return dateText;
}

export type FastResponseOwner = {
  /** The response was written whole (and flushed to the socket's buffer). */
  onFinished(res: FastResponse): void;
};

export class FastResponse extends EventEmitter implements ProxyResponse {
  statusCode = 200;
  shouldKeepAlive: boolean;
  headersSent = false;
  destroyed = false;
  writableEnded = false;
  writableFinished = false;
  readonly #socket: Socket;
  readonly #owner: FastResponseOwner;
  readonly #isHeadRequest: boolean;
  readonly #keepAliveTimeoutS: number;
  /** The head, stored until the first body bytes or the end so both leave in one write. */
  #pendingHead: string | undefined;
  #hasBody = true;
  #isChunked = false;

  constructor(
    req: FastRequest,
    owner: FastResponseOwner,
    options: { shouldKeepAlive: boolean; keepAliveTimeoutMs: number },
  ) {
    super();
    this.#socket = req.socket;
    this.#owner = owner;
    this.#isHeadRequest = req.method === 'HEAD';
    this.shouldKeepAlive = options.shouldKeepAlive;
    this.#keepAliveTimeoutS = Math.floor(options.keepAliveTimeoutMs / 1000);
  }

  writeHead(
    statusCode: number,
    statusMessage: string | undefined,
    headers: ResponseHeaderValues | string[],
  ): this {
    if (this.headersSent)
      throw Object.assign(new Error('headers already sent'), { code: 'ERR_HTTP_HEADERS_SENT' });
    if (!Number.isInteger(statusCode) || statusCode < 200 || statusCode > 999) {
      throw Object.assign(new RangeError(`invalid status code ${statusCode}`), {
        code: 'ERR_HTTP_INVALID_STATUS_CODE',
      });
    }
    const reason = statusMessage ?? STATUS_CODES[statusCode] ?? 'unknown';
    if (!isSendableValue(reason)) throw invalidChar('status message');
    const fields = Array.isArray(headers) ? headers : toFields(headers);
    let head = `HTTP/1.1 ${statusCode} ${reason}\r\n`;
    let hasLength = false;
    let hasDate = false;
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!;
      const value = fields[i + 1]!;
      const lower = name.toLowerCase();
      if (lower === 'connection') {
        // Ours to say; a response that asks for close gets it (sendProblem after a refused body).
        if (value.toLowerCase().includes('close')) this.shouldKeepAlive = false;
        continue;
      }
      if (lower === 'keep-alive' || lower === 'transfer-encoding') continue;
      if (lower === 'content-length') hasLength = true;
      else if (lower === 'date') hasDate = true;
      head += line(name, value);
    }
    return this.#endHead(statusCode, head, hasLength, hasDate);
  }

  /**
   * writeHead for a head relayed from an upstream: `fields` come from fnshift's response parser with the
   * hop-by-hop ones removed (lower-case tokens, values without control bytes) plus fnshift's own, and
   * the reason phrase passed the parser's check, so nothing is checked or lower-cased again.
   */
  writeRelayedHead(statusCode: number, reason: string, fields: readonly string[]): this {
    if (this.headersSent)
      throw Object.assign(new Error('headers already sent'), { code: 'ERR_HTTP_HEADERS_SENT' });
    let head = `HTTP/1.1 ${statusCode} ${reason || STATUS_CODES[statusCode] || 'unknown'}\r\n`;
    let hasLength = false;
    let hasDate = false;
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!;
      if (name === 'content-length') hasLength = true;
      else if (name === 'date') hasDate = true;
      head += `${name}: ${fields[i + 1]!}\r\n`;
    }
    return this.#endHead(statusCode, head, hasLength, hasDate);
  }

  /** The framing and connection fields every head ends with; stores it until the first body bytes. */
  #endHead(statusCode: number, head: string, hasLength: boolean, hasDate: boolean): this {
    if (!hasDate) head += `date: ${httpDate()}\r\n`;
    this.#hasBody = !(this.#isHeadRequest || statusCode === 204 || statusCode === 304);
    if (!hasLength && this.#hasBody) {
      this.#isChunked = true;
      head += 'transfer-encoding: chunked\r\n';
    }
    head += this.shouldKeepAlive
      ? `connection: keep-alive\r\nkeep-alive: timeout=${this.#keepAliveTimeoutS}\r\n\r\n`
      : 'connection: close\r\n\r\n';
    this.statusCode = statusCode;
    this.#pendingHead = head;
    this.headersSent = true;
    return this;
  }

  write(chunk: Buffer, onFlushed?: () => void): boolean {
    if (this.writableEnded || this.destroyed) return false;
    const socket = this.#socket;
    if (!this.#hasBody || chunk.length === 0) {
      if (this.#pendingHead === undefined) return true;
      const head = this.#pendingHead;
      this.#pendingHead = undefined;
      return socket.write(head, 'latin1');
    }
    if (this.#pendingHead !== undefined && !this.#isChunked) {
      // The usual response: head and a whole body in one buffer and one write(2), not a writev.
      const ok = socket.write(withHead(this.#pendingHead, chunk));
      this.#pendingHead = undefined;
      return this.#watchDrain(ok);
    }
    return this.#writeBody(chunk, onFlushed);
  }

  /** Body bytes after the head; `onFlushed` runs once the socket no longer holds `chunk`. */
  #writeBody(chunk: Buffer, onFlushed?: () => void): boolean {
    const socket = this.#socket;
    let ok: boolean;
    if (this.#isChunked) {
      socket.cork();
      if (this.#pendingHead !== undefined) {
        socket.write(this.#pendingHead, 'latin1');
        this.#pendingHead = undefined;
      }
      socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      socket.write(chunk, onFlushed);
      ok = socket.write('\r\n', 'latin1');
      socket.uncork();
    } else {
      ok = socket.write(chunk, onFlushed);
    }
    return this.#watchDrain(ok);
  }

  #watchDrain(ok: boolean): boolean {
    if (!ok && !this.#isWaitingForDrain) {
      this.#isWaitingForDrain = true;
      this.#socket.once('drain', this.#onDrain);
    }
    return ok;
  }

  #isWaitingForDrain = false;

  /**
   * write() for bytes that are only valid during the call (a reused read buffer). Joined with the head
   * they are copied anyway; otherwise they are copied here (borrowed-copies.ts), since the socket may
   * queue what it cannot send.
   */
  writeBorrowed(chunk: Buffer): boolean {
    const isJoinedWithHead = this.#pendingHead !== undefined && !this.#isChunked;
    if (isJoinedWithHead || !this.#hasBody || chunk.length === 0 || this.writableEnded || this.destroyed) {
      return this.write(chunk);
    }
    const copy = copyBorrowed(chunk);
    return this.#writeBody(copy, () => recycle(copy));
  }

  #onDrain = (): void => {
    this.#isWaitingForDrain = false;
    if (!this.destroyed) this.emit('drain');
  };

  end(chunk?: string | Buffer): this {
    if (this.writableEnded || this.destroyed) return this;
    if (!this.headersSent) this.writeHead(this.statusCode, undefined, {});
    const body = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const socket = this.#socket;
    const hasBytes = body !== undefined && body.length > 0 && this.#hasBody;
    // After a relayed body there is usually nothing left to write here.
    if (this.#pendingHead !== undefined || hasBytes || this.#isChunked) {
      socket.cork();
      if (this.#pendingHead !== undefined) {
        socket.write(this.#pendingHead, 'latin1');
        this.#pendingHead = undefined;
      }
      if (hasBytes) {
        if (this.#isChunked) socket.write(`${body.length.toString(16)}\r\n`, 'latin1');
        socket.write(body);
        if (this.#isChunked) socket.write('\r\n', 'latin1');
      }
      if (this.#isChunked) socket.write('0\r\n\r\n', 'latin1');
      socket.uncork();
    }
    this.writableEnded = true;
    if (socket.writableLength === 0) this.#finish();
    // Not 'drain': it comes only after a write that returned false, and bytes can sit queued without
    // one. An empty write completes in order after everything queued before it.
    else socket.write(EMPTY, this.#onFlushed);
    return this;
  }

  #onFlushed = (error?: Error | null): void => {
    if (!error && !this.destroyed) this.#finish();
  };

  #finish(): void {
    this.writableFinished = true;
    this.emit('finish');
    this.emit('close');
    this.#owner.onFinished(this);
  }

  destroy(_error?: Error): this {
    if (this.destroyed) return this;
    this.#socket.destroy();
    this.onSocketClose();
    return this;
  }

  /** The caller's socket closed (or was cut) before this response finished. */
  onSocketClose(): void {
    if (this.destroyed || this.writableFinished) return;
    this.destroyed = true;
    this.#socket.off('drain', this.#onDrain);
    this.emit('close');
  }
}

/** An object of headers as a flat `[name, value, ...]` list, an array value giving one field per item. */
function toFields(headers: ResponseHeaderValues): string[] {
  const fields: string[] = [];
  for (const name in headers) {
    const value = headers[name]!;
    if (Array.isArray(value)) for (const v of value) fields.push(name, v);
    else fields.push(name, String(value));
  }
  return fields;
}

function withHead(head: string, body: Buffer): Buffer {
  // Latin-1: one byte per character, the header bytes exactly as Node's parser read them.
  const out = Buffer.allocUnsafe(head.length + body.length);
  out.write(head, 0, 'latin1');
  body.copy(out, head.length);
  return out;
}

function line(name: string, value: string): string {
  if (!isToken(name)) throw invalidChar('a header name');
  if (!isSendableValue(value)) throw invalidChar(`header ${name}`);
  return `${name}: ${value}\r\n`;
}

function invalidChar(what: string): Error {
  return Object.assign(new TypeError(`invalid character in ${what}`), { code: 'ERR_INVALID_CHAR' });
}
