// A1–A4, A9: request framing that two parsers could read two ways. Node's llhttp refuses nearly all of it
// (our clientError handler answers problem+json); what it lets through, the guard refuses. Either way:
// a 400, the connection closed, nothing forwarded, and the next caller served as usual.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertBackToBaseline,
  baseline,
  openClient,
  rawCode,
  rawExchange,
  startScenario,
  toxics,
  waitUntil,
} from '../helpers/faults.ts';

const HOST = 'Host: fnshift.test\r\n';
const post = (headers: string, body: string) =>
  `POST /api/recommend HTTP/1.1\r\n${HOST}${headers}\r\n${body}`;
const get = (headers: string) => `GET /api/recommend HTTP/1.1\r\n${HOST}${headers}\r\n`;

const BAD: Array<[string, string, string]> = [
  [
    'Content-Length with Transfer-Encoding (A1)',
    post('Content-Length: 5\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'),
    'FNSHIFT_BAD_REQUEST',
  ],
  [
    'Transfer-Encoding with Content-Length (A1)',
    post('Transfer-Encoding: chunked\r\nContent-Length: 5\r\n', '0\r\n\r\n'),
    'FNSHIFT_BAD_REQUEST',
  ],
  [
    'two identical Content-Lengths (A2)',
    post('Content-Length: 2\r\nContent-Length: 2\r\n', 'ok'),
    'FNSHIFT_BAD_REQUEST',
  ],
  [
    'two differing Content-Lengths (A2)',
    post('Content-Length: 1\r\nContent-Length: 2\r\n', 'ok'),
    'FNSHIFT_BAD_REQUEST',
  ],
  ['Content-Length: 2, 2 (A2)', post('Content-Length: 2, 2\r\n', 'ok'), 'FNSHIFT_BAD_REQUEST'],
  ['Content-Length: -1 (A4)', post('Content-Length: -1\r\n', 'ok'), 'FNSHIFT_BAD_REQUEST'],
  ['Content-Length: +2 (A4)', post('Content-Length: +2\r\n', 'ok'), 'FNSHIFT_BAD_REQUEST'],
  [
    'an overflowing Content-Length (A4)',
    post(`Content-Length: ${'9'.repeat(25)}\r\n`, 'ok'),
    'FNSHIFT_BAD_REQUEST',
  ],
  [
    'Transfer-Encoding: chunked, identity (A3)',
    post('Transfer-Encoding: chunked, identity\r\n', '0\r\n\r\n'),
    'FNSHIFT_BAD_REQUEST',
  ],
  // Node hands these two to the request handler before failing on the body, so the guard answers first.
  [
    'Transfer-Encoding: xchunked (A3)',
    post('Transfer-Encoding: xchunked\r\n', '0\r\n\r\n'),
    'FNSHIFT_BAD_HEADER',
  ],
  [
    'Transfer-Encoding: chunked, chunked (A3)',
    post('Transfer-Encoding: chunked, chunked\r\n', '0\r\n\r\n'),
    'FNSHIFT_BAD_REQUEST',
  ],
  ['Transfer-Encoding: gzip (A3)', post('Transfer-Encoding: gzip\r\n', '0\r\n\r\n'), 'FNSHIFT_BAD_HEADER'],
  [
    'Transfer-Encoding: chunked, gzip (A3)',
    post('Transfer-Encoding: chunked, gzip\r\n', '0\r\n\r\n'),
    'FNSHIFT_BAD_REQUEST',
  ],
  [
    'two Transfer-Encoding fields (A3)',
    post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'),
    'FNSHIFT_BAD_REQUEST',
  ],
  // Node accepts this one whole; the coding would reach the upstream unlabelled once the field is dropped.
  [
    'Transfer-Encoding: gzip, chunked (A3)',
    post('Transfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n'),
    'FNSHIFT_BAD_HEADER',
  ],
  [
    'a space before the colon (A4)',
    post('Transfer-Encoding : chunked\r\n', '0\r\n\r\n'),
    'FNSHIFT_BAD_REQUEST',
  ],
  ['a leading space before Content-Length (A4)', post(' Content-Length: 2\r\n', 'ok'), 'FNSHIFT_BAD_REQUEST'],
  ['an obs-folded header (A4)', get('X-A: a\r\n b\r\n'), 'FNSHIFT_BAD_REQUEST'],
  ['a bare CR in a value (A4)', get('X-A: a\rb\r\n'), 'FNSHIFT_BAD_REQUEST'],
  ['a bare LF in a value (A4)', get('X-A: a\nb\r\n'), 'FNSHIFT_BAD_REQUEST'],
  [
    'bare LF line ends (A4)',
    `GET /api/recommend HTTP/1.1\nHost: fnshift.test\nX-A: a\n\n`,
    'FNSHIFT_BAD_REQUEST',
  ],
  ['a NUL in a value (A4)', get('X-A: a\x00b\r\n'), 'FNSHIFT_BAD_REQUEST'],
  [
    'a chunk size that is not hex',
    post('Transfer-Encoding: chunked\r\n', 'zz\r\nhello\r\n0\r\n\r\n'),
    'FNSHIFT_BAD_REQUEST',
  ],
  [
    'a 20 KiB chunk extension (A9)',
    post('Transfer-Encoding: chunked\r\n', `5;${'e'.repeat(20_000)}\r\nhello\r\n0\r\n\r\n`),
    'FNSHIFT_BAD_REQUEST',
  ],
];

for (const [what, bytes, code] of BAD) {
  test(`answers 400 ${code} and closes the connection on ${what}`, async (t) => {
    const s = await startScenario(t, { fn: toxics.echo('function') });
    const before = baseline(s.app);

    const reply = await rawExchange(s.port, bytes);
    assert.equal(reply.status, 400, reply.text);
    assert.equal(rawCode(reply.text), code);
    assert.equal(reply.isClosed, true, 'the connection stayed open after a framing error');
    assert.equal(s.fn!.count() + s.legacy!.count(), 0, 'the bad request was forwarded');

    const next = await rawExchange(s.port, get('Connection: close\r\n'));
    assert.equal(next.status, 200, next.text);
    assert.equal(s.fn!.count(), 1);
    await assertBackToBaseline(s.app, before);
  });
}

test('cuts a response already streaming instead of writing a 400 into it when the request body turns out malformed', async (t) => {
  // The function answers as soon as the head arrives and keeps streaming while the body is still coming.
  const s = await startScenario(t, {
    fn: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('early-answer;');
    },
  });
  const before = baseline(s.app);

  const client = await openClient(s.port);
  await client.write(post('Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n'));
  await waitUntil(() => client.received().includes('early-answer;'), 'the early answer');
  await client.write('zz\r\nnot a chunk\r\n');
  await client.closed;
  const text = client.received().toString('latin1');
  assert.equal(text.indexOf('HTTP/1.1', 1), -1, `a second response was written into the first:\n${text}`);
  assert.doesNotMatch(text, /\r\n0\r\n\r\n$/, 'the cut response was framed as complete');
  await waitUntil(() => s.fn!.closedConnections() === 1, 'the function call to be aborted');
  assert.equal(s.legacy!.count(), 0);
  await assertBackToBaseline(s.app, before);
});
