// WebSocket-style upgrades go to legacy: the 101 comes back within legacy.timeoutMs, then bytes flow both ways.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { bodyOf, startFixture, startFnshift, startRawFixture, statusOf } from '../helpers/fnshift.ts';
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

/** A WebSocket upgrade request on a fresh raw connection to fnshift, its answer read by the caller. */
async function sendUpgrade(t: TestContext, port: number): Promise<Socket> {
  const client = connect(port, '127.0.0.1');
  client.on('error', () => {});
  t.after(() => client.destroy());
  await once(client, 'connect');
  client.write(
    'GET /ws HTTP/1.1\r\nHost: fnshift.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  return client;
}

test('answers 504 and closes both sockets when legacy accepts an upgrade but never answers it', {
  timeout: 5000,
}, async (t) => {
  const legacyClosed = Promise.withResolvers<void>();
  // Reads the upgrade request, then says nothing.
  const legacy = await startRawFixture(t, (socket) => socket.once('close', () => legacyClosed.resolve()));
  const fnshift = await startFnshift(t, { legacy: { url: legacy.url, timeoutMs: 200 } });

  const client = await sendUpgrade(t, fnshift.port);
  const chunks: Buffer[] = [];
  client.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(client, 'close');
  await legacyClosed.promise;

  const answer = Buffer.concat(chunks).toString('latin1');
  assert.equal(statusOf(answer), 504, answer);
  assert.deepEqual(valuesOf(answer, 'content-type'), ['application/problem+json']);
  assert.equal((bodyOf(answer) as { code: string }).code, 'FNSHIFT_UPSTREAM_TIMEOUT');
  assert.equal(legacy.requests.length, 1);
});

test('leaves a tunnel open past legacy.timeoutMs once the 101 has arrived', async (t) => {
  const legacy = await startUpgradeLegacy(t);
  const fnshift = await startFnshift(t, { legacy: { url: legacy.url, timeoutMs: 100 } });
  t.mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const { client } = await openTunnel(t, fnshift.port);
    // A WebSocket may stay quiet for hours after the handshake.
    t.mock.timers.tick(3_600_000);
    const echoed = readUntil(client, 'echo:ping');
    client.write('ping');
    await echoed;
  } finally {
    t.mock.timers.reset();
  }
});

test('relays a slow non-101 answer to an upgrade without cutting it at legacy.timeoutMs', async (t) => {
  const legacy = await startRawFixture(t, (socket) =>
    socket.write('HTTP/1.1 400 Bad Request\r\ntransfer-encoding: chunked\r\n\r\n4\r\nnope\r\n'),
  );
  const fnshift = await startFnshift(t, { legacy: { url: legacy.url, timeoutMs: 100 } });
  t.mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const client = await sendUpgrade(t, fnshift.port);
    const head = await readUntil(client, 'nope\r\n');
    assert.ok(head.startsWith('HTTP/1.1 400 Bad Request\r\n'), head);
    t.mock.timers.tick(1000);
    const rest = readUntil(client, '0\r\n\r\n');
    for (const socket of legacy.sockets) socket.write('0\r\n\r\n');
    assert.equal(await rest, '0\r\n\r\n');
  } finally {
    t.mock.timers.reset();
  }
});

const EARLY_HINTS = 'HTTP/1.1 103 Early Hints\r\nlink: </app.css>; rel=preload\r\n\r\n';

test('closes both sockets at legacy.timeoutMs when only an interim 103 came before it', {
  timeout: 5000,
}, async (t) => {
  const legacyClosed = Promise.withResolvers<void>();
  const legacy = await startRawFixture(t, (socket) => {
    socket.once('close', () => legacyClosed.resolve());
    socket.write(EARLY_HINTS);
  });
  const fnshift = await startFnshift(t, { legacy: { url: legacy.url, timeoutMs: 200 } });

  const client = await sendUpgrade(t, fnshift.port);
  const chunks: Buffer[] = [];
  client.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(client, 'close');
  await legacyClosed.promise;

  // The 103 was relayed, so no 504 can follow it: the caller sees its connection closed.
  assert.equal(Buffer.concat(chunks).toString('latin1'), EARLY_HINTS);
  assert.equal(legacy.requests.length, 1);
});

test('finds the end of the 101 head when its blank line arrives in two pieces', async (t) => {
  const legacy = await startRawFixture(t, (socket) =>
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r'),
  );
  const fnshift = await startFnshift(t, { legacy: { url: legacy.url, timeoutMs: 100 } });
  t.mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const client = await sendUpgrade(t, fnshift.port);
    await readUntil(client, 'Connection: Upgrade\r\n\r');
    const greeting = readUntil(client, 'hello-from-legacy');
    for (const socket of legacy.sockets) socket.write('\nhello-from-legacy');
    await greeting;
    t.mock.timers.tick(3_600_000);
    const later = readUntil(client, 'still-here');
    for (const socket of legacy.sockets) socket.write('still-here');
    await later;
  } finally {
    t.mock.timers.reset();
  }
});
