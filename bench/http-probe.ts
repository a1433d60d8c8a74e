// Loopback probes: pick a free port, send one request, poll until a listener answers.
import { request } from 'node:http';
import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { BenchChild } from './child.ts';
import { exitedError } from './child.ts';
import { BenchError } from './errors.ts';

const POLL_INTERVAL_MS = 100;
const PROBE_TIMEOUT_MS = 2000;

/** Binds port 0 and closes it; for servers (nginx, haproxy, fnshift) that cannot report the port they got. */
export async function pickFreePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

export interface ProbeResponse {
  readonly status: number;
  readonly bodyBytes: number;
}

/** One GET on a fresh connection (agent off, so no probe socket lingers in a proxy's pool). */
export function getOnce(url: string, headers: Readonly<Record<string, string>> = {}): Promise<ProbeResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false, timeout: PROBE_TIMEOUT_MS }, (res) => {
      let bodyBytes = 0;
      res.on('data', (chunk: Buffer) => {
        bodyBytes += chunk.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bodyBytes }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${PROBE_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Polls `url` until anything answers; fails fast when the child exits, and at the deadline. */
export async function waitUntilAnswering(url: string, child: BenchChild, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.hasExited()) throw exitedError(child, child.process.exitCode, child.process.signalCode);
    try {
      await getOnce(url);
      return;
    } catch (error) {
      lastError = error;
    }
    await delay(POLL_INTERVAL_MS);
  }
  const tail = child.outputTail().split('\n').slice(-3).join(' | ');
  throw new BenchError(
    'FNSHIFT_BENCH_START_TIMEOUT',
    `${child.name} did not answer on ${url} within ${timeoutMs} ms${tail ? ` (output: ${tail})` : ''}`,
    { cause: lastError },
  );
}
