// The exact bytes an upstream receives and the headers a caller gets back: hop-by-hop and Connection-listed
// fields dropped both ways (RFC 9110 §7.6.1), our control headers kept in, X-Forwarded-* rebuilt from the peer.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { ConfigInput } from '../../src/config/schema.ts';
import { rawRequest, startFnshift, statusOf } from '../helpers/fnshift.ts';
import { headerLines, startRecordingUpstream, valuesOf } from '../helpers/raw.ts';

const UPSTREAM_RESPONSE =
  'HTTP/1.1 200 OK\r\n' +
  'Content-Type: text/plain\r\n' +
  'Content-Length: 2\r\n' +
  'Connection: keep-alive, x-upstream-secret\r\n' +
  'Keep-Alive: timeout=7, max=3\r\n' +
  'Proxy-Authenticate: Basic realm="upstream"\r\n' +
  'Trailer: x-upstream-trailer\r\n' +
  'X-Upstream-Secret: s3cr3t\r\n' +
  'X-Kept: yes\r\n' +
  '\r\n' +
  'ok';

const CLIENT_REQUEST =
  'POST /api/recommend/x?y=1 HTTP/1.1\r\n' +
  'Host: fnshift.test\r\n' +
  'Connection: close, x-secret\r\n' +
  'X-Secret: must-not-pass\r\n' +
  'Keep-Alive: timeout=5\r\n' +
  'TE: trailers\r\n' +
  'Trailer: x-client-trailer\r\n' +
  'Upgrade: h2c\r\n' +
  'Proxy-Authorization: Basic Zm9vOmJhcg==\r\n' +
  'Proxy-Connection: keep-alive\r\n' +
  'X-Fnshift-Force: function\r\n' +
  'X-Fnshift-Anything: 1\r\n' +
  'X-Forwarded-For: 6.6.6.6\r\n' +
  'X-Forwarded-Proto: https\r\n' +
  'X-Forwarded-Host: evil.example\r\n' +
  'Forwarded: for=6.6.6.6\r\n' +
  'Content-Type: text/plain\r\n' +
  'Content-Length: 5\r\n' +
  'X-Kept: k\r\n' +
  '\r\n' +
  'hello';

const DROPPED = [
  'keep-alive',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-connection',
  'transfer-encoding',
  'x-secret',
  'forwarded',
];

async function setup(t: TestContext, forwarding: ConfigInput['forwarding'] = {}) {
  const fn = await startRecordingUpstream(t, () => UPSTREAM_RESPONSE);
  const legacy = await startRecordingUpstream(t, () => UPSTREAM_RESPONSE);
  const fnshift = await startFnshift(t, {
    legacy: { url: legacy.url },
    functions: { recommend: { url: fn.url } },
    routes: [
      { name: 'recommend', match: { pathPrefix: '/api/recommend' }, function: 'recommend', weight: 0 },
    ],
    forwarding,
  });
  return { fn, legacy, fnshift };
}

function assertHygienicHead(head: string, upstreamPort: number): void {
  assert.ok(head.startsWith('POST /api/recommend/x?y=1 HTTP/1.1\r\n'), head);
  const names = headerLines(head).map(([name]) => name);
  for (const name of DROPPED) assert.ok(!names.includes(name), `${name} was forwarded:\n${head}`);
  assert.deepEqual(
    names.filter((n) => n.startsWith('x-fnshift-')),
    [],
    head,
  );
  // undici may announce its own keep-alive; the client's Connection value must not pass.
  for (const value of valuesOf(head, 'connection')) assert.equal(value, 'keep-alive', head);
  assert.deepEqual(valuesOf(head, 'host'), [`127.0.0.1:${upstreamPort}`]);
  assert.deepEqual(valuesOf(head, 'content-length'), ['5']);
  assert.deepEqual(valuesOf(head, 'x-kept'), ['k']);
  assert.deepEqual(valuesOf(head, 'content-type'), ['text/plain']);
}

function assertHygienicResponse(response: string, target: string): void {
  assert.equal(statusOf(response), 200, response);
  const head = response.slice(0, response.indexOf('\r\n\r\n') + 4);
  const names = headerLines(head).map(([name]) => name);
  for (const name of ['keep-alive', 'proxy-authenticate', 'trailer', 'x-upstream-secret']) {
    assert.ok(!names.includes(name), `${name} reached the client:\n${head}`);
  }
  // The client asked to close; only fnshift's own Connection header may be there.
  assert.deepEqual(valuesOf(head, 'connection'), ['close']);
  assert.deepEqual(valuesOf(head, 'content-length'), ['2']);
  assert.deepEqual(valuesOf(head, 'x-kept'), ['yes']);
  assert.deepEqual(valuesOf(head, 'x-fnshift-route'), ['recommend']);
  assert.deepEqual(valuesOf(head, 'x-fnshift-target'), [target]);
  assert.ok(response.endsWith('\r\n\r\nok'), response);
}

test('strips hop-by-hop, Connection-listed and x-fnshift-* headers on the way to the function and back', async (t) => {
  const { fn, legacy, fnshift } = await setup(t);
  const response = await rawRequest(fnshift.port, CLIENT_REQUEST);
  assert.equal(legacy.exchanges.length, 0, 'the force header was not honoured');
  assert.equal(fn.exchanges.length, 1);
  const { head, body } = fn.exchanges[0]!;
  assertHygienicHead(head, fn.port);
  assert.equal(body.toString(), 'hello');
  assertHygienicResponse(response, 'function');
});

test('strips the same headers on the way to legacy and back', async (t) => {
  const { fn, legacy, fnshift } = await setup(t);
  const response = await rawRequest(fnshift.port, CLIENT_REQUEST.replace('function', 'legacy'));
  assert.equal(fn.exchanges.length, 0);
  assert.equal(legacy.exchanges.length, 1);
  assertHygienicHead(legacy.exchanges[0]!.head, legacy.port);
  assert.equal(legacy.exchanges[0]!.body.toString(), 'hello');
  assertHygienicResponse(response, 'legacy');
});

test('replaces client-sent X-Forwarded-* with the peer when the peer is not trusted', async (t) => {
  const { fn, fnshift } = await setup(t);
  await rawRequest(fnshift.port, CLIENT_REQUEST);
  const { head } = fn.exchanges[0]!;
  assert.deepEqual(valuesOf(head, 'x-forwarded-for'), ['127.0.0.1']);
  assert.deepEqual(valuesOf(head, 'x-forwarded-proto'), ['http']);
  assert.deepEqual(valuesOf(head, 'x-forwarded-host'), ['fnshift.test']);
});

test('appends the peer to X-Forwarded-For and keeps -Proto and -Host when the peer is a trusted proxy', async (t) => {
  const { fn, fnshift } = await setup(t, { trustedProxies: ['127.0.0.1'] });
  await rawRequest(fnshift.port, CLIENT_REQUEST);
  const { head } = fn.exchanges[0]!;
  assert.deepEqual(valuesOf(head, 'x-forwarded-for'), ['6.6.6.6, 127.0.0.1']);
  assert.deepEqual(valuesOf(head, 'x-forwarded-proto'), ['https']);
  assert.deepEqual(valuesOf(head, 'x-forwarded-host'), ['evil.example']);
  assert.deepEqual(valuesOf(head, 'forwarded'), []);
});

test('a chunked body stays chunked whatever header values say, so no request hides inside it', async (t) => {
  const { legacy, fnshift } = await setup(t);
  const inner = 'GET /admin/secret HTTP/1.1\r\nhost: legacy\r\n\r\n';
  const response = await rawRequest(
    fnshift.port,
    'POST /api/feedback HTTP/1.1\r\nHost: fnshift.test\r\nTransfer-Encoding: chunked\r\n' +
      `X-Note: content-length\r\nX-Other: transfer-encoding\r\nConnection: close\r\n\r\n` +
      `${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`,
  );
  assert.equal(statusOf(response), 200, response);
  assert.equal(legacy.exchanges.length, 1, 'the upstream read a second request out of the body');
  const { head, body } = legacy.exchanges[0]!;
  assert.deepEqual(valuesOf(head, 'transfer-encoding'), ['chunked'], head);
  assert.deepEqual(valuesOf(head, 'content-length'), [], head);
  assert.deepEqual(valuesOf(head, 'x-note'), ['content-length']);
  assert.equal(body.toString('latin1'), `${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`);
});
