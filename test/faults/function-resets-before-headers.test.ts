// E4: the function takes the request and resets the connection before any response byte. A replay is
// safe only for an idempotent request whose body fnshift still holds whole; a streamed POST is not.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import {
  assertBackToBaseline,
  baseline,
  codeOf,
  exchange,
  startScenario,
  toxics,
} from '../helpers/faults.ts';

test('replays a GET on legacy when the function resets before answering', async (t) => {
  const s = await startScenario(t, { fn: toxics.resetBeforeHeaders() });
  const before = baseline(s.app);

  const reply = await exchange(s.url());
  assert.equal(reply.status, 200);
  assert.equal(reply.body.toString(), 'legacy');
  assert.equal(reply.headers['x-fnshift-fallback'], 'upstream_error');
  assert.equal(s.fn!.count('GET'), 1);
  assert.equal(s.legacy!.count('GET'), 1);
  await assertBackToBaseline(s.app, before);
});

test('replays a buffered PUT on legacy with the identical body when the function resets before answering', async (t) => {
  const s = await startScenario(t, { fn: toxics.resetBeforeHeaders() });
  const before = baseline(s.app);

  const reply = await exchange(s.url('/7'), { method: 'PUT', body: '{"rating":5}' });
  assert.equal(reply.status, 200);
  assert.equal(reply.body.toString(), 'legacy');
  assert.equal(reply.headers['x-fnshift-fallback'], 'upstream_error');
  assert.equal(s.fn!.count('PUT'), 1);
  assert.deepEqual(
    s.legacy!.seen.map((r) => [r.method, r.path, r.body.toString()]),
    [['PUT', '/api/recommend/7', '{"rating":5}']],
  );
  await assertBackToBaseline(s.app, before);
});

test('answers 502 FNSHIFT_UPSTREAM_ERROR and never replays a streamed POST the function reset', async (t) => {
  const s = await startScenario(t, { fn: toxics.resetBeforeHeaders() });
  const before = baseline(s.app);

  const reply = await exchange(s.url(), {
    method: 'POST',
    body: Readable.from([Buffer.from('{"order":'), Buffer.from('42}')]),
  });
  assert.equal(reply.status, 502);
  assert.equal(codeOf(reply), 'FNSHIFT_UPSTREAM_ERROR');
  assert.equal(reply.headers['x-fnshift-fallback'], undefined);
  assert.equal(s.fn!.count('POST'), 1);
  assert.equal(s.legacy!.count(), 0, 'the POST was replayed on legacy');
  await assertBackToBaseline(s.app, before);
});
