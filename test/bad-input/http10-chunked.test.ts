// A6: HTTP/1.0 has no chunked coding, yet Node accepts `Transfer-Encoding: chunked` on a 1.0 request.
// fnshift forwards the decoded body once and closes the connection after the response, even when the
// caller asked for keep-alive, since a 1.0 hop in front may have framed the body differently (HAProxy).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertBackToBaseline, baseline, rawExchange, startScenario, toxics } from '../helpers/faults.ts';

for (const connection of ['', 'Connection: keep-alive\r\n']) {
  test(`forwards an HTTP/1.0 chunked body once and closes the connection${connection ? ' despite keep-alive' : ''}`, async (t) => {
    const s = await startScenario(t, { fn: toxics.echo('function') });
    const before = baseline(s.app);

    const reply = await rawExchange(
      s.port,
      `POST /api/recommend HTTP/1.0\r\nHost: fnshift.test\r\n${connection}Transfer-Encoding: chunked\r\n\r\n` +
        '5\r\nhello\r\n0\r\n\r\n',
    );
    assert.equal(reply.status, 200, reply.text);
    assert.ok(reply.text.endsWith('function POST /api/recommend hello'), reply.text);
    assert.equal(reply.isClosed, true, 'the connection was kept open after a 1.0 chunked request');
    assert.deepEqual(
      s.fn!.seen.map((r) => [r.method, r.body.toString()]),
      [['POST', 'hello']],
    );

    const next = await rawExchange(
      s.port,
      'GET /api/recommend HTTP/1.1\r\nHost: fnshift.test\r\nConnection: close\r\n\r\n',
    );
    assert.equal(next.status, 200);
    await assertBackToBaseline(s.app, before);
  });
}
