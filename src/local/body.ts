// Reads a small request body whole, up to a cap; past the cap the rest is drained so a 413 still
// reaches a client that is still sending. Shared by the demo's legacy app and the function host.
import type { IncomingMessage } from 'node:http';

export type BodyOutcome = { ok: true; body: Buffer } | { ok: false; isTooLarge: boolean };

export function readBody(req: IncomingMessage, limitBytes: number): Promise<BodyOutcome> {
  return new Promise((done) => {
    if (Number(req.headers['content-length']) > limitBytes) {
      done({ ok: false, isTooLarge: true });
      return;
    }
    const chunks: Buffer[] = [];
    let sizeBytes = 0;
    const onData = (chunk: Buffer) => {
      sizeBytes += chunk.length;
      if (sizeBytes <= limitBytes) return void chunks.push(chunk);
      req.off('data', onData);
      req.resume();
      done({ ok: false, isTooLarge: true });
    };
    req.on('data', onData);
    req.on('end', () => done({ ok: true, body: Buffer.concat(chunks) }));
    req.on('error', () => done({ ok: false, isTooLarge: false }));
    req.on('close', () => done({ ok: false, isTooLarge: false }));
  });
}
