// F4: a caller that sends its request and then half-closes (FIN) is still owed its response: the FIN is
// not an abort, so the upstream call is neither cancelled nor replayed.
// Known gap: node:http's server has httpAllowHalfOpen false, so it treats the FIN as an abort (the call
// is cut, the caller gets nothing). Safe, never a replay, but not what the checklist asks; kept as a todo.
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

const todo = 'node:http treats a half-close as an abort (httpAllowHalfOpen is false)';

test('still answers a caller that half-closes its connection after sending the request', {
  todo,
}, async (t) => {
  const s = await startScenario(t, { fn: toxics.delay(100, toxics.echo('function')) });
  const before = baseline(s.app);

  const client = await openClient(s.port);
  await client.write('POST /api/recommend HTTP/1.1\r\nHost: fnshift.test\r\nContent-Length: 2\r\n\r\n{}');
  client.socket.end();
  await client.closed;
  const text = client.received().toString('latin1');
  assert.match(text, /^HTTP\/1\.1 200 /);
  assert.ok(text.endsWith('function POST /api/recommend {}'), text);
  assert.equal(s.fn!.count(), 1);
  assert.equal(s.legacy!.count(), 0);
  await assertBackToBaseline(s.app, before);
});

test('meanwhile, a half-close aborts the upstream call and is never replayed anywhere', async (t) => {
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
