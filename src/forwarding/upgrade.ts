// WebSocket (and other Upgrade) requests always go to legacy: a function platform's HTTP trigger cannot
// hold a socket. The request head is rebuilt from parsed headers; the caller's later bytes wait for legacy's
// 101 and are then piped both ways. A refusal is relayed whole, and the connection closes after it.
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { Snapshot } from '../config/snapshot.ts';
import { FnshiftError, problemBody } from '../errors.ts';
import { upstreamError } from './connection-pool.ts';
import { toUpstreamError } from './fallback.ts';
import { guard, type Target } from './guard.ts';
import { forwardedFields, OWN_PREFIX } from './headers.ts';
import { ResponseParser } from './response-parser.ts';

const DROPPED = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded']);
const HEAD_END = Buffer.from('\r\n\r\n');

function reject(socket: Duplex, error: FnshiftError): void {
  if (!socket.writable) return void socket.destroy();
  const body = problemBody(error);
  // Destroy only once the answer is flushed, or it may never leave.
  socket.end(
    `HTTP/1.1 ${error.status} ${error.message.replace(/[\r\n]/g, ' ')}\r\nconnection: close\r\n` +
      `content-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

function hasCrlf(value: string): boolean {
  return /[\r\n\0]/.test(value);
}

/** What legacy is sent for the upgrade request: its own Host, the caller's fields less hop-by-hop ones. */
function requestHead(snap: Snapshot, req: IncomingMessage, legacyUrl: URL, target: Target): string {
  const path = snap.legacy.basePath + target.path + (target.query ? `?${target.query}` : '');
  const peer = req.socket.remoteAddress ?? '';
  const lines = [`${req.method} ${path} HTTP/1.1`, `host: ${legacyUrl.host}`];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (DROPPED.has(name) || name.startsWith(OWN_PREFIX) || hasCrlf(raw[i + 1]!)) continue;
    lines.push(`${raw[i]}: ${raw[i + 1]}`);
  }
  // Trusted proxies' values are kept here as on every other request (forwarding.trustedProxies).
  const forwarded = forwardedFields(req, { peer, isTrustedPeer: snap.isTrustedPeer(peer), proto: 'http' });
  for (let i = 0; i < forwarded.length; i += 2) {
    if (!hasCrlf(forwarded[i + 1]!)) lines.push(`${forwarded[i]}: ${forwarded[i + 1]}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** `HTTP/1.x NNN` then a space or the line's end: the status code, or 0 for anything else. */
function statusCodeOf(head: Buffer): number {
  const match = /^HTTP\/1\.[01] (\d{3})[ \r]/.exec(head.toString('latin1', 0, 13));
  return match ? Number(match[1]) : 0;
}

/**
 * Calls `onAnswer` once legacy's answer has a complete head that is not an interim 1xx (RFC 9110 §15.2: a
 * 100 or 103 may come first; a 101 is itself the answer to an upgrade), with that head's status code and
 * the bytes from its first one on, as far as they have arrived. Bytes are only looked at, never held back:
 * they reach the caller as they arrive. Only a head still incomplete is kept, and one past `maxHeadBytes`
 * (legacy.pool.maxResponseHeaderBytes, as on every other response) calls `onTooLarge` instead.
 */
function watchHead(
  upstream: Socket,
  maxHeadBytes: number,
  onAnswer: (statusCode: number, answer: Buffer) => void,
  onTooLarge: () => void,
): void {
  let pending: Buffer | undefined;
  const onData = (chunk: Buffer) => {
    // The bytes kept were searched already: only a blank line split across the two reads is new.
    let from = pending ? Math.max(0, pending.length - 3) : 0;
    let data = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    for (;;) {
      const end = data.indexOf(HEAD_END, from);
      if ((end === -1 ? data.length : end) > maxHeadBytes) {
        upstream.off('data', onData);
        return onTooLarge();
      }
      if (end === -1) {
        pending = data;
        return;
      }
      const statusCode = statusCodeOf(data);
      if (statusCode === 101 || statusCode < 100 || statusCode > 199) {
        upstream.off('data', onData);
        return onAnswer(statusCode, data);
      }
      data = data.subarray(end + 4);
      from = 0;
    }
  };
  upstream.on('data', onData);
}

/**
 * Keeps what the caller sends after its upgrade request (`head` included) until legacy has answered. RFC
 * 6455 §4.1 has a client wait for the server's handshake answer before it sends data, so these bytes belong
 * to the tunnel, never to legacy as a request: after a refusal, sent on, they would skip guard(), routing
 * and every header rule. Past `maxHeldBytes` the caller is paused: its socket then takes in one
 * readableHighWaterMark more and leaves the rest in TCP's window. The caller ending its side calls
 * `onLeave` (seen only while it is read: one paused waits for the answer or legacy.timeoutMs); `release()`
 * stops the hold and hands over what was held, in order.
 */
function holdCaller(socket: Duplex, head: Buffer, maxHeldBytes: number, onLeave: () => void) {
  const held = head.length > 0 ? [head] : [];
  let heldBytes = head.length;
  const onData = (chunk: Buffer) => {
    held.push(chunk);
    heldBytes += chunk.length;
    if (heldBytes >= maxHeldBytes) socket.pause();
  };
  socket.on('data', onData).once('end', onLeave);
  if (heldBytes >= maxHeldBytes) socket.pause();
  return {
    release(): Buffer[] {
      socket.off('data', onData).off('end', onLeave);
      return held.splice(0);
    },
  };
}

export function handleUpgrade(snap: Snapshot, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const guarded = guard(req, snap.config.limits);
  if (!guarded.ok) return reject(socket, guarded.error);
  const legacyUrl = new URL(snap.config.legacy.url);
  const port = Number(legacyUrl.port || (legacyUrl.protocol === 'https:' ? 443 : 80));
  const pool = snap.config.legacy.pool;

  const upstream: Socket =
    legacyUrl.protocol === 'https:'
      ? tlsConnect({ host: legacyUrl.hostname, port, servername: legacyUrl.hostname })
      : connect({ host: legacyUrl.hostname, port });
  // A caller that ends its side before the answer has left: a WebSocket needs both directions, and Node's
  // server treats a client's FIN on any other request the same way.
  const caller = holdCaller(socket, head, snap.config.limits.maxHeaderBytes, () => upstream.destroy());
  const connectTimer = setTimeout(
    () => upstream.destroy(new Error('connect timeout')),
    pool.connectTimeoutMs,
  );
  let headTimer: NodeJS.Timeout | undefined;
  const closeCaller = () => socket.destroy();
  // Read and dropped, not left unread: closing a socket with unread bytes sends a reset (RFC 9293 §3.6.1),
  // and a reset can wipe the answer still unread in the caller's buffer.
  const dropCaller = () => {
    caller.release();
    socket.unpipe(upstream).resume();
  };
  // Legacy's close would cut a problem answer before it leaves: reject() closes the caller once it is out.
  const fail = (error: FnshiftError) => {
    upstream.off('close', closeCaller).unpipe(socket).destroy();
    dropCaller();
    if (upstream.bytesRead === 0) reject(socket, error);
    else socket.destroy();
  };
  const onUpstreamError = (cause: Error) =>
    fail(new FnshiftError('FNSHIFT_UPSTREAM_UNAVAILABLE', 'legacy cannot be reached', { cause }));
  const openTunnel = () => {
    for (const chunk of caller.release()) upstream.write(chunk);
    socket.pipe(upstream);
  };
  // The connection ends with the refusal: legacy gets no other byte, so it cannot take one for a request.
  // Legacy's FIN waits for its answer to be whole (by its framing), since a server may take an early FIN
  // for an aborted request and cut a slow answer short.
  const relayRefusal = (answer: Buffer) => {
    dropCaller();
    // From here legacy's socket is on its own: whatever becomes of it, the caller gets the whole answer.
    const endRefusal = () => {
      upstream
        .off('data', read)
        .off('close', closeCaller)
        .off('error', onUpstreamError)
        .on('error', () => {});
      upstream.unpipe(socket).resume().end();
      socket.end(() => socket.destroy());
    };
    const parser = new ResponseParser(
      {
        isHeadRequest: req.method === 'HEAD',
        maxHeaderBytes: pool.maxResponseHeaderBytes,
        maxBodyBytes: pool.maxResponseBytes,
      },
      { onHead: () => {}, onData: () => {}, onEnd: endRefusal },
    );
    const read = (chunk: Buffer) => {
      try {
        parser.execute(chunk);
      } catch (error) {
        fail(toUpstreamError(error, 'legacy'));
      }
    };
    upstream.on('data', read).once('end', () => {
      try {
        parser.finish();
      } catch (error) {
        fail(toUpstreamError(error, 'legacy'));
      }
    });
    read(answer);
  };
  upstream.once('connect', () => {
    clearTimeout(connectTimer);
    upstream.write(requestHead(snap, req, legacyUrl, guarded.target));
    // legacy.timeoutMs is already legacy's deadline for response headers on every other request (forward.ts),
    // and the 101 is a response head like any other. It stops at the head: a WebSocket may then be quiet for
    // hours, and a non-101 answer's body is relayed as it comes.
    const timeoutMs = snap.config.legacy.timeoutMs;
    headTimer = setTimeout(() => {
      const cause = upstreamError(
        'UPSTREAM_HEADERS_TIMEOUT',
        `no response head to an upgrade in ${timeoutMs} ms`,
      );
      fail(toUpstreamError(cause, 'legacy'));
    }, timeoutMs);
    // Piped before watchHead listens, so a chunk is on its way to the caller before the answer it completes
    // is acted on: a refusal is whole on the caller's side when the caller is ended.
    upstream.pipe(socket);
    watchHead(
      upstream,
      pool.maxResponseHeaderBytes,
      (statusCode, answer) => {
        clearTimeout(headTimer);
        if (statusCode === 101) openTunnel();
        else relayRefusal(answer);
      },
      () => {
        const cause = upstreamError(
          'UPSTREAM_BAD_RESPONSE',
          `response head to an upgrade exceeds ${pool.maxResponseHeaderBytes} bytes`,
        );
        fail(toUpstreamError(cause, 'legacy'));
      },
    );
  });
  upstream.on('error', onUpstreamError);
  // Every path ends with legacy's socket closed, so its timers are cleared in this one place.
  upstream.once('close', () => {
    clearTimeout(connectTimer);
    clearTimeout(headTimer);
  });
  upstream.on('close', closeCaller);
  socket.on('close', () => upstream.destroy());
}
