// Sockets to one upstream origin, kept alive between requests: at most `connections` of them, and callers
// beyond that wait in order. A socket carries one request at a time (no pipelining: a reply meant for
// one caller must never be read as another's). Whoever holds a connection receives its socket's events
// through one set of listeners installed at connect, so a request adds no listeners of its own.
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export type PoolLimits = {
  connections: number;
  connectTimeoutMs: number;
  keepAliveTimeoutMs: number;
};

/** The holder of a connection: the attempt whose request is on it. */
export type ConnectionUser = {
  /**
   * Bytes from the upstream. Borrowed: they sit in a read buffer the pool reuses for the next read,
   * so whatever must outlive this call is copied.
   */
  onSocketData(chunk: Buffer): void;
  /** The upstream finished sending (FIN). */
  onSocketEnd(): void;
  /** The socket failed or closed; nothing more arrives. */
  onSocketClose(error: Error): void;
};

export type Connection = {
  readonly socket: Socket;
  /** Set by the holder once it has the connection; events before that (or between holders) close it. */
  user: ConnectionUser | undefined;
  isBusy: boolean;
  /** Requests handed this socket so far, the current one included: above 1 it is a reused socket. */
  uses: number;
  /** While idle: when the pool closes it (Date.now() ms). */
  idleUntilMs: number;
};

/** Called once: with a connection to write on, or with the reason none could be had. */
export type Waiter = (error: Error | undefined, connection: Connection | undefined) => void;

export type PoolStats = {
  /** Sockets open (idle or busy), not counting those still connecting. */
  connected: number;
  /** Idle sockets ready for the next request. */
  free: number;
  /** Callers waiting for a socket. */
  pending: number;
  /** Sockets carrying a request. */
  running: number;
};

/** Since the pool was made: monotonic, for counters (telemetry/metrics.ts). */
export type PoolTotals = {
  /** Sockets that connected (TCP, or TLS after its handshake). */
  opened: number;
  /** Of those, the ones closed since, by either side. */
  closed: number;
};

export type ConnectionPool = {
  readonly stats: PoolStats;
  readonly totals: Readonly<PoolTotals>;
  /** Hands over a connection (synchronously when one is idle). Returns a cancel for a caller that leaves. */
  acquire(waiter: Waiter): () => void;
  /** Gives a connection back; only a response read whole on a keep-alive socket makes it reusable. */
  release(connection: Connection, isReusable: boolean, keepAliveHintMs?: number): void;
  /** Closes idle sockets now and the others as they are released; resolves when none is left. */
  close(): Promise<void>;
  /** Destroys every socket and refuses every waiter. */
  destroy(): Promise<void>;
};

/**
 * Errors the upstream client makes itself (UPSTREAM_* codes, from the pool and the attempts); socket
 * errors (ECONNREFUSED, ECONNRESET, ...) pass through as they are.
 */
export function upstreamError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Socket-level codes keep their names (ECONNREFUSED, ...); anything else failing a connect is wrapped. */
const SYSCALL_CODE = /^E[A-Z_]+$/;

function connectError(error: Error): Error {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (SYSCALL_CODE.test(code) || code.startsWith('UPSTREAM_'))) return error;
  return Object.assign(new Error(`TLS handshake failed: ${error.message}`, { cause: error }), {
    code: 'UPSTREAM_CONNECT_FAILED',
  });
}

/**
 * Every plain-TCP upstream socket reads into this one buffer (net's `onread`), and the bytes are parsed
 * before the next read can land: Node's default allocates a fresh 64 KiB buffer per read instead, which
 * costs more CPU than parsing a small response does. TLS sockets keep the default.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** Sockets a server is about to close are not reused: its Keep-Alive hint minus this margin (undici's). */
const KEEP_ALIVE_HINT_MARGIN_MS = 1000;

export function createConnectionPool(origin: URL, limits: PoolLimits): ConnectionPool {
  const isTls = origin.protocol === 'https:';
  const host = origin.hostname.startsWith('[') ? origin.hostname.slice(1, -1) : origin.hostname;
  const port = Number(origin.port) || (isTls ? 443 : 80);
  const all = new Set<Connection>();
  const idle: Connection[] = [];
  const queue: Waiter[] = [];
  let connected = 0;
  let running = 0;
  const totals: PoolTotals = { opened: 0, closed: 0 };
  let isClosing = false;
  /** Whoever waits for the last socket to go (close(), destroy(), each as often as called). */
  const onEmpty: Array<() => void> = [];

  /**
   * Idle sockets are closed by one sweep per pool rather than a timer per socket, which would be set and
   * cleared on every request. It runs every eighth of the idle timeout, so a socket outlives its timeout
   * by at most that much: the default 4 s becomes at most 4.5 s, under Node's 5 s server default.
   */
  const sweepEveryMs = Math.max(50, Math.floor(limits.keepAliveTimeoutMs / 8));
  let sweeper: NodeJS.Timeout | undefined;

  function sweepSoon(): void {
    if (sweeper) return;
    sweeper = setInterval(sweep, sweepEveryMs);
    sweeper.unref();
  }

  function sweep(): void {
    const nowMs = Date.now();
    // At most `connections` sockets to look at; a Keep-Alive hint can make a newer one expire first.
    for (let i = idle.length - 1; i >= 0; i--) {
      const connection = idle[i]!;
      if (connection.idleUntilMs > nowMs) continue;
      idle.splice(i, 1);
      connection.socket.destroy();
    }
    if (idle.length === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  }

  function checkEmpty(): void {
    if (isClosing && all.size === 0) for (const resolve of onEmpty.splice(0)) resolve();
  }

  function hand(connection: Connection, waiter: Waiter): void {
    connection.socket.ref();
    connection.isBusy = true;
    connection.uses++;
    running++;
    waiter(undefined, connection);
  }

  function next(): void {
    // A socket went away or came free: the longest waiter gets it, or a new connection.
    if (queue.length === 0) return;
    if (isClosing) {
      for (const waiter of queue.splice(0))
        waiter(upstreamError('UPSTREAM_POOL_CLOSED', 'pool closed'), undefined);
      return;
    }
    if (all.size < limits.connections) open(queue.shift()!);
  }

  /** Returns the cancel for `first`: the socket then serves the next waiter, or idles. */
  function open(first: Waiter): () => void {
    const socket = isTls
      ? tlsConnect({ host, port, servername: isIP(host) ? undefined : host, ALPNProtocols: ['http/1.1'] })
      : netConnect({
          host,
          port,
          onread: {
            buffer: READ_BUFFER,
            callback: (bytes: number) => {
              onChunk(READ_BUFFER.subarray(0, bytes));
              // Keep reading; the holder pauses the socket itself when its caller reads slowly.
              return true;
            },
          },
        });
    socket.setNoDelay(true);
    const connection: Connection = { socket, user: undefined, isBusy: false, idleUntilMs: 0, uses: 0 };
    let waiter: Waiter | undefined = first;
    let isConnected = false;
    let lastError: Error | undefined;
    all.add(connection);
    const timer = setTimeout(() => {
      socket.destroy(
        upstreamError(
          'UPSTREAM_CONNECT_TIMEOUT',
          `no connection to ${origin.host} in ${limits.connectTimeoutMs} ms`,
        ),
      );
    }, limits.connectTimeoutMs);

    socket.once(isTls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      isConnected = true;
      connected++;
      totals.opened++;
      const w = waiter ?? queue.shift();
      waiter = undefined;
      if (w) hand(connection, w);
      else park(connection);
    });
    function onChunk(chunk: Buffer): void {
      if (connection.user) connection.user.onSocketData(chunk);
      // Bytes nobody asked for: the socket's framing can no longer be trusted.
      else socket.destroy();
    }
    if (isTls) socket.on('data', onChunk);
    socket.on('end', () => {
      if (connection.user) connection.user.onSocketEnd();
      else socket.destroy();
    });
    socket.on('error', (error: Error) => {
      lastError = error;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      all.delete(connection);
      const at = idle.indexOf(connection);
      if (at !== -1) idle.splice(at, 1);
      if (isConnected) {
        connected--;
        totals.closed++;
      }
      const error = lastError ?? upstreamError('UPSTREAM_CLOSED', `${origin.host} closed the connection`);
      if (waiter) {
        // Never connected: this caller's request provably went nowhere. A failed TLS handshake (an
        // untrusted or expired certificate, a wrong name) is a connect failure like a refused port.
        const w = waiter;
        waiter = undefined;
        w(isTls && !isConnected ? connectError(error) : error, undefined);
      } else if (connection.isBusy) {
        const user = connection.user;
        connection.user = undefined;
        connection.isBusy = false;
        running--;
        user?.onSocketClose(error);
      }
      next();
      checkEmpty();
    });

    return () => {
      waiter = undefined;
    };
  }

  function park(connection: Connection, keepAliveHintMs?: number): void {
    if (isClosing) {
      connection.socket.destroy();
      return;
    }
    const idleMs =
      keepAliveHintMs === undefined
        ? limits.keepAliveTimeoutMs
        : Math.min(limits.keepAliveTimeoutMs, keepAliveHintMs - KEEP_ALIVE_HINT_MARGIN_MS);
    if (idleMs <= 0) {
      connection.socket.destroy();
      return;
    }
    connection.idleUntilMs = Date.now() + idleMs;
    // An idle pool socket does not keep the process alive (undici's rule too).
    connection.socket.unref();
    idle.push(connection);
    sweepSoon();
  }

  return {
    totals,
    get stats(): PoolStats {
      return { connected, free: idle.length, pending: queue.length, running };
    },

    acquire(waiter: Waiter): () => void {
      if (isClosing) {
        waiter(upstreamError('UPSTREAM_POOL_CLOSED', 'pool closed'), undefined);
        return () => {};
      }
      let connection = idle.pop();
      // One that closed a moment ago is still listed until its 'close' event runs.
      while (connection?.socket.destroyed) connection = idle.pop();
      if (connection) {
        hand(connection, waiter);
        return () => {};
      }
      if (all.size < limits.connections) return open(waiter);
      queue.push(waiter);
      return () => {
        const at = queue.indexOf(waiter);
        if (at !== -1) queue.splice(at, 1);
      };
    },

    release(connection: Connection, isReusable: boolean, keepAliveHintMs?: number): void {
      if (!connection.isBusy) return;
      connection.user = undefined;
      connection.isBusy = false;
      running--;
      const socket = connection.socket;
      if (!isReusable || socket.destroyed || !socket.writable) {
        socket.destroy();
        return;
      }
      const waiter = queue.shift();
      if (waiter && !isClosing) {
        hand(connection, waiter);
        return;
      }
      park(connection, keepAliveHintMs);
      checkEmpty();
    },

    close(): Promise<void> {
      isClosing = true;
      clearInterval(sweeper);
      for (const connection of idle.splice(0)) connection.socket.destroy();
      next();
      if (all.size === 0) return Promise.resolve();
      return new Promise((resolve) => {
        onEmpty.push(resolve);
      });
    },

    destroy(): Promise<void> {
      isClosing = true;
      clearInterval(sweeper);
      next();
      for (const connection of all) connection.socket.destroy();
      if (all.size === 0) return Promise.resolve();
      return new Promise((resolve) => {
        onEmpty.push(resolve);
      });
    },
  };
}
