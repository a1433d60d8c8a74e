// E7: the function sends its headers and then trickles the body at 1 KB/s. bodyTimeoutMs bounds the
// silence between chunks; once it passes, the caller (who already has the head) sees a cut response.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertBackToBaseline,
  baseline,
  exchange,
  startScenario,
  toxics,
  waitUntil,
} from '../helpers/faults.ts';

test('cuts a response whose body trickles slower than bodyTimeoutMs, and closes the function socket', async (t) => {
  const s = await startScenario(t, {
    fn: toxics.trickle({ chunkBytes: 1024, intervalMs: 1000, chunks: 30 }),
    function: { timeoutMs: 1000, bodyTimeoutMs: 300 },
  });
  const before = baseline(s.app);

  const reply = await exchange(s.url());
  assert.equal(reply.status, 200);
  assert.equal(reply.headers['x-fnshift-target'], 'function');
  assert.equal(reply.isComplete, false, 'a trickling body was relayed as complete');
  assert.ok(reply.body.length < 30 * 1024, `${reply.body.length} bytes: the trickle was not cut`);
  assert.match(reply.body.toString(), /^t*$/);
  assert.equal(s.legacy!.count(), 0);
  await waitUntil(() => s.fn!.closedConnections() === 1, 'the function to see its socket closed');
  await assertBackToBaseline(s.app, before);
});
