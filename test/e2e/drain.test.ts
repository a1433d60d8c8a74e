// SIGTERM on a running `fnshift run` (reliability §3 H1): readiness fails, the data port stops accepting,
// the request in flight still completes, and the process exits 0.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startFixture } from '../helpers/fnshift.ts';
import { send, spawnFnshift } from '../helpers/raw.ts';

test('drains on SIGTERM: not ready, no new connections, the slow request completes, exit 0', async (t) => {
  let arrived!: () => void;
  const hasArrived = new Promise<void>((resolve) => {
    arrived = resolve;
  });
  let release!: () => void;
  const isReleased = new Promise<void>((resolve) => {
    release = resolve;
  });
  // The slow legacy answer is held until the drain has been observed, so no timing decides the outcome.
  const legacy = await startFixture(t, (_req, res) => {
    arrived();
    isReleased.then(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('slow done'));
  });
  const fnshift = await spawnFnshift(t, { legacy: { url: legacy.url }, drain: { timeoutMs: 10_000 } });
  assert.equal((await send(`${fnshift.adminUrl}/readyz`)).status, 200);

  const slow = send(`${fnshift.dataUrl}/slow`);
  await hasArrived;
  fnshift.child.kill('SIGTERM');
  await fnshift.waitForLog('draining');

  const readyz = await send(`${fnshift.adminUrl}/readyz`).then(
    (reply) => reply.status,
    (error: NodeJS.ErrnoException) => error.code,
  );
  assert.ok(readyz === 503 || readyz === 'ECONNREFUSED', `readyz during the drain: ${readyz}`);
  await assert.rejects(send(`${fnshift.dataUrl}/new`), { code: 'ECONNREFUSED' });

  release();
  const reply = await slow;
  assert.equal(reply.status, 200);
  assert.equal(reply.body.toString(), 'slow done');
  assert.deepEqual(await fnshift.exited, { code: 0, signal: null });
  assert.deepEqual(
    legacy.received.map((r) => r.url),
    ['/slow'],
  );
});
