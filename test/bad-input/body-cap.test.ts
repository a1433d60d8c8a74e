// D3: bodies over limits.maxBodyBytes. A declared one is refused before a byte of it is read; a chunked
// one is cut at the cap (413, or a closed connection when the caller is still sending), and no upstream
// ever receives more than the cap.
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

const CAP = 64 * 1024;
const limits = { maxBodyBytes: CAP };

test('answers 413 to Content-Length: 10737418240 before any body byte is sent, and closes', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('function'), limits });
  const before = baseline(s.app);

  const reply = await rawExchange(
    s.port,
    'POST /api/recommend HTTP/1.1\r\nHost: fnshift.test\r\nContent-Length: 10737418240\r\n\r\n',
  );
  assert.equal(reply.status, 413);
  assert.equal(rawCode(reply.text), 'FNSHIFT_BODY_TOO_LARGE');
  assert.equal(reply.isClosed, true);
  assert.equal(s.fn!.count() + s.legacy!.count(), 0);
  await assertBackToBaseline(s.app, before);
});

for (const [where, path] of [
  ['the function', '/api/recommend'],
  ['legacy', '/unrouted'],
] as const) {
  test(`cuts a chunked body at the cap on its way to ${where}, which never receives more than the cap`, async (t) => {
    const s = await startScenario(t, { fn: toxics.echo('function'), legacy: toxics.echo('legacy'), limits });
    const before = baseline(s.app);
    const upstream = where === 'legacy' ? s.legacy! : s.fn!;

    const client = await openClient(s.port);
    const chunk = Buffer.alloc(16 * 1024, 'c');
    await client.write(`POST ${path} HTTP/1.1\r\nHost: fnshift.test\r\nTransfer-Encoding: chunked\r\n\r\n`);
    // Keep sending past the cap until fnshift answers or hangs up.
    for (
      let sent = 0;
      sent < 16 * CAP && !client.isClosed() && client.received().length === 0;
      sent += chunk.length
    ) {
      await client.write(
        Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]),
      );
    }
    await client.closed;
    const text = client.received().toString('latin1');
    assert.ok(text === '' || text.startsWith('HTTP/1.1 413'), `neither 413 nor a cut: ${text.slice(0, 200)}`);
    if (text) assert.equal(rawCode(text), 'FNSHIFT_BODY_TOO_LARGE');

    await waitUntil(() => upstream.closedConnections() >= 1, `${where} to see the upload aborted`);
    assert.equal(upstream.count('POST'), 1);
    assert.ok(
      upstream.seen[0]!.body.length <= CAP,
      `${where} received ${upstream.seen[0]!.body.length} bytes`,
    );
    assert.equal(upstream.seen[0]!.isBodyComplete, false, `${where} was told the cut body was whole`);
    assert.equal(s.fn!.count() + s.legacy!.count(), 1, 'the request was sent twice');
    await assertBackToBaseline(s.app, before);
  });
}
