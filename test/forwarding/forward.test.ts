// The attempt's relay of response bytes (src/forwarding/forward.ts) against a caller that stops reading.
// Upstream reads land in one buffer the pool reuses, so every byte a response keeps past the read (queued
// behind a full socket) must be a copy: here the upstream sends its body in small pieces, the caller
// reads nothing until all of it is out, and the body must still arrive byte for byte, in both lanes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFnshift } from '../helpers/fnshift.ts';

const BODY_BYTES = 4 * 1024 * 1024;
const PIECE_BYTES = 4096;

/** Bytes that differ at every offset, so a piece overwritten by a later one changes the hash. */
function body(): Buffer {
  const bytes = Buffer.allocUnsafe(BODY_BYTES);
  for (let i = 0; i < BODY_BYTES; i++) bytes[i] = (i * 7 + (i >>> 12)) & 0xff;
  return bytes;
}

/** A raw upstream that answers every request with `expected`, written one small piece per tick. */
async function startPieceUpstream(t: TestContext, expected: Buffer) {
  let piecesSent = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', async () => {
      socket.write(
        `HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${BODY_BYTES}\r\n\r\n`,
      );
      for (let at = 0; at < BODY_BYTES; at += PIECE_BYTES) {
        // One piece per write and a tick between them: fnshift reads them one at a time.
        if (!socket.write(expected.subarray(at, at + PIECE_BYTES))) await once(socket, 'drain');
        else await new Promise<void>((resolve) => setImmediate(resolve));
        piecesSent++;
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    piecesSent: () => piecesSent,
  };
}

/** Sends `request`, reads nothing for `stallMs`, then everything; returns the response body. */
async function stalledExchange(port: number, request: string, stallMs: number): Promise<Buffer> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.pause();
  socket.write(request);
  await sleep(stallMs);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.resume();
  let received = Buffer.alloc(0);
  for (;;) {
    received = Buffer.concat([received, ...chunks.splice(0)]);
    const headEnd = received.indexOf('\r\n\r\n');
    if (headEnd !== -1 && received.length - headEnd - 4 >= BODY_BYTES) {
      socket.destroy();
      assert.match(received.subarray(0, headEnd).toString('latin1'), /^HTTP\/1\.1 200 /);
      return received.subarray(headEnd + 4, headEnd + 4 + BODY_BYTES);
    }
    await Promise.race([once(socket, 'data'), once(socket, 'close')]);
    if (socket.destroyed && chunks.length === 0) throw new Error(`closed after ${received.length} bytes`);
  }
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

for (const [lane, request] of [
  ['the fast lane (a bodiless GET)', 'GET /big HTTP/1.1\r\nHost: fnshift\r\n\r\n'],
  ["Node's lane (a POST)", 'POST /big HTTP/1.1\r\nHost: fnshift\r\nContent-Length: 0\r\n\r\n'],
] as const) {
  test(`a caller that stalls gets every upstream byte intact through ${lane}`, async (t) => {
    const expected = body();
    const upstream = await startPieceUpstream(t, expected);
    const fnshift = await startFnshift(t, { legacy: { url: upstream.url } });
    // Long enough for the caller's socket buffers to fill and fnshift to queue (and pause the upstream).
    const received = await stalledExchange(fnshift.port, request, 400);
    assert.ok(upstream.piecesSent() > 0);
    assert.equal(received.length, BODY_BYTES);
    assert.equal(sha256(received), sha256(expected), 'the body arrived with bytes overwritten');
  });
}

test('a head, chunk-size lines and trailers split across many reads are put back together', async (t) => {
  // Chunked, with a trailer: every state of the parser that keeps bytes for the next read is crossed.
  const response =
    'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n' +
    '5\r\nhello\r\n7\r\n, world\r\n0\r\nx-checksum: 1\r\n\r\n';
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', async () => {
      for (let at = 0; at < response.length; at += 3) {
        socket.write(response.slice(at, at + 3));
        // Apart in time, so each piece is a read of its own on fnshift's side.
        await sleep(2);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const fnshift = await startFnshift(t, {
    legacy: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` },
  });
  const reply = await fetch(`${fnshift.url}/split`);
  assert.equal(reply.status, 200);
  assert.equal(reply.headers.get('content-type'), 'text/plain');
  assert.equal(await reply.text(), 'hello, world');
});
