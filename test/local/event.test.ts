// Request → function event and handler result → response, in the shape Lambda URLs and FC 3.0 use.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { eventBody, type FunctionEvent, jsonResult, toEvent, writeResult } from '../../src/local/event.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

async function serve(t: TestContext, handler: Handler): Promise<string> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handler(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Sends a request and returns the event the server built from it. */
async function eventFor(t: TestContext, path: string, init: RequestInit = {}): Promise<FunctionEvent> {
  const url = await serve(t, (req, res, body) => {
    res.end(JSON.stringify(toEvent(req, body, { basePath: '/fn', requestId: 'req-1' })));
  });
  return (await (await fetch(`${url}${path}`, init)).json()) as FunctionEvent;
}

/** Serves `result` through writeResult and returns what a client sees. */
async function responseFor(
  t: TestContext,
  result: unknown,
  fixed?: Record<string, string>,
): Promise<Response> {
  const url = await serve(t, (_req, res) => writeResult(res, result, fixed));
  return fetch(url);
}

test('the event carries the path after the base path and the raw query string', async (t) => {
  const event = await eventFor(t, '/fn/api/recommend?userId=u1&size=10');
  assert.equal(event.version, '2.0');
  assert.equal(event.rawPath, '/api/recommend');
  assert.equal(event.rawQueryString, 'userId=u1&size=10');
  assert.deepEqual(event.queryStringParameters, { userId: 'u1', size: '10' });
  assert.deepEqual(event.queryParameters, event.queryStringParameters);
  assert.equal(event.requestContext.http.method, 'GET');
  assert.equal(event.requestContext.http.path, '/api/recommend');
  assert.equal(event.requestContext.http.protocol, 'HTTP/1.1');
  assert.equal(event.requestContext.http.sourceIp, '127.0.0.1');
  assert.equal(event.requestContext.requestId, 'req-1');
  assert.ok(Math.abs(event.requestContext.timeEpoch - Date.now()) < 5000);
});

test('the bare base path becomes the root path', async (t) => {
  assert.equal((await eventFor(t, '/fn')).rawPath, '/');
  assert.equal((await eventFor(t, '/fn?x=1')).rawPath, '/');
});

test('duplicate query parameters are joined with commas and a bad escape %zz is kept as written', async (t) => {
  const event = await eventFor(t, '/fn/?tag=a&tag=b&bad=%zz&__proto__=x&plus=a+b');
  assert.equal(event.queryStringParameters.tag, 'a,b');
  assert.equal(event.queryStringParameters.bad, '%zz');
  assert.equal(event.queryStringParameters.plus, 'a b');
  assert.equal(Object.getOwnPropertyDescriptor(event.queryStringParameters, '__proto__')?.value, 'x');
});

test('headers are lower-case with duplicates joined by commas, and cookies are listed', async (t) => {
  const url = await serve(t, (req, res, body) => res.end(JSON.stringify(toEvent(req, body))));
  const event = await new Promise<FunctionEvent>((resolve, reject) => {
    const req = request(url, {
      // A flat list keeps the duplicates as separate lines on the wire; Node then adds no Host itself.
      headers: [
        'Host',
        new URL(url).host,
        'X-Trace',
        'a',
        'x-trace',
        'b',
        'Cookie',
        'uid=1; theme=dark',
        'cookie',
        'lang=en',
        'User-Agent',
        'probe/1',
      ],
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () => resolve(JSON.parse(text)));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(event.headers['x-trace'], 'a,b');
  assert.equal(event.headers.cookie, 'uid=1; theme=dark; lang=en');
  assert.deepEqual(event.cookies, ['uid=1', 'theme=dark', 'lang=en']);
  assert.equal(event.requestContext.http.userAgent, 'probe/1');
});

test('a JSON or text body is passed as UTF-8 text', async (t) => {
  const event = await eventFor(t, '/fn/api/feedback', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"note":"héllo ✓"}',
  });
  assert.equal(event.isBase64Encoded, false);
  assert.equal(event.body, '{"note":"héllo ✓"}');
  assert.equal(event.requestContext.http.method, 'POST');
});

test('a binary content type or bytes that are not UTF-8 are passed as base64', async (t) => {
  const bytes = new Uint8Array([0xff, 0x00, 0xc3, 0x28]);
  const binary = await eventFor(t, '/fn', {
    method: 'POST',
    headers: { 'content-type': 'image/png' },
    body: 'png',
  });
  assert.equal(binary.isBase64Encoded, true);
  assert.equal(Buffer.from(binary.body, 'base64').toString(), 'png');
  const invalid = await eventFor(t, '/fn', {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: bytes,
  });
  assert.equal(invalid.isBase64Encoded, true);
  assert.deepEqual(eventBody(invalid), Buffer.from(bytes));
});

test('a request without a body gets an empty text body', async (t) => {
  const event = await eventFor(t, '/fn');
  assert.equal(event.body, '');
  assert.equal(event.isBase64Encoded, false);
  assert.equal(event.cookies, undefined);
});

test('a full result is written with its status, headers, cookies and body', async (t) => {
  const res = await responseFor(t, {
    statusCode: 201,
    headers: { 'content-type': 'text/plain', 'x-count': 3 },
    multiValueHeaders: { 'x-multi': ['a', 'b'] },
    cookies: ['a=1; Path=/', 'b=2'],
    body: 'created',
  });
  assert.equal(res.status, 201);
  assert.equal(res.headers.get('content-type'), 'text/plain');
  assert.equal(res.headers.get('x-count'), '3');
  assert.equal(res.headers.get('x-multi'), 'a, b');
  assert.deepEqual(res.headers.getSetCookie(), ['a=1; Path=/', 'b=2']);
  assert.equal(await res.text(), 'created');
});

test('a base64 result body is decoded to bytes', async (t) => {
  const body = Buffer.from([0, 1, 2, 255]);
  const res = await responseFor(t, {
    statusCode: 200,
    headers: { 'content-type': 'application/octet-stream' },
    body: body.toString('base64'),
    isBase64Encoded: true,
  });
  assert.deepEqual(Buffer.from(await res.arrayBuffer()), body);
});

test('a bare string or object result is a 200 JSON response, as on Lambda', async (t) => {
  const text = await responseFor(t, '{"hello":"world"}');
  assert.equal(text.status, 200);
  assert.equal(text.headers.get('content-type'), 'application/json');
  assert.equal(await text.text(), '{"hello":"world"}');
  const object = await responseFor(t, { hello: 'world', list: [1, 2] });
  assert.equal(object.status, 200);
  assert.deepEqual(await object.json(), { hello: 'world', list: [1, 2] });
  assert.equal(await (await responseFor(t, null)).text(), 'null');
});

test('a result with no content type defaults to JSON, and jsonResult builds one', async (t) => {
  const plain = await responseFor(t, { statusCode: 200, body: '[]' });
  assert.equal(plain.headers.get('content-type'), 'application/json');
  const built = await responseFor(t, jsonResult(404, { error: 'not_found' }));
  assert.equal(built.status, 404);
  assert.equal(built.headers.get('content-type'), 'application/json; charset=utf-8');
  assert.deepEqual(await built.json(), { error: 'not_found' });
});

test('a 204 result is sent without a body', async (t) => {
  const res = await responseFor(t, { statusCode: 204, body: 'ignored' });
  assert.equal(res.status, 204);
  assert.equal(await res.text(), '');
});

test('junk results become a 502 FNSHIFT_FUNCTION_BAD_RESULT problem', async (t) => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  const junk: unknown[] = [
    undefined,
    { statusCode: 'ok' },
    { statusCode: 99 },
    { statusCode: 100 },
    { statusCode: 600 },
    { statusCode: 200.5 },
    { statusCode: 200, body: 42 },
    { statusCode: 200, body: { a: 1 } },
    { statusCode: 200, headers: 'x' },
    { statusCode: 200, headers: { 'x-a': { nested: true } } },
    { statusCode: 200, headers: { 'x-a': 'line\r\nInjected: yes' } },
    { statusCode: 200, headers: { 'bad name': 'x' } },
    { statusCode: 200, multiValueHeaders: { 'x-a': 'not-an-array' } },
    { statusCode: 200, cookies: 'a=1' },
    circular,
    10n,
  ];
  for (const result of junk) {
    const res = await responseFor(t, result, { 'x-served-by': 'function' });
    assert.equal(res.status, 502, String(result));
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.equal(res.headers.get('x-served-by'), 'function');
    const problem = (await res.json()) as { code: string; status: number };
    assert.equal(problem.code, 'FNSHIFT_FUNCTION_BAD_RESULT');
    assert.equal(problem.status, 502);
  }
});

test('framing, hop-by-hop and x-fnshift- headers from a function are dropped, and fixed headers win', async (t) => {
  const res = await responseFor(
    t,
    {
      statusCode: 200,
      headers: {
        'content-length': '999',
        connection: 'upgrade',
        'x-fnshift-target': 'legacy',
        'x-served-by': 'legacy',
        'x-kept': 'yes',
      },
      body: 'ok',
    },
    { 'x-served-by': 'function' },
  );
  assert.equal(await res.text(), 'ok');
  assert.equal(res.headers.get('content-length'), '2');
  assert.equal(res.headers.get('x-fnshift-target'), null);
  assert.equal(res.headers.get('x-served-by'), 'function');
  assert.equal(res.headers.get('x-kept'), 'yes');
});
