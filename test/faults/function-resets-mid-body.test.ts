// E6: headers and half the body, then an RST. Bytes already reached the caller, so the only honest
// signal left is a cut connection: never a replay, never legacy bytes spliced onto the function's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertBackToBaseline, baseline, exchange, startScenario, toxics } from '../helpers/faults.ts';

test('cuts the response and never splices legacy bytes in when the function resets mid-body', async (t) => {
  const s = await startScenario(t, { fn: toxics.resetMidBody(20_000, 10_000, 'f') });
  const before = baseline(s.app);

  const reply = await exchange(s.url());
  assert.equal(reply.status, 200);
  assert.equal(reply.headers['x-fnshift-target'], 'function');
  assert.equal(reply.headers['content-length'], '20000');
  assert.equal(reply.isComplete, false, 'the caller was told the response is whole');
  assert.ok(reply.body.length <= 10_000, `${reply.body.length} bytes, more than the function sent`);
  assert.match(reply.body.toString(), /^f*$/, 'bytes not from the function reached the caller');
  assert.equal(s.fn!.count('GET'), 1);
  assert.equal(s.legacy!.count(), 0, 'the GET was replayed on legacy after bytes were sent');
  await assertBackToBaseline(s.app, before);
});

test('cuts a chunked response the function resets mid-body', async (t) => {
  const s = await startScenario(t, {
    fn: toxics.raw('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n', 'reset'),
  });
  const before = baseline(s.app);

  const reply = await exchange(s.url());
  assert.equal(reply.status, 200);
  assert.equal(reply.isComplete, false);
  assert.equal(reply.body.toString(), 'hello');
  assert.equal(s.legacy!.count(), 0);
  await assertBackToBaseline(s.app, before);
});
