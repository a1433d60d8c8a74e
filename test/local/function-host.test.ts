// The local function host: routing by name, the event and context a handler sees, and every failure mode.
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FunctionEvent } from '../../src/local/event.ts';
import {
  type FunctionContext,
  type FunctionHost,
  type FunctionHostOptions,
  type InvokeMessage,
  startFunctionHost,
} from '../../src/local/function-host.ts';
import { startLegacyApp } from '../../src/local/legacy-app.ts';

const FUNCTIONS_DIR = fileURLToPath(new URL('../../src/local/functions', import.meta.url));

async function start(t: TestContext, options: FunctionHostOptions): Promise<FunctionHost> {
  const host = await startFunctionHost(options);
  t.after(() => host.close());
  return host;
}

async function tempDir(t: TestContext, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fnshift-functions-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

type Echo = {
  event: FunctionEvent;
  context: { functionName: string; requestId: string; deadlineMs: number; remainingMs: number };
};

async function jsonOf<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** A handler that answers with what it was given, so tests can look at the event and context. */
function echo(event: FunctionEvent, context: FunctionContext) {
  const { functionName, requestId, deadlineMs } = context;
  return {
    event,
    context: { functionName, requestId, deadlineMs, remainingMs: context.getRemainingTimeInMillis() },
  };
}

test('lists its functions as JSON at /', async (t) => {
  const host = await start(t, { handlers: { echo, other: () => 'ok' } });
  const res = await fetch(`${host.url}/`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-served-by'), 'function');
  assert.deepEqual(await res.json(), {
    functions: [
      { name: 'echo', path: '/echo', invocations: 0 },
      { name: 'other', path: '/other', invocations: 0 },
    ],
  });
});

test('gives a handler the path after its name as rawPath, and marks the response with its name', async (t) => {
  const host = await start(t, { handlers: { echo } });
  const res = await fetch(`${host.url}/echo/api/recommend?x=1`, { headers: { 'x-user-id': 'u1' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-served-by'), 'function');
  assert.equal(res.headers.get('x-function-name'), 'echo');
  const { event, context } = await jsonOf<Echo>(res);
  assert.equal(event.rawPath, '/api/recommend');
  assert.equal(event.rawQueryString, 'x=1');
  assert.equal(event.headers['x-user-id'], 'u1');
  assert.equal(context.functionName, 'echo');
  assert.equal(context.requestId, event.requestContext.requestId);
  assert.ok(context.deadlineMs > Date.now() && context.remainingMs > 0);
  assert.equal(host.invocations.echo, 1);
});

test('serves a function at its bare name with the root as rawPath', async (t) => {
  const host = await start(t, { handlers: { echo } });
  const { event } = await jsonOf<Echo>(await fetch(`${host.url}/echo`));
  assert.equal(event.rawPath, '/');
});

test('answers 404 for an unknown function or a name that only starts like a known one', async (t) => {
  const host = await start(t, { handlers: { echo } });
  for (const path of ['/nope', '/echox', '/ECHO', '//echo', '/%65cho', '/echo%2Fx']) {
    const res = await fetch(`${host.url}${path}`);
    assert.equal(res.status, 404, path);
    assert.equal(res.headers.get('x-served-by'), 'function');
    assert.equal((await jsonOf<{ code: string }>(res)).code, 'FNSHIFT_NOT_FOUND');
  }
  assert.equal(host.invocations.echo, 0);
});

test('loads every NAME.ts, .js and .mjs of a folder and skips other files', async (t) => {
  const dir = await tempDir(t, {
    'hello.mjs': "export const handler = () => ({ statusCode: 200, body: 'hello' });",
    'async-one.js': "export async function handler() { return { statusCode: 201, body: 'async' }; }",
    'README.md': '# not a function',
    'Upper.mjs': 'export const handler = () => 1;',
    'types.d.ts': 'export {};',
  });
  const host = await start(t, { dir });
  assert.deepEqual(Object.keys(host.invocations), ['async-one', 'hello']);
  assert.equal(await (await fetch(`${host.url}/hello`)).text(), 'hello');
  const asyncRes = await fetch(`${host.url}/async-one`);
  assert.equal(asyncRes.status, 201);
  assert.equal(await asyncRes.text(), 'async');
});

test('refuses to start when a module has no handler, a name is invalid, or a name is taken twice', async (t) => {
  const noHandler = await tempDir(t, { 'broken.mjs': 'export const notAHandler = 1;' });
  await assert.rejects(startFunctionHost({ dir: noHandler }), { code: 'FNSHIFT_CONFIG_INVALID' });
  const throwing = await tempDir(t, { 'boom.mjs': "throw new Error('at import');" });
  await assert.rejects(startFunctionHost({ dir: throwing }), { code: 'FNSHIFT_CONFIG_INVALID' });
  await assert.rejects(startFunctionHost({ handlers: { 'Bad/Name': echo } }), {
    code: 'FNSHIFT_CONFIG_INVALID',
  });
  const twice = await tempDir(t, { 'echo.mjs': 'export const handler = () => 1;' });
  await assert.rejects(startFunctionHost({ dir: twice, handlers: { echo } }), {
    code: 'FNSHIFT_CONFIG_INVALID',
  });
  for (const bad of [{ timeoutMs: 0 }, { timeoutMs: Number.NaN }, { latencyMs: -1 }]) {
    await assert.rejects(startFunctionHost({ handlers: { echo }, ...bad }), {
      code: 'FNSHIFT_CONFIG_INVALID',
    });
  }
});

test('answers a malformed HTTP request with a 400 problem marked as served by a function', async (t) => {
  const host = await start(t, { handlers: { echo } });
  const { hostname, port } = new URL(host.url);
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () =>
      socket.end('GET /echo HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'),
    );
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      text += chunk;
    });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  assert.match(answer, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(answer, /\r\nx-served-by: function\r\n/);
  assert.match(answer, /"code":"FNSHIFT_BAD_REQUEST"/);
  assert.equal(host.invocations.echo, 0);
});

test('answers 502 FNSHIFT_FUNCTION_THREW when a handler throws or rejects, without leaking the error', async (t) => {
  const host = await start(t, {
    handlers: {
      sync: () => {
        throw new Error('secret-token-123');
      },
      async: async () => Promise.reject(new Error('secret-token-456')),
      thrown: () => {
        throw 'a string, not an Error';
      },
    },
  });
  for (const name of ['sync', 'async', 'thrown']) {
    const res = await fetch(`${host.url}/${name}`);
    assert.equal(res.status, 502, name);
    assert.equal(res.headers.get('x-function-name'), name);
    const text = await res.text();
    assert.equal(JSON.parse(text).code, 'FNSHIFT_FUNCTION_THREW');
    assert.doesNotMatch(text, /secret-token/);
  }
});

test('answers 502 FNSHIFT_FUNCTION_BAD_RESULT when a handler returns junk', async (t) => {
  const host = await start(t, {
    handlers: {
      nothing: () => undefined,
      status: () => ({ statusCode: 'teapot', body: 'x' }),
      body: async () => ({ statusCode: 200, body: { not: 'a string' } }),
    },
  });
  for (const name of ['nothing', 'status', 'body']) {
    const res = await fetch(`${host.url}/${name}`);
    assert.equal(res.status, 502, name);
    assert.equal(res.headers.get('x-served-by'), 'function');
    assert.equal((await jsonOf<{ code: string }>(res)).code, 'FNSHIFT_FUNCTION_BAD_RESULT');
  }
});

test('answers 504 FNSHIFT_FUNCTION_TIMEOUT when a handler outlives timeoutMs', async (t) => {
  const host = await start(t, { handlers: { hang: () => new Promise(() => {}) }, timeoutMs: 50 });
  const res = await fetch(`${host.url}/hang`);
  assert.equal(res.status, 504);
  assert.equal((await jsonOf<{ code: string }>(res)).code, 'FNSHIFT_FUNCTION_TIMEOUT');
});

test('refuses a body over 6 MiB with 413 and never invokes the handler', async (t) => {
  const host = await start(t, { handlers: { echo } });
  const res = await fetch(`${host.url}/echo`, { method: 'POST', body: Buffer.alloc(6 * 1024 * 1024 + 1) });
  assert.equal(res.status, 413);
  assert.equal((await jsonOf<{ code: string }>(res)).code, 'FNSHIFT_BODY_TOO_LARGE');
  assert.equal(host.invocations.echo, 0);
});

test('passes a body of exactly 6 MiB', async (t) => {
  const host = await start(t, {
    handlers: { size: (event) => String(Buffer.byteLength(event.body, 'base64')) },
  });
  const body = Buffer.alloc(6 * 1024 * 1024, 1);
  const res = await fetch(`${host.url}/size`, {
    method: 'POST',
    headers: { 'content-type': 'image/png' },
    body,
  });
  assert.equal(await res.text(), String(body.length));
});

test('does not invoke the handler when the client aborts mid-body, and keeps serving', async (t) => {
  const host = await start(t, { handlers: { echo } });
  await new Promise<void>((resolve) => {
    const req = request(`${host.url}/echo`, { method: 'POST', headers: { 'content-length': '1000' } });
    req.on('error', () => resolve());
    req.write('partial', () => setImmediate(() => req.destroy()));
  });
  assert.equal((await fetch(`${host.url}/`)).status, 200);
  assert.equal(host.invocations.echo, 0);
});

test('waits latencyMs before each invocation', async (t) => {
  const host = await start(t, { handlers: { echo }, latencyMs: 40 });
  const startedMs = performance.now();
  await (await fetch(`${host.url}/echo`)).text();
  assert.ok(performance.now() - startedMs >= 39);
});

test('publishes each invocation on fnshift:functions:invoke without its payload', async (t) => {
  const messages: InvokeMessage[] = [];
  const listener = (message: unknown) => messages.push(message as InvokeMessage);
  diagnostics.subscribe('fnshift:functions:invoke', listener);
  t.after(() => diagnostics.unsubscribe('fnshift:functions:invoke', listener));
  const host = await start(t, { handlers: { echo } });
  await (await fetch(`${host.url}/echo`)).text();
  assert.equal(messages.length, 1);
  assert.deepEqual(Object.keys(messages[0]!).sort(), [
    'durationMs',
    'functionName',
    'requestId',
    'statusCode',
  ]);
  assert.equal(messages[0]!.functionName, 'echo');
  assert.equal(messages[0]!.statusCode, 200);
});

test('the legacy app and the demo functions give byte-identical JSON for the same requests', async (t) => {
  const legacy = await startLegacyApp();
  t.after(() => legacy.close());
  const host = await start(t, { dir: FUNCTIONS_DIR });
  const feedback = (body: string, userId?: string): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(userId ? { 'x-user-id': userId } : {}) },
    body,
  });
  const cases: Array<[string, string, RequestInit?]> = [
    ['recommend', '/api/recommend?userId=u1&scene=home&size=10'],
    ['recommend', '/api/recommend?userId=u2&scene=item&size=50'],
    ['recommend', '/api/recommend?scene=cart', { headers: { 'x-user-id': 'from-header' } }],
    ['recommend', '/api/recommend'],
    ['recommend', '/api/recommend?size=10&size=abc&userId=u3'],
    ['recommend', '/api/recommend?size=%zz'],
    ['recommend', '/api/recommend?scene=checkout'],
    ['recommend', '/api/recommend', { method: 'POST', body: '{}' }],
    ['recommend', '/api/nope'],
    ['item', '/api/item/sku-0001'],
    ['item', '/api/item/sku-9999'],
    ['item', '/api/item/%zz'],
    ['item', '/api/item/a/b'],
    ['feedback', '/api/feedback', feedback('{"userId":"u1","itemId":"sku-0002","action":"like"}')],
    ['feedback', '/api/feedback', feedback('{"itemId":"sku-0002","action":"purchase"}', 'u9')],
    ['feedback', '/api/feedback', feedback('{"userId":"u1","itemId":"sku-0002","action":"steal"}')],
    ['feedback', '/api/feedback', feedback('{not json')],
    ['feedback', '/api/feedback', feedback('[]')],
    ['feedback', '/api/feedback', feedback(JSON.stringify({ pad: 'x'.repeat(70_000) }))],
    ['feedback', '/api/feedback'],
  ];
  for (const [name, path, init] of cases) {
    const fromLegacy = await fetch(`${legacy.url}${path}`, init);
    const fromFunction = await fetch(`${host.url}/${name}${path}`, init);
    const label = `${init?.method ?? 'GET'} ${path}`;
    assert.equal(fromFunction.status, fromLegacy.status, label);
    assert.equal(fromFunction.headers.get('content-type'), fromLegacy.headers.get('content-type'), label);
    assert.equal(fromFunction.headers.get('allow'), fromLegacy.headers.get('allow'), label);
    assert.deepEqual(
      Buffer.from(await fromFunction.arrayBuffer()),
      Buffer.from(await fromLegacy.arrayBuffer()),
      label,
    );
    assert.equal(fromLegacy.headers.get('x-served-by'), 'legacy');
    assert.equal(fromFunction.headers.get('x-served-by'), 'function');
  }
  assert.deepEqual(host.invocations, { feedback: 7, item: 4, recommend: 9 });
});
