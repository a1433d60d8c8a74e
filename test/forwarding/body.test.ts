// A streamed request body (src/forwarding/body.ts) when the upstream does not read it all: answered early,
// or stalled. Who is blamed, what the caller gets, and that nothing acts after the attempt settled; and how
// a piece of it is freed once sent.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { releasePiece } from '../../src/forwarding/body.ts';
import { startFnshift, statusOf } from '../helpers/fnshift.ts';

/** A raw upstream: `onHead(socket)` runs once a request head has arrived; it may answer, or stop reading. */
async function startRawUpstream(t: TestContext, onHead: (socket: Socket) => void) {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      if (!seen.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      onHead(socket);
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Everything the caller's socket reads until it closes or `ms` pass. */
function collect(socket: Socket, ms: number): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve(text), ms);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}

test('an upstream that answers before the body ends: the caller gets its answer and the connection closes, and the idle body deadline never fires', async (t) => {
  const legacyUrl = await startRawUpstream(t, (socket) => {
    // Read on (and drop) the rest, as a server that refuses an upload does.
    socket.resume();
    socket.write('HTTP/1.1 401 Unauthorized\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nno');
  });
  const bodyIdleTimeoutMs = 200;
  const fnshift = await startFnshift(t, { legacy: { url: legacyUrl }, limits: { bodyIdleTimeoutMs } });
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  process.on('uncaughtException', onUncaught);
  t.after(() => process.off('uncaughtException', onUncaught));

  const socket = connect(fnshift.port, '127.0.0.1');
  await once(socket, 'connect');
  const reply = collect(socket, 5 * bodyIdleTimeoutMs);
  socket.write(`POST /upload HTTP/1.1\r\nHost: fnshift\r\nContent-Length: 100000\r\n\r\n${'a'.repeat(100)}`);
  await sleep(100);
  // More bytes after the answer, then silence past the body's idle deadline.
  socket.write('b'.repeat(100));
  const response = await reply;
  socket.destroy();
  await sleep(2 * bodyIdleTimeoutMs);

  assert.equal(statusOf(response), 401, response);
  assert.match(response, /\r\nconnection: close\r\n/i);
  assert.ok(response.endsWith('\r\n\r\nno'), response);
  assert.deepEqual(uncaught, []);
  // fnshift still serves.
  const after = await fetch(`${fnshift.url}/still-there`, { method: 'POST', body: 'x' });
  assert.equal(after.status, 401);
  await after.text();
});

test('an upstream that stops reading a body gets the 504, and the client that sent it no 408', async (t) => {
  const legacyUrl = await startRawUpstream(t, (socket) => socket.pause());
  const fnshift = await startFnshift(t, {
    legacy: { url: legacyUrl, timeoutMs: 600 },
    limits: { bodyIdleTimeoutMs: 200, maxBodyBytes: 64 * 1024 * 1024 },
  });
  const socket = connect(fnshift.port, '127.0.0.1');
  await once(socket, 'connect');
  const reply = collect(socket, 5000);
  const bodyBytes = 16 * 1024 * 1024;
  socket.write(`POST /upload HTTP/1.1\r\nHost: fnshift\r\nContent-Length: ${bodyBytes}\r\n\r\n`);
  // The client sends as fast as fnshift takes it: it is never the one that goes quiet.
  socket.write(Buffer.alloc(bodyBytes, 0x61));
  const response = await reply;
  socket.destroy();
  assert.equal(statusOf(response), 504, response);
  assert.match(response, /"code":"FNSHIFT_UPSTREAM_TIMEOUT"/);
  assert.match(response, /\r\nconnection: close\r\n/i);
});

test('releasePiece frees a piece that is its whole buffer, and leaves slices of shared memory alone', () => {
  const own = Buffer.from(new ArrayBuffer(64 * 1024));
  own.fill(7);
  releasePiece(own);
  assert.equal(own.buffer.detached, true, 'a whole, own buffer is released');
  assert.equal(own.length, 0);
  releasePiece(own); // twice is harmless

  const shared = Buffer.alloc(64 * 1024, 1);
  const head = shared.subarray(0, 1024);
  const tail = shared.subarray(1024);
  releasePiece(head);
  releasePiece(tail);
  assert.equal(shared.buffer.detached, false, 'slices are never released');
  assert.equal(shared[0], 1);

  const pooled = Buffer.from('a small piece in the shared pool');
  releasePiece(pooled);
  assert.equal(pooled.toString(), 'a small piece in the shared pool');
});
