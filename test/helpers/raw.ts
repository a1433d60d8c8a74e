// Test helpers below the HTTP client: a byte-recording upstream, a one-shot client, and fnshift as a child process.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
} from 'node:http';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { TestContext } from 'node:test';
import { type LogLine, startFnshiftProcess, tempDir } from './process.ts';

export type RawExchange = { head: string; body: Buffer };

/** Lower-cased header lines of a raw HTTP head, in order, duplicates kept. */
export function headerLines(head: string): Array<[string, string]> {
  const end = head.indexOf('\r\n\r\n');
  const lines = (end === -1 ? head : head.slice(0, end)).split('\r\n').slice(1);
  return lines.map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
  });
}

/** Every value of one header in a raw head. */
export function valuesOf(head: string, name: string): string[] {
  return headerLines(head)
    .filter(([n]) => n === name)
    .map(([, v]) => v);
}

function bodyEnd(head: string, rest: Buffer): number {
  const length = valuesOf(head, 'content-length')[0];
  if (length !== undefined) return rest.length >= Number(length) ? Number(length) : -1;
  if (valuesOf(head, 'transfer-encoding').some((v) => v.toLowerCase().includes('chunked'))) {
    const end = rest.indexOf('0\r\n\r\n');
    return end === -1 ? -1 : end + 5;
  }
  return 0;
}

/**
 * A TCP upstream that records the exact bytes of each request (head and body, content-length or chunked
 * framing) and answers each with the raw bytes `respond` returns.
 */
export async function startRecordingUpstream(t: TestContext, respond: (exchange: RawExchange) => string) {
  const exchanges: RawExchange[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    let buffered = Buffer.alloc(0);
    socket.on('data', (data: Buffer) => {
      buffered = Buffer.concat([buffered, data]);
      for (;;) {
        const headEnd = buffered.indexOf('\r\n\r\n');
        if (headEnd === -1) return;
        const head = buffered.subarray(0, headEnd + 4).toString('latin1');
        const rest = buffered.subarray(headEnd + 4);
        const end = bodyEnd(head, rest);
        if (end === -1) return;
        const exchange = { head, body: Buffer.from(rest.subarray(0, end)) };
        buffered = Buffer.from(rest.subarray(end));
        exchanges.push(exchange);
        socket.write(respond(exchange));
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, port, exchanges };
}

export type Reply = { status: number; headers: IncomingHttpHeaders; body: Buffer };

/** One request on its own connection (no agent, no pooling), the whole response body collected. */
export function send(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string | string[]>;
    body?: Buffer | string | Readable;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    const body = options.body;
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

/** The `code` of a problem+json reply, after checking it is one. */
export function problemCode(reply: Reply): string {
  if (!String(reply.headers['content-type']).startsWith('application/problem+json')) {
    throw new Error(`not a problem+json reply: ${reply.status} ${reply.headers['content-type']}`);
  }
  return (JSON.parse(reply.body.toString()) as { code: string }).code;
}

export type ChildFnshift = {
  child: ChildProcess;
  pid: number;
  dataUrl: string;
  adminUrl: string;
  /** Resolves with the first log line (parsed JSON) whose `msg` is `msg`. */
  waitForLog(msg: string): Promise<Record<string, unknown>>;
  /** Every JSON line logged so far, in order (workers log through the same stdout). */
  logs: LogLine[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

/** `fnshift run -c FILE` as a child process (its own heap, its own RSS), resolved once it listens. */
export async function spawnFnshift(
  t: TestContext,
  config: Record<string, unknown>,
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<ChildFnshift> {
  const dir = await tempDir(t);
  const file = join(dir, 'fnshift.json');
  await writeFile(
    file,
    JSON.stringify({
      listen: '127.0.0.1:0',
      admin: { listen: '127.0.0.1:0' },
      functions: {},
      routes: [],
      state: { file: join(dir, 'state.json') },
      ...config,
    }),
  );
  const proc = await startFnshiftProcess(t, file, options);
  return {
    child: proc.child,
    pid: proc.child.pid!,
    dataUrl: proc.dataUrl,
    adminUrl: proc.adminUrl,
    waitForLog: (msg) => proc.waitForLog((line) => line.msg === msg),
    logs: proc.logs,
    exited: proc.exited,
  };
}

/** VmRSS and VmHWM (peak RSS) of a process, in bytes, from /proc/<pid>/status. */
export async function memoryOf(pid: number): Promise<{ rssBytes: number; peakRssBytes: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssBytes: kib('VmRSS') * 1024, peakRssBytes: kib('VmHWM') * 1024 };
}

/** Resolves with everything read so far once it contains `marker`; rejects if the socket closes first. */
export function readUntil(socket: Socket, marker: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      if (!seen.includes(marker)) return;
      socket.off('data', onData).off('close', onClose);
      resolve(seen);
    };
    const onClose = () => reject(new Error(`closed before "${marker}"; read: ${JSON.stringify(seen)}`));
    socket.on('data', onData).once('close', onClose);
  });
}

/**
 * A legacy app that accepts WebSocket-style upgrades: it answers 101, says `hello-from-legacy`, then echoes
 * every chunk back as `echo:<chunk>`. Plain requests get 426.
 */
export async function startUpgradeLegacy(t: TestContext) {
  const upgrades: IncomingMessage[] = [];
  const tunnels = new Set<Socket>();
  const server = createHttpServer((_req, res) => res.writeHead(426).end());
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    upgrades.push(req);
    tunnels.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => tunnels.delete(socket));
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello-from-legacy',
    );
    socket.on('data', (chunk: Buffer) => socket.write(`echo:${chunk.toString()}`));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    // Upgraded sockets are no longer the HTTP server's: closeAllConnections does not reach them.
    for (const socket of tunnels) socket.destroy();
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, port, upgrades, tunnels };
}

/** A raw client that has sent an upgrade request through fnshift and read the 101 and legacy's greeting. */
export async function openTunnel(
  t: TestContext,
  port: number,
  target = '/ws/chat?room=1',
  extraHeaders = '',
) {
  const client = connect(port, '127.0.0.1');
  client.on('error', () => {});
  t.after(() => client.destroy());
  await once(client, 'connect');
  const greeting = readUntil(client, 'hello-from-legacy');
  client.write(
    `GET ${target} HTTP/1.1\r\nHost: fnshift.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extraHeaders}\r\n`,
  );
  return { client, head: await greeting };
}
