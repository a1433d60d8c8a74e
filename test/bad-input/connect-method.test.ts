// C9: CONNECT host:22 is a tunnel request, not a route. fnshift registers no 'connect' listener, so Node
// closes the connection without opening anything; no upstream sees a byte.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertBackToBaseline, baseline, rawExchange, startScenario, toxics } from '../helpers/faults.ts';

test('closes a CONNECT host:22 without answering 2xx or tunnelling anything', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('function') });
  const before = baseline(s.app);

  const reply = await rawExchange(
    s.port,
    'CONNECT fnshift.test:22 HTTP/1.1\r\nHost: fnshift.test:22\r\n\r\nSSH-2.0-x\r\n',
  );
  assert.equal(reply.isClosed, true, 'the CONNECT connection was left open');
  assert.ok(reply.status === 0 || (reply.status >= 400 && reply.status < 500), reply.text);
  assert.equal(s.fn!.count() + s.legacy!.count(), 0);

  const next = await rawExchange(
    s.port,
    'GET /api/recommend HTTP/1.1\r\nHost: fnshift.test\r\nConnection: close\r\n\r\n',
  );
  assert.equal(next.status, 200);
  await assertBackToBaseline(s.app, before);
});
