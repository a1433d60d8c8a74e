// The data listener's front door. Every connection starts in the fast lane, which serves it while its
// requests are bodiless, or carry a small Content-Length body (fast-head.ts), with light request and
// response objects (fast-exchange.ts). The first request that is anything else, with every byte after
// it, goes to Node's http server on the same socket, through the server's own 'connection' listener,
// exactly as if Node had accepted it: chunked and large bodies, upgrades, malformed bytes, heads and
// bodies that take more than a few (dozen) reads, and their errors stay with Node's parser. A head cut
// across a few reads (two TCP segments), and a small body cut from its head, wait in the lane for the
// rest.
// Why: Node's IncomingMessage/ServerResponse streams cost more CPU per proxied request than the rest of
// fnshift's request path together (see "Where the CPU goes" in docs/load-testing.md). Small POSTs stay in
// the lane because a hand-off is for good: with 8% feedback POSTs every keep-alive connection left it
// within seconds, and the load test's fnshift spent about 70% more CPU per request (280 µs, not 165).
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { LimitsConfig } from '../config/schema.ts';
import type { ProxyRequest, ProxyResponse } from './exchange.ts';
import { FastRequest, FastResponse, type FastResponseOwner } from './fast-exchange.ts';
import { cutRequestBytes, isHeadPending, parseFastHead } from './fast-head.ts';

export type ExchangeHandler = (req: ProxyRequest, res: ProxyResponse) => Promise<void> | void;

export type FastLaneOptions = {
  limits: LimitsConfig;
  handler: ExchangeHandler;
  /** A handler that threw or rejected: a bug, answered 500 (or cut) rather than crashing. */
  onHandlerBug: (res: ProxyResponse, error: unknown) => void;
};

export type FastLane = {
  /** Connections the fast lane holds now (handed-off ones belong to Node's server). */
  readonly size: number;
  /**
   * Requests whose cut body the lane is still reading. Not yet handed to the request path, they are in
   * flight all the same: a drain waits for them as for a slow upload on Node's side.
   */
  readonly arriving: number;
  /** Closes the fast-lane connections that have no request in flight. */
  closeIdle(): void;
  closeAll(): void;
  /**
   * Counts one more request on a socket Node's server now handles and returns the total on that socket,
   * the requests the lane served before the hand-off included: limits.maxRequestsPerSocket holds over
   * both (Node's own count starts again at 0).
   */
  countRequest(socket: Socket): number;
};

type Lane = {
  readonly options: FastLaneOptions;
  readonly connections: Set<LaneConnection>;
  /** Node's own per-connection setup, taken off the server so the fast lane sees connections first. */
  readonly handOff: (socket: Socket) => void;
  /** Requests each handed-off socket carried so far, the lane's included (Node's own count starts at 0). */
  readonly requestCounts: WeakMap<Socket, number>;
  /**
   * A head or body still cut at its deadline: the server's 'clientError' ERR_HTTP_REQUEST_TIMEOUT, as
   * Node's side raises it then, so both answer 408 the same way.
   */
  readonly timeOut: (socket: Socket, what: 'head' | 'body') => void;
};

/**
 * Reads a cut head may take in the lane. A client's head comes in one or two segments; one that comes
 * in more is handed to Node's parser with what arrived, so a byte-a-read trickle never makes the lane
 * copy its growing buffer more than this many times (Node's headersTimeout then starts afresh there, so
 * such a trickle lives at most about twice limits.headersTimeoutMs).
 */
const MAX_HEAD_READS = 8;

/**
 * Reads a cut body may take in the lane: a 64 KiB body is 45 segments at a 1,460-byte MSS, and the
 * kernel usually hands several over in one read. Each read is kept as it came until the body is whole,
 * and a one-byte read costs a buffer of its own (about 250 bytes of heap, measured), so a body trickled
 * a byte a read would otherwise hold hundreds of times its size. Past this many, the body goes to
 * Node's parser, which streams it on.
 */
const MAX_BODY_READS = 32;

type CutBody = {
  readonly reads: Buffer[];
  bytes: number;
  /** Head and body: the request is whole once this many bytes are read. */
  readonly requestBytes: number;
  /** limits.requestTimeoutMs from the request's first read (Date.now() ms). */
  readonly deadlineMs: number;
};

/**
 * Idle connections (keep-alive, or new and silent) are closed by one sweep per lane, every
 * `connectionsCheckIntervalMs` as Node's server checks its own, not by a timer set per request.
 */
function sweep(lane: Lane): void {
  const nowMs = Date.now();
  for (const connection of lane.connections) {
    if (connection.idleUntilMs !== 0 && connection.idleUntilMs <= nowMs) connection.expire();
  }
}

class LaneConnection implements FastResponseOwner {
  readonly #socket: Socket;
  readonly #lane: Lane;
  /** Bytes read and not yet parsed: the start of the next request, or pipelined ones. */
  #buffered: Buffer | undefined;
  #current: FastResponse | undefined;
  #requests = 0;
  /** Reads that brought part of a head not yet whole (isHeadPending); 0 when none is waiting. */
  #headReads = 0;
  /** When the first of those reads came (Date.now() ms): the request's start, for requestTimeoutMs. */
  #headStartedMs = 0;
  /** A whole head whose body is still arriving: its reads so far, kept apart until they add up. */
  #cutBody: CutBody | undefined;
  /** While idle: when the lane's sweep closes it (Date.now() ms); 0 while a request is in flight. */
  idleUntilMs: number;

  constructor(socket: Socket, lane: Lane) {
    this.#socket = socket;
    this.#lane = lane;
    lane.connections.add(this);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onClose);
    socket.on('error', this.#onError);
    // A connection that sends nothing is dropped like one that sends a head too slowly.
    this.idleUntilMs = Date.now() + lane.options.limits.headersTimeoutMs;
  }

  /** No request in flight or arriving: a drain may close it. */
  get isIdle(): boolean {
    return this.#current === undefined && this.#cutBody === undefined;
  }

  get isArriving(): boolean {
    return this.#cutBody !== undefined;
  }

  destroy(): void {
    this.#socket.destroy();
  }

  /** Past its deadline: a cut head or body is answered as Node's side answers one (408), an idle connection closes. */
  expire(): void {
    const what = this.#cutBody !== undefined ? 'body' : this.#headReads > 0 ? 'head' : undefined;
    if (what === undefined) return this.destroy();
    // Answered and done with: nothing more is read (a late byte must not complete the request), and
    // the next sweep closes the socket if the caller has not.
    this.#cutBody = undefined;
    this.#headReads = 0;
    this.#buffered = undefined;
    this.#socket.pause();
    this.#lane.timeOut(this.#socket, what);
  }

  #onData = (chunk: Buffer): void => {
    if (this.#cutBody !== undefined) return this.#onBodyRead(this.#cutBody, chunk);
    this.#buffered = this.#buffered ? Buffer.concat([this.#buffered, chunk]) : chunk;
    if (this.#current) {
      // Pipelined bytes wait for the response in flight; past a head's worth, stop reading.
      if (this.#buffered.length > this.#lane.options.limits.maxHeaderBytes) this.#socket.pause();
      return;
    }
    this.#next();
  };

  #next(): void {
    const bytes = this.#buffered;
    const { limits, handler, onHandlerBug } = this.#lane.options;
    if (bytes === undefined) {
      this.idleUntilMs = Date.now() + limits.keepAliveTimeoutMs;
      return;
    }
    const head = parseFastHead(bytes, limits);
    if (!head) {
      const requestBytes = cutRequestBytes(bytes, limits);
      if (requestBytes > 0) return this.#awaitBody(bytes, requestBytes);
      if (this.#headReads < MAX_HEAD_READS && isHeadPending(bytes, limits)) {
        // headersTimeoutMs bounds the whole header section, from its first read, as on Node's side.
        if (this.#headReads === 0) {
          this.#headStartedMs = Date.now();
          this.idleUntilMs = this.#headStartedMs + limits.headersTimeoutMs;
        }
        this.#headReads++;
        return;
      }
      return this.#handOff();
    }
    this.#headReads = 0;
    const end = head.headBytes + head.bodyBytes;
    // A view, not a copy: the read it came in is dropped once the request is done with it.
    const body =
      head.headers['content-length'] === undefined ? undefined : bytes.subarray(head.headBytes, end);
    this.#buffered = end < bytes.length ? bytes.subarray(end) : undefined;
    this.#requests++;
    this.idleUntilMs = 0;
    const req = new FastRequest(head, this.#socket, body);
    const max = limits.maxRequestsPerSocket;
    const res = new FastResponse(req, this, {
      shouldKeepAlive: !head.isClose && (max === 0 || this.#requests < max),
      keepAliveTimeoutMs: limits.keepAliveTimeoutMs,
    });
    this.#current = res;
    try {
      const done = handler(req, res);
      if (done) done.catch((error: unknown) => onHandlerBug(res, error));
    } catch (error) {
      onHandlerBug(res, error);
    }
  }

  /**
   * Holds a whole head whose Content-Length body (at most MAX_WHOLE_BODY_BYTES) is cut, until its
   * `requestBytes` are all read. The deadlines are Node's side's: limits.bodyIdleTimeoutMs between reads
   * and limits.requestTimeoutMs from the request's first byte, checked by the sweep; past either the
   * caller gets 408 and nothing was forwarded.
   */
  #awaitBody(bytes: Buffer, requestBytes: number): void {
    const startedMs = this.#headReads > 0 ? this.#headStartedMs : Date.now();
    this.#headReads = 0;
    this.#buffered = undefined;
    const cut: CutBody = {
      reads: [bytes],
      bytes: bytes.length,
      requestBytes,
      deadlineMs: startedMs + this.#lane.options.limits.requestTimeoutMs,
    };
    this.#cutBody = cut;
    this.#armBodyDeadline(cut);
  }

  #onBodyRead(cut: CutBody, chunk: Buffer): void {
    cut.reads.push(chunk);
    cut.bytes += chunk.length;
    const isWhole = cut.bytes >= cut.requestBytes;
    if (!isWhole && cut.reads.length < MAX_BODY_READS) return this.#armBodyDeadline(cut);
    // One copy of the whole request, not one per read.
    this.#buffered = Buffer.concat(cut.reads, cut.bytes);
    this.#cutBody = undefined;
    if (isWhole) this.#next();
    else this.#handOff();
  }

  #armBodyDeadline(cut: CutBody): void {
    this.idleUntilMs = Math.min(cut.deadlineMs, Date.now() + this.#lane.options.limits.bodyIdleTimeoutMs);
  }

  onFinished(res: FastResponse): void {
    if (res !== this.#current) return;
    this.#current = undefined;
    const socket = this.#socket;
    if (!res.shouldKeepAlive) {
      socket.end(() => socket.destroy());
      return;
    }
    if (socket.isPaused()) socket.resume();
    // A pipelined request waits for the stack to unwind (the response's end() called this), so a long
    // pipeline of quick answers never nests one call per request.
    if (this.#buffered) queueMicrotask(() => this.#next());
    else this.#next();
  }

  /** The caller's FIN: with a request in flight it is read as "gone" (nginx's 499), as Node's side does. */
  #onEnd = (): void => {
    this.#socket.destroy();
  };

  #onClose = (): void => {
    this.#lane.connections.delete(this);
    this.#current?.onSocketClose();
  };

  // 'close' follows every error; the response in flight learns of it there.
  #onError = (): void => {};

  #handOff(): void {
    const socket = this.#socket;
    this.#lane.connections.delete(this);
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    socket.off('close', this.#onClose);
    socket.off('error', this.#onError);
    // Paused across the switch so no byte is emitted while nobody listens.
    socket.pause();
    this.#lane.requestCounts.set(socket, this.#requests);
    this.#lane.handOff(socket);
    if (this.#buffered) socket.unshift(this.#buffered);
    this.#buffered = undefined;
    socket.resume();
  }
}

/**
 * Puts the fast lane in front of `server`'s connections. The server keeps listening, accepting, its
 * limits (maxConnections), its 'request' and 'upgrade' handlers, and every connection handed to it.
 */
export function installFastLane(server: Server, options: FastLaneOptions): FastLane {
  const listeners = server.listeners('connection');
  if (listeners.length !== 1) {
    throw new Error(`expected Node's one connection listener on the server, found ${listeners.length}`);
  }
  const nodeListener = listeners[0] as (socket: Socket) => void;
  server.removeListener('connection', nodeListener);
  const lane: Lane = {
    options,
    connections: new Set(),
    handOff: (socket) => nodeListener.call(server, socket),
    requestCounts: new WeakMap(),
    timeOut: (socket, what) => {
      const error = Object.assign(new Error(`the request ${what} was not received in time`), {
        code: 'ERR_HTTP_REQUEST_TIMEOUT',
      });
      server.emit('clientError', error, socket);
    },
  };
  server.on('connection', (socket: Socket) => new LaneConnection(socket, lane));
  const sweeper = setInterval(() => sweep(lane), options.limits.connectionsCheckIntervalMs);
  sweeper.unref();
  server.once('close', () => clearInterval(sweeper));
  return {
    get size() {
      return lane.connections.size;
    },
    get arriving() {
      let count = 0;
      for (const connection of lane.connections) if (connection.isArriving) count++;
      return count;
    },
    closeIdle() {
      for (const connection of lane.connections) if (connection.isIdle) connection.destroy();
    },
    closeAll() {
      for (const connection of lane.connections) connection.destroy();
    },
    countRequest(socket) {
      const count = (lane.requestCounts.get(socket) ?? 0) + 1;
      lane.requestCounts.set(socket, count);
      return count;
    },
  };
}
