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
import { slabCounts } from '../../src/forwarding/borrowed-copies.ts';
import { startFnshift } from '../helpers/fnshift.ts';

// More than the loopback socket buffers between the caller, fnshift and the upstream hold (measured:
// 4 MiB fit in them on this machine, and nothing ever waited in fnshift), so fnshift must queue bytes.
const BODY_BYTES = 24 * 1024 * 1024;
/**
 * Small pieces make small reads, copied the plain way; large ones make reads of 16 KiB and more, copied
 * into recycled slabs (borrowed-copies.ts), which must not be reused while a socket still queues them.
 */
const PIECE_SIZES = [
  ['4 KiB', 4 * 1024],
  ['48 KiB', 48 * 1024],
] as const;

/** Bytes that differ at every offset, so a piece overwritten by a later one changes the hash. */
function body(): Buffer {
  const bytes = Buffer.allocUnsafe(BODY_BYTES);
  for (let i = 0; i < BODY_BYTES; i++) bytes[i] = (i * 7 + (i >>> 12)) & 0xff;
  return bytes;
}

type Framing = 'content-length' | 'chunked';

/** A raw upstream that answers every request with `expected`, written one small piece per tick. */
async function startPieceUpstream(t: TestContext, expected: Buffer, framing: Framing, pieceBytes: number) {
  let piecesSent = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', async () => {
      const length = framing === 'chunked' ? 'transfer-encoding: chunked' : `content-length: ${BODY_BYTES}`;
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n${length}\r\n\r\n`);
      for (let at = 0; at < BODY_BYTES; at += pieceBytes) {
        const piece = expected.subarray(at, at + pieceBytes);
        const framed =
          framing === 'chunked'
            ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')])
            : piece;
        // One piece per write and a tick between them: fnshift reads them one at a time.
        if (!socket.write(framed)) await once(socket, 'drain');
        else await new Promise<void>((resolve) => setImmediate(resolve));
        piecesSent++;
      }
      if (framing === 'chunked') socket.write('0\r\n\r\n');
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
    totalPieces: Math.ceil(BODY_BYTES / pieceBytes),
  };
}

/** Resolves once the upstream has sent nothing new for `quietMs`: every buffer on the way is full. */
async function untilStalled(piecesSent: () => number, totalPieces: number, quietMs: number): Promise<void> {
  let last = -1;
  let quietSinceMs = Date.now();
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(50)) {
    const now = piecesSent();
    if (now !== last) {
      last = now;
      quietSinceMs = Date.now();
    } else if (Date.now() - quietSinceMs >= quietMs) {
      return;
    }
  }
  throw new Error(`the upstream never stalled (${piecesSent()} of ${totalPieces} pieces sent)`);
}

/** Sends `request`, reads nothing until the upstream stalls, then everything; returns the decoded body. */
async function stalledExchange(
  port: number,
  request: string,
  upstream: { piecesSent: () => number; totalPieces: number },
): Promise<{ body: Buffer; piecesAtResume: number }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.pause();
  socket.write(request);
  await untilStalled(upstream.piecesSent, upstream.totalPieces, 300);
  const piecesAtResume = upstream.piecesSent();
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.resume();
  await Promise.race([once(socket, 'end'), once(socket, 'close'), completeResponse(chunks)]);
  socket.destroy();
  return { body: decodeBody(Buffer.concat(chunks)), piecesAtResume };
}

/** Polls until the collected bytes hold a whole response (fnshift keeps the connection open after it). */
async function completeResponse(chunks: Buffer[]): Promise<void> {
  for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(20)) {
    const received = Buffer.concat(chunks);
    chunks.splice(0, chunks.length, received);
    const headEnd = received.indexOf('\r\n\r\n');
    if (headEnd === -1) continue;
    const head = received.subarray(0, headEnd).toString('latin1');
    const rest = received.subarray(headEnd + 4);
    if (/\r\ncontent-length: /i.test(head) ? rest.length >= BODY_BYTES : rest.includes('\r\n0\r\n\r\n'))
      return;
  }
  throw new Error('no whole response within 20 s');
}

/** The body of one HTTP/1.1 200 response, unchunked when it is chunked. */
function decodeBody(received: Buffer): Buffer {
  const headEnd = received.indexOf('\r\n\r\n');
  const head = received.subarray(0, headEnd).toString('latin1');
  assert.match(head, /^HTTP\/1\.1 200 /);
  let rest = received.subarray(headEnd + 4);
  if (!/\r\ntransfer-encoding: chunked/i.test(head)) return rest.subarray(0, BODY_BYTES);
  const parts: Buffer[] = [];
  for (;;) {
    const lineEnd = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) return Buffer.concat(parts);
    parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
    rest = rest.subarray(lineEnd + 2 + size + 2);
  }
}

async function untilSlabsReturned(): Promise<void> {
  for (const deadline = Date.now() + 5_000; slabCounts().inUse > 0; await sleep(20)) {
    if (Date.now() > deadline) assert.fail(`${slabCounts().inUse} slab copies never came back`);
  }
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

for (const [pieceName, pieceBytes] of PIECE_SIZES) {
  for (const framing of ['content-length', 'chunked'] as const) {
    for (const [lane, request] of [
      ['the fast lane (a bodiless GET)', 'GET /big HTTP/1.1\r\nHost: fnshift\r\n\r\n'],
      ["Node's lane (a POST)", 'POST /big HTTP/1.1\r\nHost: fnshift\r\nContent-Length: 0\r\n\r\n'],
    ] as const) {
      test(`a caller that stalls gets every byte of a ${framing} body sent in ${pieceName} pieces intact through ${lane}`, async (t) => {
        const expected = body();
        const upstream = await startPieceUpstream(t, expected, framing, pieceBytes);
        const fnshift = await startFnshift(t, { legacy: { url: upstream.url } });
        const { body: received, piecesAtResume } = await stalledExchange(fnshift.port, request, upstream);
        // The upstream stalled before the end: the caller's stall backed up through fnshift's queues.
        const total = upstream.totalPieces;
        assert.ok(piecesAtResume < total, `${piecesAtResume} of ${total} pieces went out unread`);
        assert.equal(received.length, BODY_BYTES);
        assert.equal(sha256(received), sha256(expected), 'the body arrived with bytes overwritten');
        // Every slab copy came back once its socket had flushed it: none leaks to the GC.
        await untilSlabsReturned();
        if (pieceBytes >= 16 * 1024) assert.ok(slabCounts().free > 0, 'the relay used no slab');
      });
    }
  }
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
