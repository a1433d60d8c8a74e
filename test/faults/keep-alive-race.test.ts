// E10: an upstream closes an idle keep-alive socket just as fnshift reuses it. A GET goes out once more
// on a new socket (RFC 9112 §9.3.1), to the function or to legacy alike; a POST that was written on the
// dying socket is never sent a second time, to the function or to legacy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertBackToBaseline,
  baseline,
  codeOf,
  exchange,
  startScenario,
  toxics,
} from '../helpers/faults.ts';

const pool = { connections: 1 };

test('sends a GET once more on a new socket when the reused keep-alive socket is reset under it', async (t) => {
  const s = await startScenario(t, {
    fn: toxics.resetOnReuse(toxics.respond(200, 'function')),
    function: { pool },
  });
  const before = baseline(s.app);

  assert.equal((await exchange(s.url())).body.toString(), 'function');
  const raced = await exchange(s.url());
  assert.equal(raced.status, 200);
  // The pool lost a race with the server's idle timer, not the function its health: no fallback.
  assert.equal(raced.body.toString(), 'function');
  assert.equal(raced.headers['x-fnshift-fallback'], undefined);
  assert.deepEqual(
    s.fn!.seen.map((r) => r.connection),
    [1, 1, 2],
    'the GET was not sent again on a new socket after the reset of the kept-alive one',
  );
  assert.equal(s.legacy!.count(), 0);
  await assertBackToBaseline(s.app, before);
});

test('legacy, which has no fallback, answers a GET after the same race instead of a 502', async (t) => {
  const s = await startScenario(t, {
    fn: toxics.respond(200, 'function'),
    legacy: toxics.resetOnReuse(toxics.respond(200, 'legacy')),
    route: { weight: 0 },
    legacyConfig: { pool },
  });
  const before = baseline(s.app);

  assert.equal((await exchange(s.url())).body.toString(), 'legacy');
  const raced = await exchange(s.url());
  assert.equal(raced.status, 200);
  assert.equal(raced.body.toString(), 'legacy');
  assert.deepEqual(
    s.legacy!.seen.map((r) => r.connection),
    [1, 1, 2],
  );
  await assertBackToBaseline(s.app, before);
});

test('answers 502 and never sends a POST twice when the reused keep-alive socket is reset under it', async (t) => {
  const s = await startScenario(t, {
    fn: toxics.resetOnReuse(toxics.respond(200, 'function')),
    function: { pool },
  });
  const before = baseline(s.app);

  assert.equal((await exchange(s.url())).body.toString(), 'function');
  const raced = await exchange(s.url(), { method: 'POST', body: '{"order":42}' });
  assert.equal(raced.status, 502);
  assert.equal(codeOf(raced), 'FNSHIFT_UPSTREAM_ERROR');
  assert.equal(s.fn!.count('POST'), 1);
  assert.equal(s.legacy!.count(), 0, 'the POST was replayed on legacy');

  // The next POST goes out once, on a new socket, and succeeds.
  const next = await exchange(s.url(), { method: 'POST', body: '{"order":43}' });
  assert.equal(next.body.toString(), 'function');
  assert.deepEqual(
    s.fn!.seen.filter((r) => r.method === 'POST').map((r) => r.body.toString()),
    ['{"order":42}', '{"order":43}'],
  );
  await assertBackToBaseline(s.app, before);
});

test('under back-to-back requests to a function that closes every socket after answering, GETs are answered and no POST is sent twice', async (t) => {
  const s = await startScenario(t, { fn: toxics.closeAfterResponse('function'), function: { pool } });
  const before = baseline(s.app);

  const sent = { GET: 0, POST: 0 };
  for (let i = 0; i < 12; i++) {
    const method = i % 2 ? 'POST' : 'GET';
    sent[method]++;
    const reply = await exchange(s.url(), { method, body: method === 'POST' ? `{"n":${i}}` : undefined });
    if (method === 'GET') {
      assert.equal(reply.status, 200, `GET ${i}: ${reply.status}`);
    } else {
      assert.ok(
        (reply.status === 200 && reply.body.toString() === 'function') || reply.status === 502,
        `POST ${i}: ${reply.status} ${reply.body.toString()}`,
      );
    }
  }
  const posts = s.fn!.seen.filter((r) => r.method === 'POST').map((r) => r.body.toString());
  assert.equal(new Set(posts).size, posts.length, `a POST reached the function twice: ${posts.join(' ')}`);
  assert.ok(posts.length <= sent.POST);
  assert.equal(s.legacy!.count('POST'), 0, 'a POST was replayed on legacy');
  await assertBackToBaseline(s.app, before);
});
