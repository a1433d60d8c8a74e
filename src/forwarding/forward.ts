// One attempt against one upstream: fnshift's own HTTP/1.1 client on a pooled socket, straight into the
// client's response, with backpressure both ways and no whole-body buffering. Resolves, never rejects.
// Not undici: on this hot path undici cost as much CPU per request as everything else together (see
// "Where the CPU goes" in docs/load-testing.md); a socket, a strict response parser and a timer do the job.
import { BodySource, releasePiece } from './body.ts';
import { copyBorrowed, recycle } from './borrowed-copies.ts';
import { type Connection, type ConnectionUser, upstreamError } from './connection-pool.ts';
import type { ProxyResponse } from './exchange.ts';
import { isIdempotent } from './fallback.ts';
import { FastResponse } from './fast-exchange.ts';
import { responseHeaders } from './headers.ts';
import { type ResponseHead, ResponseParser } from './response-parser.ts';
import { acquire, release, type Upstream } from './upstreams.ts';

export type AttemptRequest = {
  upstream: Upstream;
  method: string;
  /** Path and query as sent, the upstream's base path included. */
  path: string;
  headers: string[];
  body: Buffer | BodySource | null;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  res: ProxyResponse;
  /** Consulted on response headers before anything reaches the client; true keeps the response off the wire. */
  shouldDivert?: (statusCode: number) => boolean;
  /**
   * Extra fields for the client's response (x-fnshift-*), pushed as `name, value` when it starts. The fast
   * lane writes them unchecked with the upstream's (FastResponse.writeRelayedHead): lower-case tokens and
   * values without control bytes only.
   */
  decorate?: (fields: string[]) => void;
  /**
   * When given, the attempt adds the wall time of its own work to `busyMs`: starting (pool, writing the
   * request), each upstream read (parsing, relaying to the caller) and a connection that opens later.
   */
  clock?: { busyMs: number };
};

export type AttemptResult =
  /** The upstream's response went to the client in full. */
  | { kind: 'relayed'; statusCode: number }
  /** The upstream answered a status the caller chose to divert; nothing was written to the client. */
  | { kind: 'diverted'; statusCode: number }
  /**
   * The attempt failed. `isSent` is false only if the request never reached a connection (refused, DNS,
   * connect timeout, pool full): only then did the upstream provably see nothing.
   */
  | { kind: 'failed'; error: Error; isSent: boolean; isResponseStarted: boolean }
  /** The client went away; the upstream call was aborted. */
  | { kind: 'client_gone'; isSent: boolean };

/** Methods whose requests carry a body by definition: without one they say so with Content-Length: 0. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * Whether the flat `[name, value, ...]` list has a field named `name`. Names only: a value may say
 * anything, and a body framed by a value ("x-note: content-length") would be smuggled through unframed.
 */
function hasField(fields: readonly string[], name: string): boolean {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return true;
  return false;
}

/** The request line and header section, framed for `body` (fixed length, chunked, or none). */
function requestHead(req: AttemptRequest, isChunked: boolean): string {
  const h = req.headers;
  let head = `${req.method} ${req.path} HTTP/1.1\r\nhost: ${req.upstream.host}\r\n`;
  let hasLength = false;
  for (let i = 0; i < h.length; i += 2) {
    if (h[i] === 'content-length') hasLength = true;
    head += `${h[i]}: ${h[i + 1]}\r\n`;
  }
  if (isChunked) head += 'transfer-encoding: chunked\r\n';
  else if (!hasLength && Buffer.isBuffer(req.body)) head += `content-length: ${req.body.length}\r\n`;
  else if (!hasLength && req.body === null && BODY_METHODS.has(req.method)) head += 'content-length: 0\r\n';
  return `${head}\r\n`;
}

/** Socket failures that mean "the server closed a kept-alive connection", not "the server is sick". */
const STALE_CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE', 'UPSTREAM_CLOSED']);

class Attempt implements ConnectionUser {
  readonly #req: AttemptRequest;
  readonly #resolve: (result: AttemptResult) => void;
  #parser: ResponseParser;
  #connection: Connection | undefined;
  #cancelWait: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #head: ResponseHead | undefined;
  /** A connection took the request: from here on the upstream may have seen it. */
  #isSent = false;
  #isResponseStarted = false;
  #isRequestWritten = false;
  #isResponseDone = false;
  #isClientPaused = false;
  #isDone = false;
  /** The request went out on a socket that had carried others before. */
  #isReusedSocket = false;
  #hasResponseBytes = false;
  #hasRetried = false;

  constructor(req: AttemptRequest, resolve: (result: AttemptResult) => void) {
    this.#req = req;
    this.#resolve = resolve;
    this.#parser = this.#newParser();
  }

  #newParser(): ResponseParser {
    const req = this.#req;
    return new ResponseParser(
      {
        isHeadRequest: req.method === 'HEAD',
        maxHeaderBytes: req.upstream.limits.maxResponseHeaderBytes,
        maxBodyBytes: req.upstream.limits.maxResponseBytes,
      },
      this,
    );
  }

  /**
   * A kept-alive socket the server closed just as it was reused (nodejs/node#13391) fails with a reset
   * or a close before any response byte. An idempotent request with nothing or a buffered body then
   * goes out once more on a new socket, as RFC 9112 §9.3.1 allows and browsers do: the caller should
   * not see a 502, nor legacy a fallback, for the pool's race with a server's idle timer.
   */
  #retryOnStaleSocket(error: Error): boolean {
    const req = this.#req;
    const code = (error as { code?: unknown }).code;
    if (
      this.#hasRetried ||
      !this.#isReusedSocket ||
      this.#hasResponseBytes ||
      !isIdempotent(req.method) ||
      (req.body !== null && !Buffer.isBuffer(req.body)) ||
      typeof code !== 'string' ||
      !STALE_CONNECTION_CODES.has(code)
    ) {
      return false;
    }
    this.#hasRetried = true;
    // The headers timer armed by the first write keeps running: the caller has waited since then, and a
    // socket that closed late (or a slow connect) must not buy the retry a second whole headersTimeoutMs.
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection) {
      connection.socket.destroy();
      req.upstream.pool.release(connection, false);
    }
    this.#parser = this.#newParser();
    this.#isRequestWritten = false;
    this.#cancelWait = req.upstream.pool.acquire(this.#onConnection);
    return true;
  }

  start(): void {
    const startMs = this.#beginWork();
    this.#req.res.once('close', this.#onClientClose);
    this.#cancelWait = this.#req.upstream.pool.acquire(this.#onConnection);
    this.#endWork(startMs);
  }

  /** Nested calls (a connection handed over inside start()) are counted once, by the outer one. */
  #isWorking = false;

  #beginWork(): number {
    if (this.#isWorking || this.#req.clock === undefined) return -1;
    this.#isWorking = true;
    return performance.now();
  }

  #endWork(startMs: number): void {
    if (startMs < 0) return;
    this.#isWorking = false;
    this.#req.clock!.busyMs += performance.now() - startMs;
  }

  #onConnection = (error: Error | undefined, connection: Connection | undefined): void => {
    const startMs = this.#beginWork();
    this.#connected(error, connection);
    this.#endWork(startMs);
  };

  #connected(error: Error | undefined, connection: Connection | undefined): void {
    this.#cancelWait = undefined;
    if (error || !connection) {
      // On a retry the first socket may have delivered the request: still sent, as far as anyone knows.
      this.#finish({ kind: 'failed', error: error!, isSent: this.#isSent, isResponseStarted: false });
      return;
    }
    if (this.#isDone) {
      // The client left while this waited; the socket is untouched and serves the next caller.
      this.#req.upstream.pool.release(connection, true);
      return;
    }
    connection.user = this;
    this.#connection = connection;
    this.#isSent = true;
    this.#isReusedSocket = connection.uses > 1;
    this.#write(connection.socket);
  }

  #write(socket: Connection['socket']): void {
    const req = this.#req;
    const body = req.body;
    if (body instanceof BodySource) {
      const isChunked = !hasField(req.headers, 'content-length');
      this.#stream(body, socket, isChunked, requestHead(req, isChunked));
      return;
    }
    if (body === null) {
      socket.write(requestHead(req, false), 'latin1');
    } else {
      socket.cork();
      socket.write(requestHead(req, false), 'latin1');
      socket.write(body);
      socket.uncork();
    }
    this.#isRequestWritten = true;
    // A retry runs on what is left of the first write's deadline (see #retryOnStaleSocket).
    if (!this.#hasRetried) this.#armTimer('UPSTREAM_HEADERS_TIMEOUT', req.headersTimeoutMs);
  }

  /**
   * The head leaves with the first body bytes (undici's order too): a body the client's parser refuses
   * at its first byte (a bad chunk size) then never reaches the upstream at all.
   */
  #stream(body: BodySource, socket: Connection['socket'], isChunked: boolean, head: string): void {
    let pendingHead: string | undefined = head;
    const onDrain = () => {
      clearTimeout(this.#writeTimer);
      body.resume();
    };
    const cleanup = () => {
      body.off('data', onData).off('end', onEnd).off('error', onError);
      socket.off('drain', onDrain);
      clearTimeout(this.#writeTimer);
    };
    const onData = (chunk: Buffer) => {
      if (this.#isDone) return cleanup();
      let isFull: boolean;
      socket.cork();
      if (pendingHead !== undefined) {
        socket.write(pendingHead, 'latin1');
        pendingHead = undefined;
      }
      // Every piece comes from Node's parser (BodySource reads only an IncomingMessage) and goes nowhere
      // else: once the socket has written it, its memory can go (see releasePiece).
      const release = () => releasePiece(chunk);
      if (isChunked) {
        socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        socket.write(chunk, release);
        isFull = !socket.write('\r\n', 'latin1');
      } else {
        isFull = !socket.write(chunk, release);
      }
      socket.uncork();
      if (isFull) {
        body.pause();
        socket.once('drain', onDrain);
        // The upstream stopped taking the body: its delay, timed like a late response (504, and a breaker
        // failure), while the client's own body deadline waits.
        const ms = this.#req.headersTimeoutMs;
        clearTimeout(this.#writeTimer);
        this.#writeTimer = setTimeout(() => {
          this.#fail(
            upstreamError(
              'UPSTREAM_WRITE_TIMEOUT',
              `${this.#req.upstream.origin} took no body bytes in ${ms} ms`,
            ),
          );
        }, ms);
      }
    };
    const onEnd = () => {
      cleanup();
      if (this.#isDone) return;
      if (pendingHead !== undefined) socket.write(pendingHead + (isChunked ? '0\r\n\r\n' : ''), 'latin1');
      else if (isChunked) socket.write('0\r\n\r\n', 'latin1');
      this.#isRequestWritten = true;
      // The wait for the response starts once the whole request is out (undici's rule too).
      if (!this.#head) this.#armTimer('UPSTREAM_HEADERS_TIMEOUT', this.#req.headersTimeoutMs);
    };
    const onError = (error: Error) => {
      cleanup();
      // The client's body failed (cap, idle, abort): the upstream got a partial request and is cut off.
      this.#fail(error);
    };
    body.on('data', onData).once('end', onEnd).once('error', onError);
  }

  #armTimer(code: string, ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      const what = code === 'UPSTREAM_HEADERS_TIMEOUT' ? 'response headers' : 'response body bytes';
      this.#fail(upstreamError(code, `no ${what} from ${this.#req.upstream.origin} in ${ms} ms`));
    }, ms);
  }

  // ConnectionUser: the socket's events while this attempt holds it.
  onSocketData(chunk: Buffer): void {
    if (this.#isDone) return;
    const startMs = this.#beginWork();
    this.#read(chunk);
    this.#endWork(startMs);
  }

  #read(chunk: Buffer): void {
    this.#hasResponseBytes = true;
    try {
      this.#parser.execute(chunk);
    } catch (error) {
      return this.#fail(error as Error);
    }
    if (this.#isResponseDone) return this.#complete();
    if (this.#head === undefined || this.#isDone) return;
    // The body timer starts only when a response does not arrive whole with its head (the usual case).
    if (this.#isBodyTimed) this.#timer?.refresh();
    else {
      this.#isBodyTimed = true;
      this.#armTimer('UPSTREAM_BODY_TIMEOUT', this.#req.bodyTimeoutMs);
    }
  }

  #isBodyTimed = false;
  /** Armed while a streamed request body waits for the upstream socket to drain. */
  #writeTimer: NodeJS.Timeout | undefined;

  onSocketEnd(): void {
    if (this.#isDone) return;
    try {
      this.#parser.finish();
    } catch (error) {
      if (this.#retryOnStaleSocket(error as Error)) return;
      return this.#fail(error as Error);
    }
    if (this.#isResponseDone) this.#complete();
  }

  onSocketClose(error: Error): void {
    this.#connection = undefined;
    if (this.#isDone) return;
    if (!this.#isResponseDone) {
      try {
        this.#parser.finish();
      } catch {
        // The parser's "closed before ..." says less than the socket's own error (ECONNRESET, ...).
        if (this.#retryOnStaleSocket(error)) return;
        return this.#fail(error);
      }
    }
    this.#complete();
  }

  // ResponseSink: what the parser read, in order.
  onHead(head: ResponseHead): void {
    const req = this.#req;
    if (req.shouldDivert?.(head.statusCode)) {
      this.#parser.stop();
      this.#finish({ kind: 'diverted', statusCode: head.statusCode });
      return;
    }
    this.#head = head;
    // Answered before the whole body was sent (a 401 or 413 from the upstream): the rest of the body is
    // not read, so the client's connection cannot carry another request and closes after this response.
    if (req.body instanceof BodySource && !this.#isRequestWritten) req.res.shouldKeepAlive = false;
    const out = responseHeaders(head.fields, head.connection);
    req.decorate?.(out);
    try {
      if (req.res instanceof FastResponse) req.res.writeRelayedHead(head.statusCode, head.statusMessage, out);
      else req.res.writeHead(head.statusCode, head.statusMessage || undefined, out);
    } catch (error) {
      // Header values Node refuses to send: nothing was written, so the caller can answer 502.
      this.#parser.stop();
      this.#fail(error as Error);
      return;
    }
    this.#isResponseStarted = true;
  }

  onData(chunk: Buffer): void {
    if (this.#isDone) return;
    // The bytes are borrowed (the pool's read buffer). The fast lane's response copies what it keeps
    // (usually into the one buffer that also holds the head); Node's response may queue the chunk as is.
    const res = this.#req.res;
    const isWritten = res instanceof FastResponse ? res.writeBorrowed(chunk) : writeCopy(res, chunk);
    if (!isWritten && !this.#isClientPaused) {
      // The caller reads slower than the upstream sends: stop reading the upstream until it catches up.
      this.#isClientPaused = true;
      this.#connection?.socket.pause();
      this.#req.res.once('drain', this.#onClientDrain);
    }
  }

  onEnd(): void {
    // Completed by the socket handler once execute() returns, so trailing bytes are known first.
    this.#isResponseDone = true;
  }

  #onClientDrain = (): void => {
    this.#isClientPaused = false;
    this.#connection?.socket.resume();
  };

  #onClientClose = (): void => {
    if (this.#isDone || this.#req.res.writableFinished) return;
    this.#finish({ kind: 'client_gone', isSent: this.#isSent });
  };

  #complete(): void {
    if (this.#isDone) return;
    const head = this.#head;
    const statusCode = head?.statusCode ?? 502;
    const connection = this.#connection;
    const isReusable =
      head?.isKeepAlive === true &&
      this.#isRequestWritten &&
      !this.#parser.hasTrailingBytes &&
      !this.#isClientPaused;
    // The upstream slot and socket go back first: ending the response can start the caller's next,
    // pipelined request at once, and it must find them free.
    const res = this.#req.res;
    this.#finish({ kind: 'relayed', statusCode }, connection, isReusable, head?.keepAliveHintMs);
    res.end();
  }

  #fail(error: Error): void {
    if (this.#isDone) return;
    this.#finish({
      kind: 'failed',
      error,
      isSent: this.#isSent,
      isResponseStarted: this.#isResponseStarted,
    });
  }

  /** Settles once; the connection goes back to the pool (reusable) or is destroyed. */
  #finish(
    result: AttemptResult,
    connection = this.#connection,
    isReusable = false,
    keepAliveHintMs?: number,
  ): void {
    if (this.#isDone) return;
    this.#isDone = true;
    // Still waiting for a connection (the client left, or a retry's deadline ran out while it connected):
    // the socket, when it comes, serves the next caller.
    this.#cancelWait?.();
    this.#cancelWait = undefined;
    clearTimeout(this.#timer);
    clearTimeout(this.#writeTimer);
    this.#parser.stop();
    const body = this.#req.body;
    // A body that started out and was not sent whole can go nowhere else (no replay of a streamed body):
    // stop reading it, so neither its idle timer nor the client's late bytes act on a settled attempt.
    if (body instanceof BodySource && body.hasStarted && !this.#isRequestWritten) body.destroy();
    const res = this.#req.res;
    res.off('close', this.#onClientClose);
    if (this.#isClientPaused) res.off('drain', this.#onClientDrain);
    if (connection) {
      this.#connection = undefined;
      if (!isReusable) connection.socket.destroy();
      else connection.socket.resume();
      this.#req.upstream.pool.release(connection, isReusable, keepAliveHintMs);
    }
    release(this.#req.upstream);
    this.#resolve(result);
  }
}

/** A copy of borrowed bytes into Node's response, recycled once Node has flushed it. */
function writeCopy(res: ProxyResponse, chunk: Buffer): boolean {
  const copy = copyBorrowed(chunk);
  return res.write(copy, () => recycle(copy));
}

export function attempt(req: AttemptRequest): Promise<AttemptResult> {
  const refused = acquire(req.upstream);
  if (refused)
    return Promise.resolve({ kind: 'failed', error: refused, isSent: false, isResponseStarted: false });
  return new Promise((resolve) => new Attempt(req, resolve).start());
}
