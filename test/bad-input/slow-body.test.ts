// D2: a body sent one byte a second. limits.bodyIdleTimeoutMs bounds the silence between body bytes:
// past it the caller gets 408 (or a closed connection) whether the body was being streamed to an
// upstream, buffered for a possible replay, or waited for whole by the fast lane; a partial body is
// never replayed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertBackToBaseline,
  baseline,
  openClient,
  rawCode,
  startScenario,
  toxics,
  waitUntil,
} from '../helpers/faults.ts';

// The fast lane checks its deadlines at connectionsCheckIntervalMs: well under the drip's 1 s gaps.
const limits = { bodyIdleTimeoutMs: 500, connectionsCheckIntervalMs: 100 };
/** Over MAX_WHOLE_BODY_BYTES: Node's side streams it (or buffers it for a replay). */
const LARGE = 100_000;

for (const [what, head, length, reaches] of [
  ['streamed to the function', 'POST /api/recommend HTTP/1.1', LARGE, 'function'],
  ['buffered for a replay', 'PUT /api/recommend/7 HTTP/1.1', LARGE, 'nobody'],
  ['streamed to legacy', 'POST /unrouted HTTP/1.1', LARGE, 'legacy'],
  ['read whole by the fast lane', 'POST /api/recommend HTTP/1.1', 100, 'nobody'],
] as const) {
  test(`answers 408 or closes when a body ${what} goes quiet for longer than bodyIdleTimeoutMs`, {
    timeout: 20_000,
  }, async (t) => {
    const s = await startScenario(t, { fn: toxics.echo('function'), legacy: toxics.echo('legacy'), limits });
    const before = baseline(s.app);

    const client = await openClient(s.port);
    await client.write(`${head}\r\nHost: fnshift.test\r\nContent-Length: ${length}\r\n\r\nx`);
    const drip = setInterval(() => {
      if (!client.isClosed()) client.socket.write('x');
    }, 1000);
    t.after(() => clearInterval(drip));
    await waitUntil(() => client.isClosed(), 'fnshift to give up on the slow body', 10_000);
    clearInterval(drip);

    const text = client.received().toString('latin1');
    assert.ok(
      text === '' || text.startsWith('HTTP/1.1 408'),
      `neither 408 nor a close: ${text.slice(0, 200)}`,
    );
    if (text) assert.equal(rawCode(text), 'FNSHIFT_REQUEST_TIMEOUT');
    // The first body byte went with the head, so a streamed request reached its upstream, once, unfinished;
    // the fast lane forwards nothing before the body is whole.
    assert.equal(s.fn!.count(), reaches === 'function' ? 1 : 0);
    assert.equal(s.legacy!.count(), reaches === 'legacy' ? 1 : 0);
    for (const r of [...s.fn!.seen, ...s.legacy!.seen]) {
      assert.equal(r.body.toString(), 'x');
      assert.equal(r.isBodyComplete, false, 'an upstream was told the partial body was whole');
    }
    await waitUntil(
      () => s.fn!.openConnections() + s.legacy!.openConnections() === 0,
      'the upstream call to be aborted',
    );
    assert.equal(s.app.breakers.state('recommend'), 'closed');
    await assertBackToBaseline(s.app, before);
  });
}
