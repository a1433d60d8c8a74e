// The upstream connection pool (src/forwarding/connection-pool.ts) against plain TCP servers on loopback:
// reuse, the wait queue at the cap, idle expiry, refusals, timeouts, close and destroy. The pool moves
// sockets, not HTTP, so a net server that only counts connections is upstream enough.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import {
  type Connection,
  type ConnectionPool,
  createConnectionPool,
  type PoolLimits,
} from '../../src/forwarding/connection-pool.ts';
import { waitUntil } from '../helpers/faults.ts';
import { refusedUrl } from '../helpers/fnshift.ts';

/** A TCP server that accepts, reads nothing, and counts connections. */
async function startServer(t: TestContext, port = 0) {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let closed = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => {
      sockets.delete(socket);
      closed++;
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    origin: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    sockets,
    accepted: () => accepted,
    closed: () => closed,
    /** The pool's 'connect' can run before this server's accept does: wait for the count. */
    hasAccepted: (count: number) =>
      waitUntil(
        () => accepted === count,
        () => `${count} accepted connections (${accepted} so far)`,
      ),
  };
}

function startPool(t: TestContext, origin: URL, limits: Partial<PoolLimits> = {}): ConnectionPool {
  const pool = createConnectionPool(origin, {
    connections: 4,
    connectTimeoutMs: 2000,
    keepAliveTimeoutMs: 10_000,
    ...limits,
  });
  t.after(() => pool.destroy());
  return pool;
}

type Wait = {
  /** Settles when the pool calls the waiter. */
  settled: Promise<Connection>;
  connection: Connection | undefined;
  error: (Error & { code?: string }) | undefined;
  isCalled: boolean;
  cancel: () => void;
};

/** One acquire, observable both synchronously (isCalled, connection) and as a promise. */
function acquire(pool: ConnectionPool, order?: string[], name?: string): Wait {
  let resolve!: (connection: Connection) => void;
  let reject!: (error: Error) => void;
  const wait = {
    settled: new Promise<Connection>((res, rej) => {
      resolve = res;
      reject = rej;
    }),
    connection: undefined,
    error: undefined,
    isCalled: false,
    cancel: () => {},
  } as Wait;
  // A waiter that is never called (the cancelled one) must not fail the test by its own rejection.
  wait.settled.catch(() => {});
  wait.cancel = pool.acquire((error, connection) => {
    assert.equal(wait.isCalled, false, `waiter ${name ?? ''} called twice`);
    wait.isCalled = true;
    if (name) order?.push(name);
    wait.error = error;
    wait.connection = connection;
    if (error) reject(error);
    else resolve(connection!);
  });
  return wait;
}

function stats(pool: ConnectionPool) {
  return { ...pool.stats };
}

const IDLE = { connected: 0, free: 0, pending: 0, running: 0 };

test('a connection released as reusable goes to the next acquire: same socket, one connection at the server', async (t) => {
  const server = await startServer(t);
  const pool = startPool(t, server.origin);

  const first = await acquire(pool).settled;
  await server.hasAccepted(1);
  assert.deepEqual(stats(pool), { connected: 1, free: 0, pending: 0, running: 1 });
  pool.release(first, true);
  assert.deepEqual(stats(pool), { connected: 1, free: 1, pending: 0, running: 0 });

  // An idle connection is handed over synchronously, inside acquire().
  const second = acquire(pool);
  assert.equal(second.isCalled, true);
  assert.equal(second.connection, first);
  assert.equal(second.connection?.socket, first.socket);
  assert.equal(second.connection?.isBusy, true);
  assert.equal(server.accepted(), 1, 'a second connection was opened');
  pool.release(second.connection!, true);
  assert.deepEqual(stats(pool), { connected: 1, free: 1, pending: 0, running: 0 });
});

test('at the cap, waiters queue and are served in order as connections are released', async (t) => {
  const server = await startServer(t);
  const pool = startPool(t, server.origin, { connections: 2 });
  const order: string[] = [];

  const a = acquire(pool, order, 'a');
  const b = acquire(pool, order, 'b');
  const c = acquire(pool, order, 'c');
  const d = acquire(pool, order, 'd');
  // Two are connecting; the others wait for one of those two, not for a third socket.
  assert.deepEqual(stats(pool), { connected: 0, free: 0, pending: 2, running: 0 });
  const [connA, connB] = await Promise.all([a.settled, b.settled]);
  assert.deepEqual(stats(pool), { connected: 2, free: 0, pending: 2, running: 2 });
  assert.equal(c.isCalled || d.isCalled, false);

  pool.release(connA, true);
  assert.equal(c.connection, connA, 'the longest waiter did not get the released connection');
  assert.equal(d.isCalled, false);
  assert.deepEqual(stats(pool), { connected: 2, free: 0, pending: 1, running: 2 });

  pool.release(connB, true);
  assert.equal(d.connection, connB);
  assert.deepEqual(stats(pool), { connected: 2, free: 0, pending: 0, running: 2 });

  pool.release(c.connection!, true);
  pool.release(d.connection!, true);
  assert.deepEqual(stats(pool), { connected: 2, free: 2, pending: 0, running: 0 });
  assert.deepEqual(order.slice(2), ['c', 'd']);
  await server.hasAccepted(2);
  assert.equal(server.closed(), 0);
});

test('a cancelled waiter is skipped: the released connection goes to the one behind it', async (t) => {
  const server = await startServer(t);
  const pool = startPool(t, server.origin, { connections: 1 });

  const holder = await acquire(pool).settled;
  const gone = acquire(pool);
  const next = acquire(pool);
  assert.equal(stats(pool).pending, 2);
  gone.cancel();
  assert.equal(stats(pool).pending, 1);

  pool.release(holder, true);
  assert.equal(next.connection, holder);
  assert.equal(gone.isCalled, false, 'a cancelled waiter was called');
  assert.deepEqual(stats(pool), { connected: 1, free: 0, pending: 0, running: 1 });
  pool.release(holder, true);
  assert.equal(gone.isCalled, false);
});

test('a waiter that cancels while its socket connects leaves the socket idle for the next caller', async (t) => {
  const server = await startServer(t);
  const pool = startPool(t, server.origin);

  const gone = acquire(pool);
  gone.cancel();
  await waitUntil(() => pool.stats.free === 1, 'the connected socket to be parked');
  assert.equal(gone.isCalled, false);
  const next = acquire(pool);
  assert.equal(next.isCalled, true);
  await server.hasAccepted(1);
  pool.release(next.connection!, true);
});

test('release(connection, false) destroys the socket, and a queued waiter gets a new connection', async (t) => {
  const server = await startServer(t);
  const pool = startPool(t, server.origin, { connections: 1 });

  const used = await acquire(pool).settled;
  const waiting = acquire(pool);
  pool.release(used, false);
  assert.equal(used.socket.destroyed, true);
  // Not the broken socket, ever: the waiter waits for a fresh connect.
  assert.equal(waiting.isCalled, false);

  const fresh = await waiting.settled;
  assert.notEqual(fresh, used);
  assert.notEqual(fresh.socket, used.socket);
  await server.hasAccepted(2);
  await waitUntil(() => server.closed() === 1, 'the server to see the first connection close');
  assert.deepEqual(stats(pool), { connected: 1, free: 0, pending: 0, running: 1 });
  pool.release(fresh, true);
});

test('an idle socket is closed after keepAliveTimeoutMs and no longer counted', async (t) => {
  const server = await startServer(t);
  const pool = startPool(t, server.origin, { keepAliveTimeoutMs: 200 });

  const connection = await acquire(pool).settled;
  pool.release(connection, true);
  assert.equal(stats(pool).free, 1);
  await waitUntil(() => server.closed() === 1, 'the idle socket to be closed');
  await waitUntil(() => pool.stats.connected === 0, 'the pool to stop counting it');
  assert.deepEqual(stats(pool), IDLE);
  assert.equal(connection.socket.destroyed, true);

  // The next caller gets a new connection, not the expired one.
  const next = await acquire(pool).settled;
  assert.notEqual(next, connection);
  await server.hasAccepted(2);
  pool.release(next, true);
});

test('a Keep-Alive hint within the margin (1000 ms) destroys the socket instead of parking it', async (t) => {
  const server = await startServer(t);
  const pool = startPool(t, server.origin, { keepAliveTimeoutMs: 60_000 });

  const hinted = await acquire(pool).settled;
  pool.release(hinted, true, 1000);
  assert.equal(hinted.socket.destroyed, true);
  assert.equal(stats(pool).free, 0);
  await waitUntil(() => pool.stats.connected === 0, 'the pool to stop counting the socket');
  await waitUntil(() => server.closed() === 1, 'the server to see it close');

  // A longer hint parks it, for the hint minus the margin rather than the pool's own 60 s.
  const kept = await acquire(pool).settled;
  pool.release(kept, true, 5000);
  assert.equal(stats(pool).free, 1);
  const idleLeftMs = kept.idleUntilMs - Date.now();
  assert.ok(idleLeftMs > 0 && idleLeftMs <= 4000, `idle for ${idleLeftMs} ms more`);
});

test('a refused connect calls each waiter with ECONNREFUSED, and the pool recovers once the server is up', async (t) => {
  const origin = new URL(await refusedUrl());
  const pool = startPool(t, origin, { connections: 1 });

  const first = acquire(pool);
  const queued = acquire(pool);
  await assert.rejects(first.settled, { code: 'ECONNREFUSED' });
  // The queued waiter gets its own attempt (and its own refusal), not a leftover error.
  await assert.rejects(queued.settled, { code: 'ECONNREFUSED' });
  assert.deepEqual(stats(pool), IDLE);

  const server = await startServer(t, Number(origin.port));
  const connection = await acquire(pool).settled;
  await server.hasAccepted(1);
  assert.deepEqual(stats(pool), { connected: 1, free: 0, pending: 0, running: 1 });
  pool.release(connection, true);
});

/**
 * A listener whose accept queue is full, so a connect to it stays in SYN_SENT: Linux drops a SYN when
 * the queue of a listener with backlog 1 already holds two connections. The listener lives in a worker
 * blocked in Atomics.wait, so nothing ever accepts; the fillers take the two places.
 */
async function startFullListener(t: TestContext): Promise<URL> {
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const server = require('node:net').createServer();
     server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(server.address().port);
       Atomics.wait(workerData, 0, 0);
       server.close();
       parentPort.close();
     });`,
    { eval: true, workerData: gate },
  );
  const [port] = (await once(worker, 'message')) as [number];
  const fillers: Socket[] = [];
  t.after(async () => {
    for (const filler of fillers) filler.destroy();
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    await once(worker, 'exit');
  });
  for (let i = 0; i < 2; i++) {
    const filler = connect(port, '127.0.0.1');
    filler.on('error', () => {});
    fillers.push(filler);
    await once(filler, 'connect');
  }
  return new URL(`http://127.0.0.1:${port}`);
}

test('a connect that never completes fails its waiter with UPSTREAM_CONNECT_TIMEOUT after connectTimeoutMs', async (t) => {
  const origin = await startFullListener(t);
  const pool = startPool(t, origin, { connections: 1, connectTimeoutMs: 100 });

  const stuck = acquire(pool);
  const queued = acquire(pool);
  assert.deepEqual(stats(pool), { connected: 0, free: 0, pending: 1, running: 0 });
  await assert.rejects(stuck.settled, { code: 'UPSTREAM_CONNECT_TIMEOUT' });
  await assert.rejects(queued.settled, { code: 'UPSTREAM_CONNECT_TIMEOUT' });
  assert.deepEqual(stats(pool), IDLE);
});

test('close() closes idle sockets at once, refuses new callers, and resolves only after busy ones are released', async (t) => {
  const server = await startServer(t);
  const pool = startPool(t, server.origin);

  const [busy, spare] = await Promise.all([acquire(pool).settled, acquire(pool).settled]);
  pool.release(spare, true);
  let isClosed = false;
  const closing = pool.close().then(() => {
    isClosed = true;
  });
  assert.equal(spare.socket.destroyed, true);
  await waitUntil(() => server.closed() === 1, 'the idle socket to be closed');

  const late = acquire(pool);
  await assert.rejects(late.settled, { code: 'UPSTREAM_POOL_CLOSED' });
  // Still waiting for the busy one; its socket still open.
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(isClosed, false, 'close() resolved with a connection still busy');
  assert.equal(busy.socket.destroyed, false);

  pool.release(busy, true);
  await closing;
  assert.equal(busy.socket.destroyed, true, 'a connection released during close() was kept');
  assert.deepEqual(stats(pool), IDLE);
  await waitUntil(() => server.closed() === 2, 'the server to see both sockets closed');
});

test('destroy() refuses queued waiters with UPSTREAM_POOL_CLOSED and cuts busy connections', async (t) => {
  const server = await startServer(t);
  const pool = startPool(t, server.origin, { connections: 1 });

  const busy = await acquire(pool).settled;
  const cut: Error[] = [];
  busy.user = {
    onSocketData: () => {},
    onSocketEnd: () => {},
    onSocketClose: (error) => cut.push(error),
  };
  const queued = [acquire(pool), acquire(pool)];
  const destroyed = pool.destroy();
  for (const wait of queued) await assert.rejects(wait.settled, { code: 'UPSTREAM_POOL_CLOSED' });
  await destroyed;
  assert.equal(busy.socket.destroyed, true);
  assert.equal(cut.length, 1, "the busy connection's holder was not told");
  assert.deepEqual(stats(pool), IDLE);
  await waitUntil(() => server.closed() === 1, 'the server to see the socket closed');
});

test('an idle socket the server closes (FIN) is dropped and never handed out', async (t) => {
  const server = await startServer(t);
  const pool = startPool(t, server.origin);

  const stale = await acquire(pool).settled;
  await server.hasAccepted(1);
  pool.release(stale, true);
  for (const socket of server.sockets) socket.end();
  await waitUntil(() => pool.stats.connected === 0, 'the pool to drop the closed socket');
  assert.deepEqual(stats(pool), IDLE);

  const next = await acquire(pool).settled;
  assert.notEqual(next, stale);
  await server.hasAccepted(2);
  pool.release(next, true);
});

function refdTcpSockets(): number {
  return process.getActiveResourcesInfo().filter((type) => type === 'TCPSocketWrap').length;
}

test('an idle socket does not keep the process alive; a busy one does', async (t) => {
  const server = await startServer(t);
  const pool = startPool(t, server.origin);
  // Sockets of the tests before this one close asynchronously; start from none.
  await waitUntil(() => refdTcpSockets() === 0, 'the sockets of earlier tests to close');

  // Busy: the pool's end and the server's end are both ref'd.
  const connection = await acquire(pool).settled;
  await server.hasAccepted(1);
  assert.equal(refdTcpSockets(), 2);

  // Idle: only the server's end (the test's own fixture) still counts.
  pool.release(connection, true);
  assert.equal(refdTcpSockets(), 1);

  const again = acquire(pool);
  assert.equal(again.connection, connection);
  assert.equal(refdTcpSockets(), 2, "a socket handed out again was left unref'd");
  pool.release(connection, true);
});

test('destroy() after close() settles both', async (t) => {
  const server = await startServer(t);
  const pool = startPool(t, server.origin);

  await acquire(pool).settled;
  let isClosed = false;
  void pool.close().then(() => {
    isClosed = true;
  });
  await pool.destroy();
  await waitUntil(() => isClosed, 'the close() promise to settle');
  assert.deepEqual(stats(pool), IDLE);
});
