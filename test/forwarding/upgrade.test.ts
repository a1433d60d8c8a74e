// WebSocket-style upgrades go to legacy: the caller's bytes wait for its 101 (within legacy.timeoutMs), then flow
// both ways; a refusal is relayed and ends the connection.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import {
  type AddressInfo,
  connect,
  createServer as createNetServer,
  type Server,
  type Socket,
} from 'node:net';
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

const UPGRADE_REQUEST =
  'GET /ws HTTP/1.1\r\nHost: fnshift.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

/**
 * A WebSocket upgrade request on a fresh raw connection to fnshift, its answer read by the caller. `after`
 * goes out in the same write, as a client pipelining past the request would send it.
 */
async function sendUpgrade(t: TestContext, port: number, after: string | Buffer = ''): Promise<Socket> {
  const client = connect(port, '127.0.0.1');
  client.on('error', () => {});
  t.after(() => client.destroy());
  await once(client, 'connect');
  client.write(Buffer.concat([Buffer.from(UPGRADE_REQUEST, 'latin1'), Buffer.from(after)]));
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

/** Everything a socket receives until it closes. */
function readToClose(socket: Socket): Promise<string> {
  let seen = '';
  socket.on('data', (chunk: Buffer) => {
    seen += chunk.toString('latin1');
  });
  return once(socket, 'close').then(() => seen);
}

/**
 * A few turns of the event loop. fnshift, legacy and the caller share this process and talk over loopback,
 * where a written byte is readable at once: bytes fnshift were to pass on have reached legacy after two
 * turns (one for fnshift to read them, one for legacy), so a test can tell "held" from "not yet sent".
 */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** The masked frame carrying "Hello" from RFC 6455 §5.7: bytes that are not text, so any rewriting would show. */
const HELLO_FRAME = Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);

/** A second request that would get past every rule fnshift has if it reached legacy raw. */
const ADMIN_REQUEST =
  'GET /admin HTTP/1.1\r\nHost: fnshift.test\r\nX-Forwarded-For: 10.0.0.1\r\nX-Fnshift-Force: function\r\n\r\n';

/** Listens on 127.0.0.1, port 0; the test's end destroys every socket in `sockets` and closes the server. */
async function listenForTest(t: TestContext, server: Server, sockets: Set<Socket>): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

/**
 * A keep-alive legacy that answers an upgrade with `refusal` and keeps the connection open, as a server
 * waiting for the next request does; a later request on it gets `200 admin` and a close. It records every
 * byte it receives and every request head.
 */
async function startRefusingLegacy(t: TestContext, refusal: string) {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  let received = '';
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end !== -1; end = buffered.indexOf('\r\n\r\n')) {
        heads.push(buffered.slice(0, end + 4));
        buffered = buffered.slice(end + 4);
        if (heads.length === 1) socket.write(refusal);
        else socket.end('HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nadmin');
      }
    });
  });
  const port = await listenForTest(t, server, sockets);
  return {
    url: `http://127.0.0.1:${port}`,
    heads,
    sockets,
    get received() {
      return received;
    },
  };
}

function assertOnlyTheUpgradeReached(legacy: { heads: string[]; received: string }): void {
  assert.equal(legacy.heads.length, 1, legacy.received);
  assert.ok(legacy.heads[0]!.startsWith('GET /ws HTTP/1.1\r\n'), legacy.heads[0]);
  assert.equal(legacy.received, legacy.heads[0]);
  assert.doesNotMatch(legacy.received, /admin|10\.0\.0\.1|x-fnshift/i);
}

const REFUSAL = 'HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 4\r\n\r\nnope';

test('never forwards a request pipelined behind an upgrade that legacy refused with 400', {
  timeout: 5000,
}, async (t) => {
  const legacy = await startRefusingLegacy(t, REFUSAL);
  const fnshift = await startFnshift(t, { legacy: { url: legacy.url } });

  const client = await sendUpgrade(t, fnshift.port, ADMIN_REQUEST);
  const answer = await readToClose(client);

  assert.equal(answer, REFUSAL);
  assertOnlyTheUpgradeReached(legacy);
});

test('never forwards a request sent after legacy refused an upgrade, and closes once the refusal is whole', {
  timeout: 5000,
}, async (t) => {
  const refusalHead = 'HTTP/1.1 426 Upgrade Required\r\ntransfer-encoding: chunked\r\n\r\n4\r\nnope\r\n';
  const legacy = await startRefusingLegacy(t, refusalHead);
  const fnshift = await startFnshift(t, { legacy: { url: legacy.url } });

  const client = await sendUpgrade(t, fnshift.port);
  const answer = readToClose(client);
  await readUntil(client, 'nope\r\n');
  client.write(ADMIN_REQUEST);
  await settle();
  for (const socket of legacy.sockets) socket.write('0\r\n\r\n');

  assert.equal(await answer, `${refusalHead}0\r\n\r\n`);
  assertOnlyTheUpgradeReached(legacy);
});

/**
 * A legacy that answers an upgrade with 101 only when the test calls `accept()`, then greets and echoes.
 * What it receives before its 101 is kept apart from what comes after, so held bytes can be told from early
 * ones.
 */
async function startGatedUpgradeLegacy(t: TestContext) {
  const asked = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<void>();
  const sockets = new Set<Socket>();
  let isAccepted = false;
  let before = '';
  let after = '';
  let onAfter = () => {};
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      closed.resolve();
    });
    socket.on('data', (chunk: Buffer) => {
      if (!isAccepted) {
        before += chunk.toString('latin1');
        if (before.includes('\r\n\r\n')) asked.resolve();
        return;
      }
      after += chunk.toString('latin1');
      socket.write(Buffer.concat([Buffer.from('echo:'), chunk]));
      onAfter();
    });
  });
  const port = await listenForTest(t, server, sockets);
  return {
    url: `http://127.0.0.1:${port}`,
    asked: asked.promise,
    closed: closed.promise,
    accept(): void {
      isAccepted = true;
      for (const socket of sockets) {
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello-from-legacy',
        );
      }
    },
    get before() {
      return before;
    },
    get after() {
      return after;
    },
    /** Resolves once `length` bytes have arrived after the 101. */
    afterLength(length: number): Promise<void> {
      const { promise, resolve } = Promise.withResolvers<void>();
      onAfter = () => after.length >= length && resolve();
      onAfter();
      return promise;
    },
  };
}

function assertNothingBeforeThe101(legacy: { before: string }): void {
  assert.ok(legacy.before.startsWith('GET /ws HTTP/1.1\r\n'), legacy.before);
  assert.equal(
    legacy.before.indexOf('\r\n\r\n'),
    legacy.before.length - 4,
    'bytes reached legacy before its 101',
  );
}

test('holds bytes pipelined behind an upgrade request until the 101, then delivers them intact and in order', {
  timeout: 5000,
}, async (t) => {
  const legacy = await startGatedUpgradeLegacy(t);
  const fnshift = await startFnshift(t, { legacy: { url: legacy.url } });

  const client = await sendUpgrade(t, fnshift.port, HELLO_FRAME);
  await legacy.asked;
  await settle();
  const greeting = readUntil(client, 'hello-from-legacy');
  legacy.accept();
  const head = await greeting;
  assert.ok(head.startsWith('HTTP/1.1 101 '), head);
  const echoed = readUntil(client, 'later');
  client.write('later');
  await echoed;

  assertNothingBeforeThe101(legacy);
  assert.equal(legacy.after, `${HELLO_FRAME.toString('latin1')}later`);
});

test('holds bytes a caller sends while legacy has not yet answered its upgrade, and delivers them after the 101', {
  timeout: 5000,
}, async (t) => {
  const legacy = await startGatedUpgradeLegacy(t);
  const fnshift = await startFnshift(t, { legacy: { url: legacy.url } });

  const client = await sendUpgrade(t, fnshift.port);
  await legacy.asked;
  client.write('early-1,');
  await settle();
  client.write(HELLO_FRAME);
  await settle();
  const greeting = readUntil(client, 'hello-from-legacy');
  legacy.accept();
  await greeting;
  const echoed = readUntil(client, 'later');
  client.write('later');
  await echoed;

  assertNothingBeforeThe101(legacy);
  assert.equal(legacy.after, `early-1,${HELLO_FRAME.toString('latin1')}later`);
});

test('stops reading a caller that sends past limits.maxHeaderBytes before the 101, and loses none of it', {
  timeout: 5000,
}, async (t) => {
  const legacy = await startGatedUpgradeLegacy(t);
  const fnshift = await startFnshift(t, { legacy: { url: legacy.url }, limits: { maxHeaderBytes: 1024 } });

  const client = await sendUpgrade(t, fnshift.port);
  client.on('data', () => {});
  await legacy.asked;
  // Far more than fnshift holds (1 KiB, then one socket buffer): the rest waits in TCP's window.
  const early = Buffer.alloc(1024 * 1024, 'a');
  client.write(early);
  await settle();
  assertNothingBeforeThe101(legacy);
  const arrived = legacy.afterLength(early.length);
  legacy.accept();
  await arrived;

  assert.equal(legacy.after, early.toString('latin1'));
});

test("closes legacy's socket when the caller leaves before legacy has answered its upgrade", {
  timeout: 5000,
}, async (t) => {
  const legacy = await startGatedUpgradeLegacy(t);
  // Far past the test's own timeout: only the caller leaving can close legacy's socket in time.
  const fnshift = await startFnshift(t, { legacy: { url: legacy.url, timeoutMs: 600_000 } });

  const client = await sendUpgrade(t, fnshift.port);
  await legacy.asked;
  client.end();

  await legacy.closed;
});
