// E11 / A10: a function that answers with broken framing. Nothing reaches the caller but a 502
// FNSHIFT_UPSTREAM_BAD_RESPONSE (or legacy's answer for a request that may be replayed), the socket is
// dropped, and bytes left over after a response never become the answer to the next request.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertBackToBaseline,
  baseline,
  codeOf,
  exchange,
  type Scenario,
  startScenario,
  toxics,
  waitUntil,
} from '../helpers/faults.ts';

const SMUGGLED = 'HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled';

const MALFORMED: Array<[string, string]> = [
  [
    'Content-Length and Transfer-Encoding with a response after the chunked end',
    `HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`,
  ],
  ['a junk status code', 'HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok'],
  ['a junk status line', 'garbage\r\n\r\n'],
  [
    'Transfer-Encoding: chunked, chunked',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  ],
  ['Transfer-Encoding: gzip', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nok'],
  [
    'Transfer-Encoding: gzip, chunked',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
  ],
  ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok!'],
  ['Content-Length: -1', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok'],
  ['a space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok'],
  ['a NUL in a header value', 'HTTP/1.1 200 OK\r\nX-Bad: a\x00b\r\nContent-Length: 2\r\n\r\nok'],
  ['bare LF line ends', 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok'],
  ['an obs-folded header', 'HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok'],
  [
    'headers over maxResponseHeaderBytes',
    `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\nContent-Length: 2\r\n\r\nok`,
  ],
];

/** The next request, with the function healthy again, must come on a new connection and get its answer. */
async function assertSocketNotReused(s: Scenario, method: string): Promise<void> {
  await waitUntil(() => s.fn!.closedConnections() === 1, 'the broken connection to be dropped');
  s.fn!.setToxic(toxics.respond(200, 'function'));
  const next = await exchange(s.url(), { method, body: method === 'POST' ? '{}' : undefined });
  assert.equal(next.status, 200);
  assert.equal(next.body.toString(), 'function');
  assert.equal(s.fn!.connections(), 2, 'the broken connection was reused');
}

for (const [what, bytes] of MALFORMED) {
  test(`answers 502 FNSHIFT_UPSTREAM_BAD_RESPONSE to a POST the function answers with ${what}`, async (t) => {
    const s = await startScenario(t, { fn: toxics.raw(bytes) });
    const before = baseline(s.app);

    const reply = await exchange(s.url(), { method: 'POST', body: '{}' });
    assert.equal(reply.status, 502);
    assert.equal(codeOf(reply), 'FNSHIFT_UPSTREAM_BAD_RESPONSE');
    assert.equal(s.legacy!.count(), 0, 'the POST was replayed on legacy');
    await assertSocketNotReused(s, 'POST');
    assert.equal(s.fn!.count('POST'), 2);
    await assertBackToBaseline(s.app, before);
  });
}

test('replays a GET on legacy when the function answers with a malformed response', async (t) => {
  const s = await startScenario(t, { fn: toxics.raw(MALFORMED[0]![1]) });
  const before = baseline(s.app);

  const reply = await exchange(s.url());
  assert.equal(reply.status, 200);
  assert.equal(reply.body.toString(), 'legacy');
  assert.equal(reply.headers['x-fnshift-fallback'], 'upstream_error');
  await assertSocketNotReused(s, 'GET');
  await assertBackToBaseline(s.app, before);
});

const TRAILING: Array<[string, string]> = [
  [
    'a chunked response',
    `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`,
  ],
  ['a Content-Length response', `HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello${SMUGGLED}`],
  [
    'an HTTP/1.0 chunked response',
    `HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n${SMUGGLED}`,
  ],
];

for (const [what, bytes] of TRAILING) {
  test(`relays ${what} and drops the socket instead of reading the bytes after it as the next response`, async (t) => {
    const s = await startScenario(t, { fn: toxics.raw(bytes) });
    const before = baseline(s.app);

    const reply = await exchange(s.url(), { method: 'POST', body: '{}' });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), 'hello');
    assert.equal(reply.isComplete, true);
    await assertSocketNotReused(s, 'POST');
    await assertBackToBaseline(s.app, before);
  });
}
