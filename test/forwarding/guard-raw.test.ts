// Bad request targets and headers as raw bytes through a running fnshift: the status, the problem+json code,
// nothing forwarded, and the next request on a new connection still served.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { bodyOf, rawRequest, startFixture, startFnshift, statusOf } from '../helpers/fnshift.ts';
import { valuesOf } from '../helpers/raw.ts';

async function setup(t: TestContext) {
  const legacy = await startFixture(t);
  const fn = await startFixture(t);
  const fnshift = await startFnshift(t, {
    legacy: { url: legacy.url },
    functions: { recommend: { url: fn.url } },
    routes: [
      { name: 'recommend', match: { pathPrefix: '/api/recommend' }, function: 'recommend', weight: 100 },
    ],
  });
  return { legacy, fn, fnshift };
}

type Setup = Awaited<ReturnType<typeof setup>>;

async function assertRefused(s: Setup, bytes: string, status: number, code: string): Promise<void> {
  const forwardedBefore = s.legacy.received.length + s.fn.received.length;
  const response = await rawRequest(s.fnshift.port, bytes);
  assert.equal(statusOf(response), status, response);
  assert.equal((bodyOf(response) as { code: string }).code, code);
  assert.deepEqual(valuesOf(response, 'content-type'), ['application/problem+json']);
  assert.equal(
    s.legacy.received.length + s.fn.received.length,
    forwardedBefore,
    'the bad request was forwarded',
  );
  // The process is still up and serving: a normal request on a new connection works.
  const next = await rawRequest(
    s.fnshift.port,
    'GET /api/recommend HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  );
  assert.equal(statusOf(next), 200, next);
}

function get(target: string, method = 'GET', extra = ''): string {
  return `${method} ${target} HTTP/1.1\r\nHost: fnshift.test\r\n${extra}\r\n`;
}

const BAD_TARGETS: Array<[string, string]> = [
  ['a dot-dot segment', get('/api/recommend/../../admin')],
  ['an escaped dot-dot segment', get('/api/recommend/%2e%2e/admin')],
  ['a mixed-case escaped dot-dot segment', get('/api/recommend/%2E%2e/admin')],
  ['an encoded slash', get('/api/recommend%2F..%2Fadmin')],
  ['an encoded backslash', get('/api/recommend%5C..%5Cadmin')],
  ['a raw backslash', get('/api\\..\\admin')],
  ['a path parameter', get('/api;v=1/x')],
  ['a dot-dot path parameter', get('/..;/admin')],
  ['an empty segment', get('//admin')],
  ['a fragment', get('/api/recommend#x')],
  ['an absolute-form target', get('http://evil/')],
  ['an asterisk-form target', get('*', 'OPTIONS')],
  ['a malformed escape', get('/%zz')],
  ['a truncated escape', get('/%')],
  ['a double escape', get('/%%36%36')],
];

for (const [what, bytes] of BAD_TARGETS) {
  test(`answers 400 FNSHIFT_BAD_PATH to ${what} (${bytes.slice(0, bytes.indexOf(' HTTP/'))})`, async (t) => {
    await assertRefused(await setup(t), bytes, 400, 'FNSHIFT_BAD_PATH');
  });
}

test('routes and forwards /%61pi/recommend as the canonical /api/recommend', async (t) => {
  const s = await setup(t);
  const response = await rawRequest(
    s.fnshift.port,
    get('/%61pi/recommend?q=%61', 'GET', 'Connection: close\r\n'),
  );
  assert.equal(statusOf(response), 200, response);
  assert.deepEqual(valuesOf(response, 'x-fnshift-route'), ['recommend']);
  assert.deepEqual(valuesOf(response, 'x-fnshift-target'), ['function']);
  assert.deepEqual(
    s.fn.received.map((r) => r.url),
    ['/api/recommend?q=%61'],
  );
  assert.equal(s.legacy.received.length, 0);
});

test('answers 431 to 101 header fields', async (t) => {
  const s = await setup(t);
  const fields = Array.from({ length: 100 }, (_, i) => `x-h${i}: v\r\n`).join('');
  await assertRefused(
    s,
    `GET /api/recommend HTTP/1.1\r\nHost: x\r\n${fields}\r\n`,
    431,
    'FNSHIFT_HEADERS_TOO_LARGE',
  );
});

test('answers 431 to 16 KiB + 1 of headers', async (t) => {
  const s = await setup(t);
  // Node's parser counts the target, the field names and the values (node_http_parser.cc TrackHeader).
  const target = '/api/recommend';
  const value = 'a'.repeat(16 * 1024 + 1 - target.length - 'Host'.length - 'x'.length - 'x-pad'.length);
  await assertRefused(
    s,
    `GET ${target} HTTP/1.1\r\nHost: x\r\nx-pad: ${value}\r\n\r\n`,
    431,
    'FNSHIFT_HEADERS_TOO_LARGE',
  );
});

test('answers 400 FNSHIFT_BAD_HEADER to two Host headers', async (t) => {
  const s = await setup(t);
  await assertRefused(
    s,
    'GET /api/recommend HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
    400,
    'FNSHIFT_BAD_HEADER',
  );
});

test('answers 400 FNSHIFT_BAD_HEADER to an underscore in a header name', async (t) => {
  const s = await setup(t);
  await assertRefused(
    s,
    'GET /api/recommend HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: 10.0.0.1\r\n\r\n',
    400,
    'FNSHIFT_BAD_HEADER',
  );
});

test('answers 413 to a Content-Length over the body cap before any body byte is sent', async (t) => {
  const s = await setup(t);
  // Only the head goes out: the answer has to come without the body, and the connection is closed.
  const response = await rawRequest(
    s.fnshift.port,
    'POST /api/recommend HTTP/1.1\r\nHost: a\r\nContent-Length: 10737418240\r\n\r\n',
  );
  assert.deepEqual(valuesOf(response, 'connection'), ['close']);
  await assertRefused(
    s,
    'POST /api/recommend HTTP/1.1\r\nHost: a\r\nContent-Length: 10737418240\r\n\r\n',
    413,
    'FNSHIFT_BODY_TOO_LARGE',
  );
});

test('answers 413 to Expect: 100-continue with a Content-Length over the cap, with no 100 first', async (t) => {
  const s = await setup(t);
  const bytes =
    'POST /api/recommend HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 10737418240\r\n\r\n';
  const response = await rawRequest(s.fnshift.port, bytes);
  assert.ok(response.startsWith('HTTP/1.1 413 '), response);
  assert.deepEqual(valuesOf(response, 'connection'), ['close']);
  await assertRefused(s, bytes, 413, 'FNSHIFT_BODY_TOO_LARGE');
});

test('answers 417 problem+json to an Expect it does not understand', async (t) => {
  const s = await setup(t);
  await assertRefused(
    s,
    'POST /api/recommend HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\nhi',
    417,
    'FNSHIFT_EXPECTATION_FAILED',
  );
});

test('answers 100 Continue to a body under the cap, then forwards it without the Expect header', async (t) => {
  const s = await setup(t);
  const socket = connect(s.fnshift.port, '127.0.0.1');
  await once(socket, 'connect');
  let seen = '';
  socket.on('data', (chunk: Buffer) => {
    seen += chunk.toString('latin1');
  });
  socket.write(
    'POST /api/recommend HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n',
  );
  for (const deadline = Date.now() + 5000; !seen.includes('\r\n\r\n') && Date.now() < deadline; ) {
    await sleep(10);
  }
  assert.ok(seen.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), seen);
  socket.write('hello');
  await once(socket, 'close');
  assert.equal(statusOf(seen.slice(seen.indexOf('\r\n\r\n') + 4)), 200, seen);
  const forwarded = s.fn.received.at(-1)!;
  assert.equal(forwarded.headers.expect, undefined);
  assert.equal(forwarded.body.toString(), 'hello');
});
