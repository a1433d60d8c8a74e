// WebSocket (and other Upgrade) requests always go to legacy: a function platform's HTTP trigger cannot
// hold a socket. The request head is rebuilt from parsed headers, then bytes are piped both ways.
import type { IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { Snapshot } from '../config/snapshot.ts';
import { FnshiftError, problemBody } from '../errors.ts';
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
  upstream.once('connect', () => {
    clearTimeout(connectTimer);
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  upstream.on('error', () => {
    clearTimeout(connectTimer);
    if (upstream.bytesRead === 0)
      reject(socket, new FnshiftError('FNSHIFT_UPSTREAM_UNAVAILABLE', 'legacy cannot be reached'));
    else socket.destroy();
  });
  socket.on('close', () => upstream.destroy());
  upstream.on('close', () => socket.destroy());
}
