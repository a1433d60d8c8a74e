// D1: slowloris. 200 connections each trickle a header byte every 500 ms and never finish the header
// section. headersTimeoutMs bounds the whole section (bytes arriving do not extend it), so every one is
// answered 408 or closed within the deadline plus a check interval, while other callers are served.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertBackToBaseline,
  baseline,
  exchange,
  openClient,
  type RawClient,
  startScenario,
  toxics,
  waitUntil,
} from '../helpers/faults.ts';

const SOCKETS = 200;

test('closes 200 slowloris connections at headersTimeoutMs while normal requests keep being served', {
  timeout: 30_000,
}, async (t) => {
  const s = await startScenario(t, {
    fn: toxics.respond(200, 'function'),
    limits: { headersTimeoutMs: 1500, connectionsCheckIntervalMs: 250, requestTimeoutMs: 10_000 },
  });
  const before = baseline(s.app);

  const clients: RawClient[] = [];
  for (let i = 0; i < SOCKETS; i += 50) {
    clients.push(...(await Promise.all(Array.from({ length: 50 }, () => openClient(s.port)))));
  }
  for (const c of clients) void c.write('GET /api/recommend HTTP/1.1\r\nHost: fnshift.test\r\nX-Slow: ');
  const trickle = setInterval(() => {
    for (const c of clients) if (!c.isClosed()) c.socket.write('a');
  }, 500);
  t.after(() => {
    clearInterval(trickle);
    for (const c of clients) c.abort();
  });

  // Other callers are served while the slow connections are held.
  for (let i = 0; i < 5; i++) {
    const reply = await exchange(s.url());
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), 'function');
  }

  await waitUntil(
    () => clients.every((c) => c.isClosed()),
    () => `${clients.filter((c) => !c.isClosed()).length} slowloris connections still open`,
    15_000,
  );
  clearInterval(trickle);
  const answers = clients.map((c) => c.received().toString('latin1').slice(0, 12));
  const unexpected = answers.filter((a) => a !== '' && a !== 'HTTP/1.1 408');
  assert.deepEqual(unexpected, [], 'a slowloris connection got something other than 408 or a close');
  assert.equal(s.fn!.count(), 5, 'a slowloris request was forwarded');
  assert.equal((await exchange(s.url())).status, 200);
  await assertBackToBaseline(s.app, before);
});
