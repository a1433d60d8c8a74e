// Reads a mutation's JSON body: JSON content type only (a cross-site form cannot send it), a small cap,
// and a parse that never throws past here.
import type { IncomingMessage } from 'node:http';
import { FnshiftError } from '../errors.ts';

export const MAX_ADMIN_BODY_BYTES = 4096;

/**
 * Every mutation, bodiless ones included (POST /reload, DELETE .../weight), must say application/json: a
 * page in a browser on the same host can send a cross-site POST without preflight, but not with that type.
 */
export function requireJsonType(req: IncomingMessage): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') return;
  req.resume();
  throw new FnshiftError('FNSHIFT_UNSUPPORTED_MEDIA_TYPE', 'send mutations as application/json');
}

export function readJsonBody(req: IncomingMessage, maxBytes = MAX_ADMIN_BODY_BYTES): Promise<unknown> {
  try {
    requireJsonType(req);
  } catch (error) {
    return Promise.reject(error);
  }
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) {
    req.resume();
    return Promise.reject(
      new FnshiftError('FNSHIFT_BODY_TOO_LARGE', `admin bodies are capped at ${maxBytes} bytes`),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        req.removeAllListeners('data');
        req.resume();
        reject(new FnshiftError('FNSHIFT_BODY_TOO_LARGE', `admin bodies are capped at ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', (cause) =>
      reject(new FnshiftError('FNSHIFT_BAD_REQUEST', 'the body could not be read', { cause })),
    );
    req.on('end', () => {
      if (bytes > maxBytes) return;
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text === '' ? undefined : JSON.parse(text));
      } catch (cause) {
        reject(
          new FnshiftError('FNSHIFT_BAD_REQUEST', `the body is not JSON: ${(cause as Error).message}`, {
            cause,
          }),
        );
      }
    });
  });
}
