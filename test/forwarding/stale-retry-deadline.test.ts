// The retry of a request whose reused keep-alive socket died (forward.ts, RFC 9112 §9.3.1) runs on what is
// left of the attempt's headers deadline: a socket that takes the request and closes only late must not
// buy the caller a second whole `timeoutMs` on the fresh one.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { startFnshift } from '../helpers/fnshift.ts';

const TIMEOUT_MS = 1500;

type Script = {
  /** After how long the kept-alive socket closes, unanswered, on the second request it carries. */
  closeReusedAfterMs: number;
  /** After how long a fresh connection answers; never when undefined. */
  answerFreshAfterMs?: number;
};

/**
 * A raw upstream: its first connection answers one request and is kept alive, then takes the next and
 * closes after a delay without a byte; every later connection reads its request and answers per `script`.
 */
async function startLateClosingUpstream(t: TestContext, script: Script) {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  /** The connection (1, 2, ...) each request head arrived on, in order. */
  const seen: number[] = [];
  let connections = 0;
  const later = (ms: number, run: () => void) => timers.add(setTimeout(run, ms));
  const server = createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on('error', () => {});
    let requests = 0;
    let buffered = '';
    socket.on('data', (data: Buffer) => {
      buffered += data.toString('latin1');
      if (!buffered.includes('\r\n\r\n')) return;
      buffered = '';
      seen.push(connection);
      requests++;
      if (connection === 1 && requests === 1) {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfirst');
      } else if (connection === 1) {
        later(script.closeReusedAfterMs, () => socket.end());
      } else if (script.answerFreshAfterMs !== undefined) {
        later(script.answerFreshAfterMs, () =>
          socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfresh'),
        );
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const timer of timers) clearTimeout(timer);
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function startScript(t: TestContext, script: Script) {
  const upstream = await startLateClosingUpstream(t, script);
  // One socket, so the second request goes out on the kept-alive one.
  const fnshift = await startFnshift(t, {
    legacy: { url: upstream.url, timeoutMs: TIMEOUT_MS, pool: { connections: 1 } },
  });
  const first = await fetch(`${fnshift.url}/first`);
  assert.equal(await first.text(), 'first');
  return { upstream, fnshift };
}

test('a GET retried after its reused socket closed late gets its 504 within one timeoutMs, not two', async (t) => {
  const closeReusedAfterMs = 1000;
  const { upstream, fnshift } = await startScript(t, { closeReusedAfterMs });

  const sentMs = performance.now();
  const reply = await fetch(`${fnshift.url}/late`);
  const waitedMs = performance.now() - sentMs;

  assert.equal(reply.status, 504);
  assert.equal(((await reply.json()) as { code: string }).code, 'FNSHIFT_UPSTREAM_TIMEOUT');
  // The request did go out once more, on a fresh socket: this is the retry's deadline at work.
  assert.deepEqual(upstream.seen, [1, 1, 2]);
  // Slack for a loaded machine, yet short of timeoutMs + the late close, which a retry with a whole new
  // headers deadline takes at least.
  assert.ok(
    waitedMs < TIMEOUT_MS + closeReusedAfterMs - 200,
    `the caller waited ${Math.round(waitedMs)} ms for its 504 (timeoutMs ${TIMEOUT_MS})`,
  );
});

test('a GET retried after its reused socket closed late is answered by the fresh socket within what is left', async (t) => {
  const { upstream, fnshift } = await startScript(t, { closeReusedAfterMs: 600, answerFreshAfterMs: 200 });

  const reply = await fetch(`${fnshift.url}/late`);

  assert.equal(reply.status, 200);
  assert.equal(await reply.text(), 'fresh');
  assert.deepEqual(upstream.seen, [1, 1, 2]);
});

test('a GET retried after its reused socket closed late gets its 504 within one timeoutMs while it waits for a socket', async (t) => {
  // The retry queues behind a caller that asked for the one socket first and whose request then hangs:
  // the wait for a connection is part of the same deadline, and the queued retry leaves the queue.
  const closeReusedAfterMs = 1000;
  const { upstream, fnshift } = await startScript(t, { closeReusedAfterMs });

  const sentMs = performance.now();
  const late = fetch(`${fnshift.url}/late`).then(async (reply) => ({
    status: reply.status,
    code: ((await reply.json()) as { code: string }).code,
    waitedMs: performance.now() - sentMs,
  }));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const queued = fetch(`${fnshift.url}/queued`);
  const reply = await late;

  assert.equal(reply.status, 504);
  assert.equal(reply.code, 'FNSHIFT_UPSTREAM_TIMEOUT');
  assert.ok(
    reply.waitedMs < TIMEOUT_MS + closeReusedAfterMs - 200,
    `the caller waited ${Math.round(reply.waitedMs)} ms for its 504 (timeoutMs ${TIMEOUT_MS})`,
  );
  assert.equal((await queued).status, 504);
  // The fresh socket went to the caller queued first; the retry timed out before it had one.
  assert.deepEqual(upstream.seen, [1, 1, 2]);
});
