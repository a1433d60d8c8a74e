// WebSocket-style upgrades go to legacy: the 101 comes back and bytes then flow both ways on the tunnel.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startFixture, startFnshift } from '../helpers/fnshift.ts';
import { openTunnel, readUntil, startUpgradeLegacy, valuesOf } from '../helpers/raw.ts';

test('tunnels a WebSocket upgrade to legacy and carries bytes both ways after the 101', async (t) => {
  const legacy = await startUpgradeLegacy(t);
  const fn = await startFixture(t);
  const fnshift = await startFnshift(t, {
    legacy: { url: legacy.url },
    functions: { recommend: { url: fn.url } },
    routes: [{ name: 'recommend', match: { pathPrefix: '/ws' }, function: 'recommend', weight: 100 }],
  });

  const { client, head } = await openTunnel(
    t,
    fnshift.port,
    '/ws/chat?room=1',
    'X-Fnshift-Force: function\r\n',
  );
  assert.ok(head.startsWith('HTTP/1.1 101 '), head);
  assert.deepEqual(valuesOf(head, 'upgrade'), ['websocket']);
  assert.ok(head.endsWith('hello-from-legacy'), head);

  const echoed = readUntil(client, 'echo:ping');
  client.write('ping');
  await echoed;

  assert.equal(fn.received.length, 0, 'an upgrade reached the function');
  assert.equal(legacy.upgrades.length, 1);
  const req = legacy.upgrades[0]!;
  assert.equal(req.url, '/ws/chat?room=1');
  assert.equal(req.headers.host, `127.0.0.1:${legacy.port}`);
  assert.equal(req.headers['sec-websocket-key'], 'dGhlIHNhbXBsZSBub25jZQ==');
  assert.equal(req.headers['x-forwarded-host'], 'fnshift.test');
  assert.equal(req.headers['x-fnshift-force'], undefined);
});

for (const [who, trustedProxies, expected] of [
  ['a trusted proxy', ['127.0.0.1'], { for: '203.0.113.7, 127.0.0.1', proto: 'https', host: 'shop.example' }],
  ['an untrusted peer', [], { for: '127.0.0.1', proto: 'http', host: 'fnshift.test' }],
] as const) {
  test(`an upgrade from ${who} carries X-Forwarded-* as every other request does`, async (t) => {
    const legacy = await startUpgradeLegacy(t);
    const fnshift = await startFnshift(t, {
      legacy: { url: legacy.url },
      forwarding: { trustedProxies: [...trustedProxies] },
    });
    const { head } = await openTunnel(
      t,
      fnshift.port,
      '/ws',
      'X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example\r\n',
    );
    assert.ok(head.startsWith('HTTP/1.1 101 '), head);
    const req = legacy.upgrades[0]!;
    assert.equal(req.headers['x-forwarded-for'], expected.for);
    assert.equal(req.headers['x-forwarded-proto'], expected.proto);
    assert.equal(req.headers['x-forwarded-host'], expected.host);
  });
}
