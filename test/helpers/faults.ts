// Fault injection without Docker, after Toxiproxy's toxics (reset_peer, timeout, bandwidth, limit_data,
// slow_close): scripted node:http upstreams that count what reached them, clients that hang up at each
// stage, and a check that pools, sockets and timers are back where they were once a fault is over.
import { AsyncLocalStorage, createHook } from 'node:async_hooks';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type ServerResponse,
} from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { TestContext } from 'node:test';
import type { App } from '../../src/app.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { type Running, refusedUrl, startFnshift } from './fnshift.ts';

// ---------------------------------------------------------------------------------------------- polling

/** Polls `predicate` every 10 ms until it holds; rejects with `what` after `timeoutMs`. */
export async function waitUntil(
  predicate: () => boolean,
  what: string | (() => string),
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves with the next message on a diagnostics channel that matches, or rejects after `timeoutMs`. */
export function nextEvent<T>(
  channelName: string,
  matches: (message: T) => boolean = () => true,
  timeoutMs = 5000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: unknown) => {
      if (!matches(message as T)) return;
      done();
      resolve(message as T);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no ${channelName} event within ${timeoutMs} ms`));
    }, timeoutMs);
    function done() {
      clearTimeout(timer);
      unsubscribe(channelName, onMessage);
    }
    subscribe(channelName, onMessage);
  });
}

// -------------------------------------------------------------------------------------------- upstreams

/** One request as the upstream saw it: recorded when its head arrived, body bytes counted as they came. */
export type Seen = {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Which TCP connection it came on (1, 2, ... in accept order). */
  connection: number;
  body: Buffer;
  isBodyComplete: boolean;
};

/** What an upstream does with one request. `seen` is already recorded; the body is being read. */
export type Toxic = (req: IncomingMessage, res: ServerResponse, seen: Seen) => void;

export type FaultUpstream = {
  url: string;
  port: number;
  /** Every request that reached this upstream, in arrival order. */
  seen: Seen[];
  /** Requests received, optionally only those with this method. */
  count(method?: string): number;
  /** TCP connections accepted so far. */
  connections(): number;
  /** Accepted connections that are closed now. */
  closedConnections(): number;
  openConnections(): number;
  /** Replace the behaviour for the requests that arrive from now on. */
  setToxic(toxic: Toxic): void;
};

/**
 * A node:http upstream that records every request head on arrival (so a request the upstream never
 * answered still counts), reads every body, and hands the exchange to `toxic`.
 */
export async function startUpstream(
  t: TestContext,
  toxic: Toxic,
  options: { keepAliveTimeoutMs?: number } = {},
): Promise<FaultUpstream> {
  let current = toxic;
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const ids = new WeakMap<Socket, number>();
  let accepted = 0;
  let closed = 0;
  // Bigger than fnshift's own limit, so the upstream is never the one refusing a header section.
  const server = createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => {
    const entry: Seen = {
      method: req.method!,
      path: req.url!,
      headers: req.headers,
      connection: ids.get(req.socket) ?? 0,
      body: Buffer.alloc(0),
      isBodyComplete: false,
    };
    seen.push(entry);
    req.on('data', (chunk: Buffer) => {
      entry.body = Buffer.concat([entry.body, chunk]);
    });
    req.on('end', () => {
      entry.isBodyComplete = true;
    });
    req.on('error', () => {});
    res.on('error', () => {});
    current(req, res, entry);
  });
  server.on('connection', (socket: Socket) => {
    ids.set(socket, ++accepted);
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => {
      sockets.delete(socket);
      closed++;
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 10_000;
  // Listening inside the scope, whose context the handle hands to every callback it runs (upstreamScope).
  trackResources();
  upstreamScope.run(true, () => server.listen(0, '127.0.0.1'));
  await once(server, 'listening');
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    count: (method) => (method ? seen.filter((s) => s.method === method).length : seen.length),
    connections: () => accepted,
    closedConnections: () => closed,
    openConnections: () => sockets.size,
    setToxic: (next) => {
      current = next;
    },
  };
}

function afterBody(req: IncomingMessage, then: () => void): void {
  if (req.complete) then();
  else req.once('end', then);
}

/** Toxiproxy's toxics, as request handlers. */
export const toxics = {
  /** Answers once the request body is in. */
  respond(status = 200, body: string | Buffer = 'function', headers: Record<string, string> = {}): Toxic {
    return (req, res) =>
      afterBody(req, () => {
        res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(body);
      });
  },

  /** Answers `<name> <method> <path> <body>` with a Content-Length, so a test can see which request it answers. */
  echo(name: string): Toxic {
    return (req, res, seen) =>
      afterBody(req, () => {
        const body = `${name} ${seen.method} ${seen.path} ${seen.body.toString('latin1')}`;
        res.writeHead(200, {
          'content-type': 'text/plain',
          'content-length': String(Buffer.byteLength(body)),
        });
        res.end(body);
      });
  },

  /** reset_peer: an RST as soon as the request head arrives, before any response byte. */
  resetBeforeHeaders(): Toxic {
    return (req) => {
      req.socket.resetAndDestroy();
    };
  },

  /** Headers and the first `sentBytes` of a `totalBytes` body (Content-Length framed), then an RST. */
  resetMidBody(totalBytes: number, sentBytes: number, fill = 'f'): Toxic {
    return (req, res) =>
      afterBody(req, () => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(totalBytes) });
        res.write(fill.repeat(sentBytes), () => {
          // Give the bytes time to leave before the RST discards the send buffer.
          setTimeout(() => req.socket.resetAndDestroy(), 50);
        });
      });
  },

  /** timeout 0: accepts, reads the request, never answers. */
  hang(): Toxic {
    return () => {};
  },

  /** bandwidth: headers at once, then `chunkBytes` every `intervalMs`, `chunks` times (chunked framing). */
  trickle(options: { chunkBytes?: number; intervalMs?: number; chunks?: number } = {}): Toxic {
    const { chunkBytes = 1024, intervalMs = 1000, chunks = 30 } = options;
    return (req, res) =>
      afterBody(req, () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('t'.repeat(chunkBytes));
        let sent = 1;
        const timer = setInterval(() => {
          if (sent++ >= chunks) {
            clearInterval(timer);
            res.end();
            return;
          }
          res.write('t'.repeat(chunkBytes));
        }, intervalMs);
        res.once('close', () => clearInterval(timer));
      });
  },

  /** Headers and a first chunk at once, then nothing until the peer goes away. */
  stallAfterFirstChunk(firstChunk: string): Toxic {
    return (req, res) =>
      afterBody(req, () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write(firstChunk);
      });
  },

  /** A response body of `bytes`, with a Content-Length or chunked. */
  oversized(bytes: number, framing: 'content-length' | 'chunked'): Toxic {
    return (req, res) =>
      afterBody(req, () => {
        res.writeHead(200, {
          'content-type': 'text/plain',
          ...(framing === 'content-length' ? { 'content-length': String(bytes) } : {}),
        });
        const piece = Buffer.alloc(64 * 1024, 'o');
        let left = bytes;
        const write = () => {
          while (left > 0) {
            const n = Math.min(left, piece.length);
            left -= n;
            if (!res.write(piece.subarray(0, n))) return void res.once('drain', write);
          }
          res.end();
        };
        write();
      });
  },

  /** limit_data / a broken server: exact bytes on the socket, bypassing node:http's framing. */
  raw(bytes: string, then: 'keep' | 'end' | 'reset' = 'keep'): Toxic {
    return (req) =>
      afterBody(req, () => {
        req.socket.write(bytes, 'latin1', () => {
          if (then === 'end') req.socket.end();
          if (then === 'reset') setTimeout(() => req.socket.resetAndDestroy(), 50);
        });
      });
  },

  /** slow_close at zero: a keep-alive response, then a FIN right after it leaves. */
  closeAfterResponse(body = 'function'): Toxic {
    return (req, res) =>
      afterBody(req, () => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) });
        res.end(body, () => req.socket.end());
      });
  },

  /**
   * The keep-alive race made deterministic: the first request on a connection is answered by `first` (a
   * keep-alive response), and any later request on the same connection is met with an RST, as if the
   * server's idle timer fired just as the client reused the socket.
   */
  resetOnReuse(first: Toxic): Toxic {
    const served = new WeakSet<Socket>();
    return (req, res, seen) => {
      if (served.has(req.socket)) return void req.socket.resetAndDestroy();
      served.add(req.socket);
      first(req, res, seen);
    };
  },

  /** Waits `ms` (cancelled if the peer goes away), then applies `next`. */
  delay(ms: number, next: Toxic): Toxic {
    return (req, res, seen) => {
      const timer = setTimeout(() => next(req, res, seen), ms);
      res.once('close', () => clearTimeout(timer));
    };
  },

  /** Picks a toxic per request path (the first matching prefix), else `fallback`. */
  byPath(table: Record<string, Toxic>, fallback: Toxic): Toxic {
    return (req, res, seen) => {
      const hit = Object.keys(table).find((prefix) => req.url!.startsWith(prefix));
      (hit ? table[hit]! : fallback)(req, res, seen);
    };
  },
} as const;

// ---------------------------------------------------------------------------------------------- clients

export type Outcome = {
  /** 0 when no response head arrived. */
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The response ended cleanly; false means the connection was cut mid-response (or before it). */
  isComplete: boolean;
  error: Error | undefined;
};

/**
 * One request on its own connection that never rejects: a cut response resolves with what arrived and
 * `isComplete: false`, so a test can assert the cut itself.
 */
export function exchange(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer | Readable } = {},
): Promise<Outcome> {
  return new Promise((resolve) => {
    const outcome: Outcome = {
      status: 0,
      headers: {},
      body: Buffer.alloc(0),
      isComplete: false,
      error: undefined,
    };
    let isSettled = false;
    const settle = (error?: Error) => {
      if (isSettled) return;
      isSettled = true;
      outcome.error ??= error;
      resolve(outcome);
    };
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false });
    req.on('error', (error) => settle(error));
    req.on('close', () => settle());
    req.on('response', (res) => {
      outcome.status = res.statusCode!;
      outcome.headers = res.headers;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error) => {
        outcome.error = error;
      });
      res.on('end', () => {
        outcome.isComplete = true;
      });
      res.on('close', () => {
        outcome.body = Buffer.concat(chunks);
        settle();
      });
    });
    const body = options.body;
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

/** The `code` of a problem+json outcome, or a description of what came instead. */
export function codeOf(outcome: Outcome): string {
  if (!String(outcome.headers['content-type']).startsWith('application/problem+json')) {
    return `not problem+json: ${outcome.status} ${outcome.headers['content-type']} ${outcome.body.toString().slice(0, 200)}`;
  }
  return (JSON.parse(outcome.body.toString()) as { code: string }).code;
}

/** A raw TCP client: write bytes when you like, read what came back, hang up at any point. */
export type RawClient = {
  socket: Socket;
  write(bytes: string | Buffer): Promise<void>;
  /** Everything received so far. */
  received(): Buffer;
  isClosed(): boolean;
  /** Resolves once the server has closed (FIN or RST) the connection. */
  closed: Promise<void>;
  /** Hang up abruptly (RST), as a client process that died would. */
  abort(): void;
};

export async function openClient(port: number): Promise<RawClient> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  let isClosed = false;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      isClosed = true;
      resolve();
    }),
  );
  await once(socket, 'connect');
  return {
    socket,
    write: (bytes) =>
      new Promise((resolve) => {
        if (socket.destroyed) return resolve();
        socket.write(bytes, () => resolve());
      }),
    received: () => Buffer.concat(chunks),
    isClosed: () => isClosed,
    closed,
    abort: () => {
      if (!socket.destroyed) socket.resetAndDestroy();
    },
  };
}

export type RawOutcome = {
  text: string;
  /** Status of the first response, 0 if none. */
  status: number;
  /** The server closed the connection within the wait. */
  isClosed: boolean;
};

/**
 * Writes raw bytes on a new connection and collects the answer until the server closes it or `waitMs`
 * passes (then the client hangs up). Bad input is expected to be answered and closed well within it.
 */
export async function rawExchange(port: number, bytes: string | Buffer, waitMs = 3000): Promise<RawOutcome> {
  const client = await openClient(port);
  await client.write(bytes);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([client.closed, new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
  clearTimeout(timer);
  const isClosed = client.isClosed();
  client.abort();
  const text = client.received().toString('latin1');
  return { text, status: text.startsWith('HTTP/1.') ? Number(text.slice(9, 12)) : 0, isClosed };
}

/** The `code` of the problem+json body of a raw response. */
export function rawCode(text: string): string {
  const start = text.indexOf('\r\n\r\n');
  try {
    return (JSON.parse(text.slice(start + 4)) as { code: string }).code;
  } catch {
    return `not problem+json: ${text.slice(0, 200)}`;
  }
}

/** Client fault F1: starts a chunked upload, sends `firstChunk`, waits for `until`, then hangs up. */
export async function abortMidUpload(
  port: number,
  path: string,
  until: () => boolean,
  firstChunk = 'partial-upload',
): Promise<RawClient> {
  const client = await openClient(port);
  await client.write(
    `POST ${path} HTTP/1.1\r\nHost: fnshift.test\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n` +
      `${firstChunk.length.toString(16)}\r\n${firstChunk}\r\n`,
  );
  await waitUntil(until, `the upload of POST ${path} to reach the upstream`);
  client.abort();
  await client.closed;
  return client;
}

/** Client fault F2: a GET whose response is read until `minBytes` have arrived, then a hang-up. */
export async function abortMidDownload(port: number, path: string, minBytes: number): Promise<RawClient> {
  const client = await openClient(port);
  await client.write(`GET ${path} HTTP/1.1\r\nHost: fnshift.test\r\n\r\n`);
  await waitUntil(() => {
    const bytes = client.received();
    const head = bytes.indexOf('\r\n\r\n');
    return head !== -1 && bytes.length - head - 4 >= minBytes;
  }, `${minBytes} response body bytes of GET ${path}`);
  client.abort();
  await client.closed;
  return client;
}

/** Client fault F3: sends a whole request, waits for `until` (the upstream has it), then hangs up. */
export async function abortWhilePending(
  port: number,
  bytes: string,
  until: () => boolean,
): Promise<RawClient> {
  const client = await openClient(port);
  await client.write(bytes);
  await waitUntil(until, 'the request to reach the upstream');
  client.abort();
  await client.closed;
  return client;
}

// -------------------------------------------------------------------------------------------- resources

// process.getActiveResourcesInfo() lists only what keeps the event loop alive, so an unref()'d timer or
// socket is invisible to it, and fnshift unrefs several: the request-body idle timer, pool sweepers,
// idle pool sockets. process._getActiveHandles() skips unref'd handles too, and lists no timers at all.
// async_hooks reports every timer and TCP handle from its creation (init) to its end (destroy: a timer
// fired or cleared, a handle closed), ref'd or not. It is enabled by the first scenario or baseline, so
// only the test processes that use them pay: with a destroy hook Node tracks every promise as well,
// about 1.3 µs each, some 15 ms for the 12,000 promises of the busiest file here (fast-lane.test.ts).

type Kind = 'socket' | 'server' | 'timer';

const KIND_OF: Readonly<Record<string, Kind>> = {
  TCPWRAP: 'socket',
  TCPSERVERWRAP: 'server',
  Timeout: 'timer',
};

const NOUN: Readonly<Record<Kind, readonly [string, string]>> = {
  socket: ['TCP socket', 'TCP sockets'],
  server: ['TCP server', 'TCP servers'],
  timer: ['timer', 'timers'],
};

type Address = { address?: string; port?: number };

/** What async_hooks hands over: a Timeout, or a TCP handle (TCPWRAP, TCPSERVERWRAP). */
type Resource = {
  hasRef(): boolean;
  /** A handle's descriptor; -1 once it is closing. */
  fd?: number;
  /** A timer that fired (and does not repeat) or was cleared. */
  _destroyed?: boolean;
  _idleTimeout?: number;
  _repeat?: number | null;
  getsockname?(out: Address): number;
  getpeername?(out: Address): number;
};

type Tracked = { id: number; kind: Kind; resource: Resource; triggerId: number; trace: { stack?: string } };

const live = new Map<number, Tracked>();
let newestId = 0;

/**
 * The scripted upstreams run in this process, but what they hold is theirs: an idle keep-alive socket
 * there carries node:http's keep-alive timer, a listening one its connections check. Their servers listen
 * inside this scope, so whatever their callbacks create is known by its context, and the sockets they
 * accept by the server that triggered them.
 */
const upstreamScope = new AsyncLocalStorage<true>();
const upstreamServers = new Set<number>();

let isTracking = false;

function trackResources(): void {
  if (isTracking) return;
  isTracking = true;
  createHook({ init: onInit, destroy: onDestroy }).enable();
}

function onInit(id: number, type: string, triggerId: number, resource: object): void {
  const kind = KIND_OF[type];
  if (kind === undefined) return;
  if (upstreamScope.getStore() || upstreamServers.has(triggerId)) {
    if (kind === 'server') upstreamServers.add(id);
    return;
  }
  const trace: { stack?: string } = {};
  Error.captureStackTrace(trace, onInit);
  live.set(id, { id, kind, resource: resource as Resource, triggerId, trace });
  newestId = id;
}

function onDestroy(id: number): void {
  live.delete(id);
  upstreamServers.delete(id);
}

/**
 * Node runs destroy hooks a loop turn or two after a timer fired or was cleared, or a handle began to
 * close: each counts as gone from that moment, so a baseline taken right after a cleanup is exact. (A
 * socket has no descriptor before it starts to connect either, a moment nothing at rest is in.)
 */
function isAlive({ kind, resource }: Tracked): boolean {
  return kind === 'timer' ? resource._destroyed !== true : (resource.fd ?? 0) >= 0;
}

function portOf(resource: Resource, side: 'local' | 'peer'): string {
  const out: Address = {};
  const status = side === 'local' ? resource.getsockname?.(out) : resource.getpeername?.(out);
  return status === 0 ? `:${out.port}` : ':?';
}

/**
 * Where a resource was made: the first frame outside Node's own modules, else the socket's server (an
 * accepted connection), else Node's own frame (a server's connections check, a socket's idle timer).
 */
function siteOf({ trace, triggerId }: Tracked): string {
  const frames = (trace.stack ?? '').split('\n').slice(1);
  const own = frames.find((line) => !/\(node:|at node:/.test(line));
  const server = live.get(triggerId);
  if (own === undefined && server?.kind === 'server')
    return `accepted by the server on ${portOf(server.resource, 'local')}`;
  const frame = own ?? frames.find((line) => !line.includes('node:internal/async_hooks')) ?? '?';
  const at = frame.trim().replace(/^at /, '').replace('file://', '').replace(`${process.cwd()}/`, '');
  return `made at ${at}`;
}

function describe(entry: Tracked): string {
  const { kind, resource } = entry;
  const ref = resource.hasRef() ? "ref'd" : "unref'd";
  const what =
    kind === 'timer'
      ? resource._repeat
        ? `interval every ${resource._repeat} ms`
        : `timer of ${resource._idleTimeout} ms`
      : kind === 'server'
        ? `TCP server on ${portOf(resource, 'local')}`
        : `TCP socket ${portOf(resource, 'local')} -> ${portOf(resource, 'peer')}`;
  return `${ref} ${what} ${siteOf(entry)}`;
}

type Census = Record<Kind, { refd: number; unrefd: number }>;

function census(): Census {
  const counts: Census = {
    socket: { refd: 0, unrefd: 0 },
    server: { refd: 0, unrefd: 0 },
    timer: { refd: 0, unrefd: 0 },
  };
  // A timer refreshed after it fired is made again under a new id before the old id's destroy has run.
  const seen = new Set<Resource>();
  for (const entry of live.values()) {
    if (!isAlive(entry) || seen.has(entry.resource)) continue;
    seen.add(entry.resource);
    if (entry.resource.hasRef()) counts[entry.kind].refd++;
    else counts[entry.kind].unrefd++;
  }
  return counts;
}

// --------------------------------------------------------------------------------------------- baseline

export type Baseline = {
  /** TCP sockets, servers and timers, ref'd or not, not the upstreams', minus those allowed at rest. */
  counts: Record<Kind, number>;
  /** The async id of the newest of them: any made later is new since the baseline. */
  newestId: number;
};

function upstreamsOf(app: App) {
  const snap = app.snapshot;
  return [snap.legacy, ...Object.values(snap.functions)];
}

/**
 * What fnshift rightly holds at rest beyond its baseline: each idle pool socket, one sweep interval per
 * pool that has any (connection-pool.ts), and the timer of each open breaker that half-opens it (opossum
 * arms one per opening: lib/circuit.js, _startTimer).
 */
function atRest(app: App): Record<Kind, number> {
  const pools = upstreamsOf(app).map((u) => u.pool.stats.free);
  const openBreakers = Object.keys(app.snapshot.functions).filter(
    (name) => app.breakers.state(name) === 'open',
  );
  return {
    socket: pools.reduce((sum, free) => sum + free, 0),
    server: 0,
    timer: pools.filter((free) => free > 0).length + openBreakers.length,
  };
}

function countsOf(app: App): { census: Census; rest: Record<Kind, number>; counts: Record<Kind, number> } {
  const now = census();
  const rest = atRest(app);
  const total = (kind: Kind) => now[kind].refd + now[kind].unrefd - rest[kind];
  return {
    census: now,
    rest,
    counts: { socket: total('socket'), server: total('server'), timer: total('timer') },
  };
}

/** At most this many new resources are named in a failure. */
const NAMED_AT_MOST = 8;

/** `2 more TCP sockets than at baseline (...)`, with the new ones named and where they were made. */
function excess(kind: Kind, extra: number, now: Census, rest: Record<Kind, number>, since: number): string {
  const [one, many] = NOUN[kind];
  const fresh = [...live.values()].filter((e) => e.kind === kind && e.id > since && isAlive(e));
  const named = fresh.slice(0, NAMED_AT_MOST).map(describe);
  if (fresh.length > NAMED_AT_MOST) named.push(`${fresh.length - NAMED_AT_MOST} more`);
  return (
    `${extra} more ${extra === 1 ? one : many} than at baseline (now ${now[kind].refd} ref'd and ` +
    `${now[kind].unrefd} unref'd, ${rest[kind]} of them allowed at rest); new since baseline: ` +
    (named.length > 0 ? named.join(', ') : 'none, so one made before it outlived what it served')
  );
}

/** Take before the fault: the handles and timers the process holds when nothing is in flight. */
export function baseline(app: App): Baseline {
  trackResources();
  return { counts: countsOf(app).counts, newestId };
}

function leftovers(app: App, before: Baseline): string[] {
  const problems: string[] = [];
  if (app.inFlight !== 0) problems.push(`${app.inFlight} requests still in flight in fnshift`);
  for (const u of upstreamsOf(app)) {
    const { pending, running, connected, free } = u.pool.stats;
    if (pending !== 0 || running !== 0)
      problems.push(`${u.origin}: pool pending ${pending}, running ${running}`);
    if (connected !== free) problems.push(`${u.origin}: ${connected - free} busy pool sockets`);
    if (u.inFlight !== 0) problems.push(`${u.origin}: inFlight counter ${u.inFlight}`);
  }
  const { census: now, rest, counts } = countsOf(app);
  for (const kind of ['socket', 'server', 'timer'] as const) {
    const extra = counts[kind] - before.counts[kind];
    if (extra > 0) problems.push(excess(kind, extra, now, rest, before.newestId));
  }
  return problems;
}

/**
 * After a fault: every pool idle (nothing pending, running or busy; fnshift's in-flight counters at 0),
 * and no more sockets, servers or timers, ref'd or unref'd, than at `before`. Polls, because sockets
 * close asynchronously.
 */
export async function assertBackToBaseline(app: App, before: Baseline, timeoutMs = 5000): Promise<void> {
  await waitUntil(
    () => leftovers(app, before).length === 0,
    () => `fnshift to return to baseline: ${leftovers(app, before).join('; ')}`,
    timeoutMs,
  );
}

// --------------------------------------------------------------------------------------------- scenario

type FunctionInput = ConfigInput['functions'][string];
type RouteInput = ConfigInput['routes'][number];
type LegacyInput = ConfigInput['legacy'];

export type ScenarioOptions = {
  /** The function's behaviour, or `refused` for a port nobody listens on. */
  fn: Toxic | 'refused';
  /** Legacy's behaviour; answers 200 `legacy` by default. */
  legacy?: Toxic | 'refused';
  function?: Omit<Partial<FunctionInput>, 'url'>;
  legacyConfig?: Omit<Partial<LegacyInput>, 'url'>;
  route?: Partial<RouteInput>;
  limits?: ConfigInput['limits'];
};

export type Scenario = {
  fnshift: Running;
  app: App;
  port: number;
  /** Undefined when the function is `refused`. */
  fn: FaultUpstream | undefined;
  legacy: FaultUpstream | undefined;
  /** A URL on fnshift under the route (`/api/recommend` + `rest`). */
  url(rest?: string): string;
};

/** fnshift with one route, `recommend` on /api/recommend at weight 100, between two scripted upstreams. */
export async function startScenario(t: TestContext, options: ScenarioOptions): Promise<Scenario> {
  trackResources();
  const fn = options.fn === 'refused' ? undefined : await startUpstream(t, options.fn);
  const legacyToxic = options.legacy ?? toxics.respond(200, 'legacy');
  const legacy = legacyToxic === 'refused' ? undefined : await startUpstream(t, legacyToxic);
  const fnshift = await startFnshift(t, {
    legacy: { url: legacy?.url ?? (await refusedUrl()), ...options.legacyConfig },
    functions: { recommend: { url: fn?.url ?? (await refusedUrl()), ...options.function } },
    routes: [
      {
        name: 'recommend',
        match: { pathPrefix: '/api/recommend' },
        function: 'recommend',
        weight: 100,
        ...options.route,
      },
    ],
    ...(options.limits ? { limits: options.limits } : {}),
  });
  return {
    fnshift,
    app: fnshift.app,
    port: fnshift.port,
    fn,
    legacy,
    url: (rest = '') => `${fnshift.url}/api/recommend${rest}`,
  };
}
