// The demo legacy BFF: its routes, its x-served-by mark, and that no input can bring it down.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { type TestContext, test } from 'node:test';
import type { Item, Problem, Recommendation } from '../../src/local/catalog.ts';
import { type LegacyApp, startLegacyApp } from '../../src/local/legacy-app.ts';

async function start(t: TestContext): Promise<LegacyApp> {
  const app = await startLegacyApp();
  t.after(() => app.close());
  return app;
}

async function jsonOf<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** Writes `text` on a fresh socket and resolves with everything the server sent back. */
function rawExchange(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(text));
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      received += chunk;
    });
    socket.on('end', () => resolve(received));
    socket.on('error', reject);
  });
}

/** POSTs `totalBytes` in chunks without a Content-Length; resolves with the status and body. */
function postChunked(url: string, totalBytes: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(16 * 1024, 'a');
    for (let sent = 0; sent < totalBytes; sent += chunk.length) req.write(chunk);
    req.end();
  });
}

test('answers a recommendation as JSON, marked as served by legacy, and counts it', async (t) => {
  const app = await start(t);
  const res = await fetch(`${app.url}/api/recommend?userId=u1&scene=home&size=10`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-served-by'), 'legacy');
  assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
  const body = await jsonOf<Recommendation>(res);
  assert.equal(body.userId, 'u1');
  assert.equal(body.items.length, 10);
  assert.equal(app.received.recommend, 1);
});

test('gives the same user the same bytes on every call', async (t) => {
  const app = await start(t);
  const first = await (await fetch(`${app.url}/api/recommend?userId=u7`)).text();
  const second = await (await fetch(`${app.url}/api/recommend?userId=u7`)).text();
  assert.equal(second, first);
});

test('reads the user from x-user-id when the query has no userId', async (t) => {
  const app = await start(t);
  const res = await fetch(`${app.url}/api/recommend?scene=cart`, { headers: { 'x-user-id': 'header-user' } });
  const body = await jsonOf<Recommendation>(res);
  assert.equal(body.userId, 'header-user');
  assert.equal(body.scene, 'cart');
});

test('answers an item by id, and a 404 problem for an unknown id', async (t) => {
  const app = await start(t);
  const found = await fetch(`${app.url}/api/item/sku-0042`);
  assert.equal(found.status, 200);
  assert.equal((await jsonOf<Item>(found)).id, 'sku-0042');
  const missing = await fetch(`${app.url}/api/item/sku-9999`);
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get('x-served-by'), 'legacy');
  assert.deepEqual(await missing.json(), {
    status: 404,
    error: 'not_found',
    message: 'no item with this id',
  });
  assert.equal(app.received.item, 2);
});

test('accepts valid feedback with 202', async (t) => {
  const app = await start(t);
  const res = await fetch(`${app.url}/api/feedback`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': 'u1' },
    body: JSON.stringify({ itemId: 'sku-0001', action: 'click' }),
  });
  assert.equal(res.status, 202);
  assert.equal(res.headers.get('x-served-by'), 'legacy');
  assert.deepEqual(await res.json(), { accepted: true });
});

test('refuses bodies that are not JSON objects with a 400 problem', async (t) => {
  const app = await start(t);
  const bodies: Array<string | Uint8Array> = [
    '',
    '{',
    '{"a":',
    'null',
    '[1,2]',
    '"text"',
    new Uint8Array([0xff, 0xfe, 0]),
  ];
  for (const body of bodies) {
    const res = await fetch(`${app.url}/api/feedback`, { method: 'POST', body });
    assert.equal(res.status, 400, String(body));
    assert.equal(res.headers.get('x-served-by'), 'legacy');
    assert.equal((await jsonOf<Problem>(res)).error, 'bad_request');
  }
});

test('refuses a body whose Content-Length is over 64 KiB with 413 before reading it', async (t) => {
  const app = await start(t);
  const res = await fetch(`${app.url}/api/feedback`, { method: 'POST', body: 'x'.repeat(64 * 1024 + 1) });
  assert.equal(res.status, 413);
  assert.equal(res.headers.get('x-served-by'), 'legacy');
  assert.equal((await jsonOf<Problem>(res)).error, 'payload_too_large');
});

test('refuses a chunked body that grows past 64 KiB with 413', async (t) => {
  const app = await start(t);
  const { status, body } = await postChunked(`${app.url}/api/feedback`, 1024 * 1024);
  assert.equal(status, 413);
  assert.equal(JSON.parse(body).error, 'payload_too_large');
});

test('answers malformed queries, including a bad escape %zz, with a 400 problem', async (t) => {
  const app = await start(t);
  for (const query of [
    'size=abc',
    'size=%zz',
    'userId=%zz',
    'scene=%E0%A4%A',
    'size=10%',
    'scene=%00',
    'userId=a%0Ab',
  ]) {
    const res = await fetch(`${app.url}/api/recommend?${query}`);
    assert.equal(res.status, 400, query);
    assert.equal(res.headers.get('x-served-by'), 'legacy');
    assert.equal((await jsonOf<Problem>(res)).error, 'bad_request');
  }
});

test('answers unknown routes with 404 and wrong methods with 405, both as JSON', async (t) => {
  const app = await start(t);
  for (const path of [
    '/',
    '/api',
    '/api/recommendx',
    '/api/item/',
    '/api/item/a/b',
    '/%zz',
    '/api/item/%zz',
  ]) {
    const res = await fetch(`${app.url}${path}`);
    assert.equal(res.status, 404, path);
    assert.equal(res.headers.get('x-served-by'), 'legacy');
    assert.equal((await jsonOf<Problem>(res)).error, 'not_found');
  }
  const post = await fetch(`${app.url}/api/recommend`, { method: 'POST', body: '{}' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get('allow'), 'GET, HEAD');
  const get = await fetch(`${app.url}/api/feedback`);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get('allow'), 'POST');
});

test('answers /healthz', async (t) => {
  const app = await start(t);
  const res = await fetch(`${app.url}/healthz`);
  assert.deepEqual(await res.json(), { status: 'ok' });
  assert.equal(app.received.healthz, 1);
});

test('keeps serving after a client aborts in the middle of a body', async (t) => {
  const app = await start(t);
  await new Promise<void>((resolve) => {
    const req = request(`${app.url}/api/feedback`, { method: 'POST', headers: { 'content-length': '1000' } });
    req.on('error', () => resolve());
    req.write('{"userId":"u1",', () => setImmediate(() => req.destroy()));
  });
  const res = await fetch(`${app.url}/healthz`);
  assert.equal(res.status, 200);
  assert.equal(app.received.feedback, 1);
});

test('answers a malformed HTTP request with a 400 that is still marked as legacy', async (t) => {
  const app = await start(t);
  const answer = await rawExchange(app.url, 'GARBAGE\r\n\r\n');
  assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(answer, /\r\nx-served-by: legacy\r\n/);
});
