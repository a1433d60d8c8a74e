// Connection is hop-by-hop (RFC 9110 §7.6.1): a caller that closes its connection to fnshift, by asking
// for it or by hanging up, closes that one hop. The pooled upstream socket stays open and carries the
// next caller's request, on the fast lane and on Node's side alike.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertBackToBaseline,
  baseline,
  openClient,
  rawExchange,
  startScenario,
  toxics,
  waitUntil,
} from '../helpers/faults.ts';

function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: fnshift.test\r\n${extra}\r\n`;
}

test("a caller's Connection: close closes only its own connection: every next request reuses the upstream socket", async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('fn') });
  const before = baseline(s.app);

  // A GET the fast lane serves, and a chunked POST it hands to Node's server, each on a new connection.
  const requests = [
    get('/api/recommend/1', 'Connection: close\r\n'),
    `POST /api/recommend/2 HTTP/1.1\r\nHost: fnshift.test\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n`,
    get('/api/recommend/3', 'Connection: close\r\n'),
  ];
  for (const bytes of requests) {
    const out = await rawExchange(s.port, bytes);
    assert.equal(out.status, 200, out.text);
    assert.equal(out.isClosed, true, 'fnshift left the closing connection open');
  }

  assert.deepEqual(
    s.fn!.seen.map((r) => `${r.method} ${r.path} on ${r.connection}`),
    ['GET /api/recommend/1 on 1', 'POST /api/recommend/2 on 1', 'GET /api/recommend/3 on 1'],
  );
  assert.deepEqual(
    s.fn!.seen.map((r) => r.headers.connection),
    [undefined, undefined, undefined],
    'the caller’s Connection field reached the upstream',
  );
  assert.equal(s.fn!.closedConnections(), 0, 'an upstream socket was closed');
  await assertBackToBaseline(s.app, before);
});

test('callers that hang up after their one response leave the upstream socket open for the next', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('fn') });
  const before = baseline(s.app);

  for (const n of [1, 2, 3]) {
    const client = await openClient(s.port);
    await client.write(get(`/api/recommend/${n}`));
    const body = `fn GET /api/recommend/${n} `;
    await waitUntil(() => client.received().toString('latin1').endsWith(body), `response ${n}`);
    client.socket.end();
    await client.closed;
  }

  assert.deepEqual(
    s.fn!.seen.map((r) => r.connection),
    [1, 1, 1],
  );
  assert.equal(s.fn!.closedConnections(), 0, 'an upstream socket was closed');
  await assertBackToBaseline(s.app, before);
});
