// The data-plane listener: the fast lane in front (fast-lane.ts), and behind it Node's strict parser with
// every limit set explicitly (Node's own defaults are unlimited or 300 s), parse errors answered as
// problem+json before the socket is closed.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { LimitsConfig } from '../config/schema.ts';
import { FnshiftError, problemBody } from '../errors.ts';
import type { ProxyResponse } from './exchange.ts';
import { type ExchangeHandler, type FastLane, installFastLane } from './fast-lane.ts';
import { checkDeclaredBody } from './guard.ts';
import { sendProblem } from './respond.ts';

function clientErrorStatus(code: string | undefined): FnshiftError {
  if (code === 'HPE_HEADER_OVERFLOW')
    return new FnshiftError('FNSHIFT_HEADERS_TOO_LARGE', 'request headers exceed the limits');
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new FnshiftError('FNSHIFT_REQUEST_TIMEOUT');
  return new FnshiftError('FNSHIFT_BAD_REQUEST', 'malformed HTTP request', {
    details: code ? { parser: code } : {},
  });
}

/** Responses started on each connection and not yet finished (pipelined ones queue behind the first). */
const unfinished = new WeakMap<Duplex, Set<ServerResponse>>();

function track(socket: Duplex, res: ServerResponse): void {
  const set = unfinished.get(socket) ?? new Set<ServerResponse>();
  unfinished.set(socket, set);
  set.add(res);
  // 'close' follows 'finish' on every response, and comes alone when the connection drops.
  res.once('close', () => set.delete(res));
}

export function onClientError(error: Error & { code?: string; bytesParsed?: number }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const inFlight = [...(unfinished.get(socket) ?? [])];
  if (inFlight.some((res) => res.headersSent)) {
    // A parse error in a body (a bad chunk) can come after the answer started: a 400 written now would
    // land inside that response. Let answers already ended flush, and cut one still streaming.
    if (inFlight.every((res) => res.writableEnded)) socket.end();
    else socket.destroy();
    return;
  }
  const problem = clientErrorStatus(error.code);
  const body = problemBody(problem);
  socket.end(
    `HTTP/1.1 ${problem.status} ${problem.message}\r\nconnection: close\r\ncontent-type: application/problem+json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

export type Listener = { server: Server; lane: FastLane };

export function createListener(
  limits: LimitsConfig,
  handler: ExchangeHandler,
  onBug: (error: unknown) => void = () => {},
): Listener {
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    track(req.socket, res);
    const max = limits.maxRequestsPerSocket;
    if (max > 0) {
      const count = lane.countRequest(req.socket);
      if (count >= max) res.shouldKeepAlive = false;
      if (count > max) {
        // Pipelined past the limit: answered, not forwarded, as Node's server answers its own excess.
        sendProblem(res, new FnshiftError('FNSHIFT_CONNECTION_EXHAUSTED'), { shouldClose: true });
        return;
      }
    }
    // The handler resolves on every path; a throw here is a bug, reported as a 500 rather than a crash.
    const done = handler(req, res);
    if (done) done.catch((error: unknown) => onHandlerBug(res, error, onBug));
  };
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: limits.connectionsCheckIntervalMs,
      requireHostHeader: true,
      joinDuplicateHeaders: false,
      insecureHTTPParser: false,
    },
    onRequest,
  );
  // Expect: 100-continue. Node would answer 100 at once; a declared body over the cap is refused first,
  // so the client never sends it. Any other expectation gets 417 as problem+json (Node's is bare).
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const tooLarge = checkDeclaredBody(req, limits);
    if (!tooLarge) {
      res.writeContinue();
      onRequest(req, res);
      return;
    }
    track(req.socket, res);
    sendProblem(res, tooLarge, { shouldClose: true });
  });
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    track(req.socket, res);
    const error = new FnshiftError('FNSHIFT_EXPECTATION_FAILED', 'only Expect: 100-continue is understood');
    sendProblem(res, error, { shouldClose: true });
  });
  // One more than the limit so the guard sees the overflow and answers 431 instead of Node dropping fields.
  server.maxHeadersCount = limits.maxHeaderCount + 1;
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
  server.maxConnections = limits.maxConnections;
  server.on('clientError', onClientError);
  const lane = installFastLane(server, {
    limits,
    handler,
    onHandlerBug: (res, error) => onHandlerBug(res, error, onBug),
  });
  return { server, lane };
}

function onHandlerBug(res: ProxyResponse, error: unknown, onBug: (error: unknown) => void): void {
  onBug(error);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = problemBody(new FnshiftError('FNSHIFT_INTERNAL', 'internal error', { cause: error }));
  res.writeHead(500, undefined, { 'content-type': 'application/problem+json', connection: 'close' });
  res.end(body);
}
