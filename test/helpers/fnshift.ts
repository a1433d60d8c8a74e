// Test helpers: an in-process fnshift on port 0, upstream fixtures that count what they receive, raw sockets.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  type AddressInfo,
  connect,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import type { TestContext } from 'node:test';
import { type App, createApp } from '../../src/app.ts';
import { validateConfig } from '../../src/config/load.ts';
import type { Config, ConfigInput } from '../../src/config/schema.ts';
import type { FunctionGate } from '../../src/request-path.ts';

export type Received = {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: Buffer;
};

export type Fixture = { url: string; server: Server; received: Received[]; port: number };

/** An HTTP upstream that records every request (body included) before calling `handler`. */
export async function startFixture(
  t: TestContext,
  handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void = (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  },
): Promise<Fixture> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {});
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
      });
      handler(req, res, body);
    });
  });
  server.keepAliveTimeout = 10_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => closeServer(server));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, server, received, port };
}

/** A TCP upstream scripted byte by byte (fault injection: resets, junk, hangs). */
export async function startRawFixture(t: TestContext, onSocket: (socket: Socket, data: Buffer) => void) {
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  const server: NetServer = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      buffered = Buffer.concat([buffered, data]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end === -1) return;
      requests.push(buffered.toString('latin1'));
      const head = buffered;
      buffered = Buffer.alloc(0);
      onSocket(socket, head);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, server, requests, port, sockets };
}

export function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A URL on which nothing listens (connect refused). */
export async function refusedUrl(): Promise<string> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

export function buildConfig(input: Partial<ConfigInput> & Pick<ConfigInput, 'legacy'>): Config {
  const result = validateConfig({
    listen: '127.0.0.1:0',
    admin: { listen: '127.0.0.1:0' },
    functions: {},
    routes: [],
    ...input,
  });
  if (!result.ok) throw new Error(`test config invalid:\n${result.problems.join('\n')}`);
  return result.config;
}

export type Running = { app: App; url: string; adminUrl: string; port: number };

export async function startFnshift(
  t: TestContext,
  input: Partial<ConfigInput> & Pick<ConfigInput, 'legacy'>,
  options: { gate?: FunctionGate } = {},
): Promise<Running> {
  const app = createApp(buildConfig(input), options);
  const addresses = await app.start();
  t.after(() => app.shutdown(1000));
  return { app, url: addresses.data, adminUrl: addresses.admin, port: Number(new URL(addresses.data).port) };
}

/** Sends raw bytes and collects everything the server answers until it closes or goes quiet. */
export function rawRequest(
  port: number,
  bytes: string | Buffer,
  options: { quietMs?: number } = {},
): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(done, options.quietMs ?? 1000);
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      arm();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.write(bytes);
    arm();
  });
}

export function statusOf(rawResponse: string): number {
  return Number(rawResponse.slice(9, 12));
}

/** The JSON body of a raw HTTP response with a Content-Length. */
export function bodyOf(rawResponse: string): unknown {
  const start = rawResponse.indexOf('\r\n\r\n');
  return JSON.parse(rawResponse.slice(start + 4));
}
