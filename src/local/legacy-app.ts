// The demo's legacy BFF: a plain node:http server in front of the shop's logic layer, as before the move.
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { Socket } from 'node:net';
import { readBody } from './body.ts';
import {
  FEEDBACK_LIMIT_BYTES,
  getItem,
  isProblem,
  type Problem,
  problems,
  recommend,
  recordFeedback,
} from './catalog.ts';
import { listenLocal } from './listen.ts';

export type LegacyRoute = 'recommend' | 'item' | 'feedback' | 'healthz' | 'notFound';

export type LegacyAppOptions = Readonly<{ host?: string; port?: number }>;

export type LegacyApp = {
  url: string;
  server: Server;
  /** Requests seen per route, so a demo or a test can tell which side did the work. */
  received: Record<LegacyRoute, number>;
  close(): Promise<void>;
};

const JSON_TYPE = 'application/json; charset=utf-8';
const SERVED_BY = { 'x-served-by': 'legacy' } as const;
const READ_METHODS = new Set(['GET', 'HEAD']);
const ITEM_PATH = /^\/api\/item\/([^/]+)$/;

type Request = { req: IncomingMessage; res: ServerResponse; path: string; query: URLSearchParams };

function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, {
    ...headers,
    ...SERVED_BY,
    'content-type': JSON_TYPE,
    'content-length': body.length,
  });
  res.end(body);
}

function sendOutcome(res: ServerResponse, okStatus: number, value: unknown): void {
  sendJson(res, isProblem(value) ? value.status : okStatus, value);
}

function sendMethodNotAllowed(res: ServerResponse, allow: string): void {
  sendJson(res, problems.methodNotAllowed.status, problems.methodNotAllowed, { allow });
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function handleRecommend({ req, res, query }: Request): void {
  if (!READ_METHODS.has(req.method ?? '')) return sendMethodNotAllowed(res, 'GET, HEAD');
  const userId = query.get('userId') || headerValue(req, 'x-user-id');
  sendOutcome(res, 200, recommend({ userId, scene: query.get('scene'), size: query.get('size') }));
}

function handleItem({ req, res, path }: Request): void {
  if (!READ_METHODS.has(req.method ?? '')) return sendMethodNotAllowed(res, 'GET, HEAD');
  const item = getItem(ITEM_PATH.exec(path)![1]!);
  sendOutcome(res, 200, item ?? problems.itemNotFound);
}

async function handleFeedback({ req, res }: Request): Promise<void> {
  if (req.method !== 'POST') return sendMethodNotAllowed(res, 'POST');
  const body = await readBody(req, FEEDBACK_LIMIT_BYTES);
  if (!body.ok) {
    if (!body.isTooLarge) return; // the client went away mid-body; nobody is left to answer
    res.setHeader('connection', 'close');
    return sendOutcome(res, 413, problems.bodyTooLarge);
  }
  const parsed = parseJson(body.body.toString('utf8'));
  const outcome: Problem | { accepted: true } = parsed.ok
    ? recordFeedback(parsed.value, headerValue(req, 'x-user-id'))
    : problems.invalidJson;
  sendOutcome(res, 202, outcome);
}

function routeOf(path: string): LegacyRoute {
  if (path === '/api/recommend') return 'recommend';
  if (path === '/api/feedback') return 'feedback';
  if (path === '/healthz') return 'healthz';
  return ITEM_PATH.test(path) ? 'item' : 'notFound';
}

const handlers: Record<LegacyRoute, (request: Request) => void | Promise<void>> = {
  recommend: handleRecommend,
  item: handleItem,
  feedback: handleFeedback,
  healthz: ({ res }) => sendJson(res, 200, { status: 'ok' }),
  notFound: ({ res }) => sendOutcome(res, 404, problems.routeNotFound),
};

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  received: Record<LegacyRoute, number>,
): Promise<void> {
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  // URLSearchParams never throws: a bad escape such as %zz is kept as written.
  const query = new URLSearchParams(q === -1 ? '' : target.slice(q + 1));
  const route = routeOf(path);
  received[route] += 1;
  await handlers[route]({ req, res, path, query });
}

/** Node's default answer to a malformed request carries no `x-served-by`; this one does. */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable || error.code === 'ECONNRESET') return void socket.destroy();
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
  const body = JSON.stringify({ status, error: 'bad_request', message: 'malformed HTTP request' });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: ${JSON_TYPE}\r\n` +
      `x-served-by: legacy\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

export async function startLegacyApp(options: LegacyAppOptions = {}): Promise<LegacyApp> {
  const received: Record<LegacyRoute, number> = {
    recommend: 0,
    item: 0,
    feedback: 0,
    healthz: 0,
    notFound: 0,
  };
  const server = createServer((req, res) => {
    handle(req, res, received).catch(() => sendJson(res, 500, problems.internal));
  });
  server.on('clientError', answerClientError);
  const { url, close } = await listenLocal(server, options);
  return { url, server, received, close };
}
