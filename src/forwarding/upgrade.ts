// WebSocket (and other Upgrade) requests always go to legacy: a function platform's HTTP trigger cannot
// hold a socket. The request head is rebuilt from parsed headers, then bytes are piped both ways.
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { Snapshot } from '../config/snapshot.ts';
import { FnshiftError, problemBody } from '../errors.ts';
import { upstreamError } from './connection-pool.ts';
import { toUpstreamError } from './fallback.ts';
import { guard } from './guard.ts';
import { forwardedFields, OWN_PREFIX } from './headers.ts';

const DROPPED = new Set(['host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded']);

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

/**
 * Calls `onHead` once legacy's answer has a complete head that is not an interim 1xx (RFC 9110 §15.2: a
 * 100 or 103 may come first; a 101 is itself the answer to an upgrade). Bytes are only looked at, never
 * held: they reach the caller as they arrive, so only the status line start and a CRLFCRLF split across
 * two chunks are kept.
 */
function watchHead(upstream: Socket, onHead: () => void): void {
  let start = '';
  let tail = '';
  const onData = (chunk: Buffer) => {
    let text = chunk.toString('latin1');
    for (;;) {
      start += text.slice(0, 12 - start.length);
      const seen = tail + text;
      const end = seen.indexOf('\r\n\r\n');
      if (end === -1) {
        tail = seen.slice(-3);
        return;
      }
      if (!/^HTTP\/1\.[01] 1(0[02-9]|[1-9]\d)$/.test(start)) {
        upstream.off('data', onData);
        return onHead();
      }
      text = seen.slice(end + 4);
      start = '';
      tail = '';
    }
  };
  upstream.on('data', onData);
}

export function handleUpgrade(snap: Snapshot, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const guarded = guard(req, snap.config.limits);
  if (!guarded.ok) return reject(socket, guarded.error);
  const legacyUrl = new URL(snap.config.legacy.url);
  const port = Number(legacyUrl.port || (legacyUrl.protocol === 'https:' ? 443 : 80));
  const path =
    snap.legacy.basePath + guarded.target.path + (guarded.target.query ? `?${guarded.target.query}` : '');
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

  const upstream: Socket =
    legacyUrl.protocol === 'https:'
      ? tlsConnect({ host: legacyUrl.hostname, port, servername: legacyUrl.hostname })
      : connect({ host: legacyUrl.hostname, port });
  const connectTimer = setTimeout(
    () => upstream.destroy(new Error('connect timeout')),
    snap.config.legacy.pool.connectTimeoutMs,
  );
  let headTimer: NodeJS.Timeout | undefined;
  const closeCaller = () => {
    clearTimeout(headTimer);
    socket.destroy();
  };
  // Legacy's close would cut a problem answer before it leaves: reject() closes the caller once it is out.
  const fail = (error: FnshiftError) => {
    clearTimeout(connectTimer);
    clearTimeout(headTimer);
    upstream.off('close', closeCaller).unpipe(socket).destroy();
    if (upstream.bytesRead === 0) reject(socket, error);
    else socket.destroy();
  };
  upstream.once('connect', () => {
    clearTimeout(connectTimer);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
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
    watchHead(upstream, () => clearTimeout(headTimer));
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  upstream.on('error', (cause) =>
    fail(new FnshiftError('FNSHIFT_UPSTREAM_UNAVAILABLE', 'legacy cannot be reached', { cause })),
  );
  socket.on('close', () => {
    clearTimeout(headTimer);
    upstream.destroy();
  });
  upstream.on('close', closeCaller);
}
