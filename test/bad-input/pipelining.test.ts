// A8: several requests in one TCP write, and a request hidden inside a body. Each request is answered
// once and in order, and an upstream sees exactly the requests the caller framed: a body that looks like
// a request is still a body.
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

const HOST = 'Host: fnshift.test\r\n';

test('answers pipelined requests in one write in order, one upstream request per client request', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('function'), legacy: toxics.echo('legacy') });
  const before = baseline(s.app);

  const client = await openClient(s.port);
  await client.write(
    `GET /api/recommend?n=1 HTTP/1.1\r\n${HOST}\r\n` +
      `POST /api/recommend?n=2 HTTP/1.1\r\n${HOST}Content-Length: 7\r\n\r\nbody-=2` +
      `GET /unrouted?n=3 HTTP/1.1\r\n${HOST}\r\n` +
      `PUT /api/recommend?n=4 HTTP/1.1\r\n${HOST}Transfer-Encoding: chunked\r\n\r\n3\r\nb=4\r\n0\r\n\r\n` +
      `GET /api/recommend?n=5 HTTP/1.1\r\n${HOST}Connection: close\r\n\r\n`,
  );
  await client.closed;
  const text = client.received().toString('latin1');
  const expected = [
    'function GET /api/recommend?n=1 ',
    'function POST /api/recommend?n=2 body-=2',
    'legacy GET /unrouted?n=3 ',
    'function PUT /api/recommend?n=4 b=4',
    'function GET /api/recommend?n=5 ',
  ];
  assert.equal(text.match(/HTTP\/1\.1 200 /g)?.length, 5, text);
  const positions = expected.map((body) => text.indexOf(body));
  assert.ok(
    positions.every((p, i) => p !== -1 && (i === 0 || p > positions[i - 1]!)),
    `answers missing or out of order:\n${text}`,
  );
  assert.deepEqual(
    s.fn!.seen.map((r) => `${r.method} ${r.path}`),
    ['GET /api/recommend?n=1', 'POST /api/recommend?n=2', 'PUT /api/recommend?n=4', 'GET /api/recommend?n=5'],
  );
  assert.deepEqual(
    s.legacy!.seen.map((r) => `${r.method} ${r.path}`),
    ['GET /unrouted?n=3'],
  );
  await assertBackToBaseline(s.app, before);
});

for (const [framing, head, body] of [
  ['Content-Length', (b: string) => `Content-Length: ${b.length}\r\n`, (b: string) => b],
  [
    'chunked',
    () => 'Transfer-Encoding: chunked\r\n',
    (b: string) => `${b.length.toString(16)}\r\n${b}\r\n0\r\n\r\n`,
  ],
] as const) {
  test(`forwards a request smuggled inside a ${framing} body as body bytes, never as a second request`, async (t) => {
    const s = await startScenario(t, { fn: toxics.echo('function'), legacy: toxics.echo('legacy') });
    const before = baseline(s.app);
    const smuggled = `0\r\n\r\nGET /admin HTTP/1.1\r\nHost: fnshift.test\r\n\r\n`;

    for (const path of ['/api/recommend', '/unrouted']) {
      const reply = await rawExchange(
        s.port,
        `POST ${path} HTTP/1.1\r\n${HOST}Connection: close\r\n${head(smuggled)}\r\n${body(smuggled)}`,
      );
      assert.equal(reply.status, 200, reply.text);
      assert.equal(reply.text.match(/HTTP\/1\.1 /g)?.length, 1, 'more than one response');
    }
    await waitUntil(() => s.fn!.count() + s.legacy!.count() >= 2, 'both requests to arrive');
    const all = [...s.fn!.seen, ...s.legacy!.seen];
    assert.deepEqual(
      all.map((r) => [r.method, r.path, r.body.toString()]),
      [
        ['POST', '/api/recommend', smuggled],
        ['POST', '/unrouted', smuggled],
      ],
    );
    assert.ok(!all.some((r) => r.path === '/admin'), 'the smuggled request reached an upstream');
    await assertBackToBaseline(s.app, before);
  });
}
