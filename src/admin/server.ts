// The admin listener (loopback by default): health, route status, and the operations API.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { FnshiftError, problemBody } from '../errors.ts';

export type AdminRoute = (
  req: IncomingMessage,
  res: ServerResponse,
  params: string[],
) => Promise<void> | void;

export type AdminTable = Array<{ method: string; pattern: RegExp; handle: AdminRoute }>;

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

export function sendAdminProblem(
  res: ServerResponse,
  error: FnshiftError,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return void res.destroy();
  const text = problemBody(error);
  // A refused body may still be arriving: close rather than read it to the end.
  const isBodyUnread = !res.req.complete;
  res.writeHead(error.status, {
    ...headers,
    ...(isBodyUnread ? { connection: 'close' } : {}),
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
  if (isBodyUnread) res.once('finish', () => res.req.destroy());
}

/** Dispatches on method and path; a known path with the wrong method is 405 with an Allow header. */
export function createAdminServer(table: AdminTable, onBug: (error: unknown) => void = () => {}): Server {
  const server = createServer(
    {
      maxHeaderSize: 8 * 1024,
      headersTimeout: 5000,
      requestTimeout: 10_000,
      keepAliveTimeout: 5000,
      requireHostHeader: false,
    },
    (req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      const allowed: string[] = [];
      for (const entry of table) {
        const m = entry.pattern.exec(path);
        if (!m) continue;
        if (entry.method !== req.method) {
          allowed.push(entry.method);
          continue;
        }
        Promise.resolve()
          .then(() => entry.handle(req, res, m.slice(1).map(decodeSegment)))
          .catch((error: unknown) => {
            // A 401 must say which scheme to use (RFC 9110 §11.6.1).
            if (error instanceof FnshiftError)
              return sendAdminProblem(
                res,
                error,
                error.code === 'FNSHIFT_UNAUTHORIZED'
                  ? { 'www-authenticate': 'Bearer realm="fnshift-admin"' }
                  : {},
              );
            onBug(error);
            sendAdminProblem(res, new FnshiftError('FNSHIFT_INTERNAL', 'internal error', { cause: error }));
          });
        return;
      }
      if (allowed.length > 0) {
        return sendAdminProblem(
          res,
          new FnshiftError('FNSHIFT_METHOD_NOT_ALLOWED', `use ${allowed.join(' or ')}`),
          {
            allow: allowed.join(', '),
          },
        );
      }
      sendAdminProblem(res, new FnshiftError('FNSHIFT_NOT_FOUND', 'no such admin endpoint'));
    },
  );
  server.maxHeadersCount = 64;
  server.maxConnections = 256;
  return server;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
