// A caller's FIN is read as "gone", as nginx does (499 unless proxy_ignore_client_abort): checklist F3
// (cancel the function call of a caller who left) and F4 (answer a caller who only half-closed) cannot
// both hold on a socket that says nothing more than FIN, and a function call nobody waits for costs
// money. So the call is cut, and, being cut, it is never replayed anywhere.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertBackToBaseline,
  baseline,
  openClient,
  startScenario,
  toxics,
  waitUntil,
} from '../helpers/faults.ts';

test('a half-close aborts the upstream call and is never replayed anywhere', async (t) => {
  const s = await startScenario(t, { fn: toxics.hang(), function: { timeoutMs: 30_000 } });
  const before = baseline(s.app);

  const client = await openClient(s.port);
  await client.write('POST /api/recommend HTTP/1.1\r\nHost: fnshift.test\r\nContent-Length: 2\r\n\r\n{}');
  await waitUntil(() => s.fn!.seen[0]?.isBodyComplete === true, 'the function to have the request');
  client.socket.end();
  await client.closed;
  await waitUntil(() => s.fn!.closedConnections() === 1, 'the function call to be aborted');
  assert.equal(s.fn!.count(), 1);
  assert.equal(s.legacy!.count(), 0, 'the half-closed request was replayed on legacy');
  await assertBackToBaseline(s.app, before);
});
