// Invalid admin input is refused with a 4xx problem+json carrying a `code`, and changes nothing
// (reliability §3 I3, I4, I5): bad weights, unknown routes and keys, prototype keys, deep nesting,
// non-JSON bodies, oversized bodies, empty bodies, and a wrong method.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { type TestContext, test } from 'node:test';
import { startFixture, startFnshift } from '../helpers/fnshift.ts';
import { problemCode, type Reply, send } from '../helpers/raw.ts';
import { getRoute } from './admin-api.ts';

const CONFIG_WEIGHT = 10;

async function setup(t: TestContext) {
  const legacy = await startFixture(t);
  const fn = await startFixture(t);
  const fnshift = await startFnshift(t, {
    legacy: { url: legacy.url },
    functions: { recommend: { url: fn.url } },
    routes: [
      {
        name: 'recommend',
        match: { pathPrefix: '/api/recommend' },
        function: 'recommend',
        weight: CONFIG_WEIGHT,
        rollout: { steps: [1, 5, 25, 50, 100], intervalMs: 60_000 },
      },
    ],
  });
  return fnshift.adminUrl;
}

async function assertUnchanged(adminUrl: string): Promise<void> {
  const route = await getRoute(adminUrl, 'recommend');
  assert.equal(route.weight, CONFIG_WEIGHT);
  assert.equal(route.weightSource, 'config');
  assert.equal(route.rollout?.status, 'idle');
}

function assertProblem(reply: Reply, status: number, code: string): void {
  assert.equal(reply.status, status, `status ${reply.status}: ${reply.body.toString().slice(0, 300)}`);
  assert.equal(problemCode(reply), code);
}

const json = { 'content-type': 'application/json' };
const weightPath = '/routes/recommend/weight';

type Case = {
  title: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: () => string | Buffer | Readable;
  status: number;
  code: string;
};

const deepUnderCap = `{"weight":${'['.repeat(2000)}${']'.repeat(2000)}}`;
const deepOverCap = `{"weight":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;

const cases: Case[] = [
  { title: 'weight -1', body: () => '{"weight":-1}', status: 400, code: 'FNSHIFT_BAD_REQUEST' },
  { title: 'weight 101', body: () => '{"weight":101}', status: 400, code: 'FNSHIFT_BAD_REQUEST' },
  { title: 'weight "abc"', body: () => '{"weight":"abc"}', status: 400, code: 'FNSHIFT_BAD_REQUEST' },
  { title: 'weight NaN (not JSON)', body: () => '{"weight": NaN}', status: 400, code: 'FNSHIFT_BAD_REQUEST' },
  {
    title: 'weight 1e309 (Infinity once parsed)',
    body: () => '{"weight": 1e309}',
    status: 400,
    code: 'FNSHIFT_BAD_REQUEST',
  },
  {
    title: 'weight 5.001 (finer than 0.01)',
    body: () => '{"weight":5.001}',
    status: 400,
    code: 'FNSHIFT_BAD_REQUEST',
  },
  {
    title: 'an unknown route',
    path: '/routes/nope/weight',
    body: () => '{"weight":5}',
    status: 404,
    code: 'FNSHIFT_NOT_FOUND',
  },
  {
    title: 'a malformed percent-encoded route name',
    path: '/routes/%zz/weight',
    body: () => '{"weight":5}',
    status: 404,
    code: 'FNSHIFT_NOT_FOUND',
  },
  { title: 'weight "5" (a string)', body: () => '{"weight":"5"}', status: 400, code: 'FNSHIFT_BAD_REQUEST' },
  {
    title: 'an extra key',
    body: () => '{"weight":5,"force":true}',
    status: 400,
    code: 'FNSHIFT_BAD_REQUEST',
  },
  {
    title: 'a __proto__ key',
    body: () => '{"__proto__": {"x":1}, "weight": 5}',
    status: 400,
    code: 'FNSHIFT_BAD_REQUEST',
  },
  {
    title: 'a constructor key',
    body: () => '{"constructor": {"prototype": {"x":1}}, "weight": 5}',
    status: 400,
    code: 'FNSHIFT_BAD_REQUEST',
  },
  {
    title: `2,000-deep nesting under the 4 KiB cap (${deepUnderCap.length} bytes)`,
    body: () => deepUnderCap,
    status: 400,
    code: 'FNSHIFT_BAD_REQUEST',
  },
  {
    title: '10,000-deep nesting over the cap with a Content-Length',
    body: () => deepOverCap,
    status: 413,
    code: 'FNSHIFT_BODY_TOO_LARGE',
  },
  {
    title: '10,000-deep nesting over the cap, chunked without a Content-Length',
    body: () => Readable.from([deepOverCap.slice(0, 3000), deepOverCap.slice(3000)]),
    status: 413,
    code: 'FNSHIFT_BODY_TOO_LARGE',
  },
  {
    title: 'a 10 MB body',
    body: () => Buffer.alloc(10 * 1024 * 1024, 0x20),
    status: 413,
    code: 'FNSHIFT_BODY_TOO_LARGE',
  },
  { title: 'an empty body', body: () => '', status: 400, code: 'FNSHIFT_BAD_REQUEST' },
  { title: 'a JSON null body', body: () => 'null', status: 400, code: 'FNSHIFT_BAD_REQUEST' },
  { title: 'a JSON array body', body: () => '[5]', status: 400, code: 'FNSHIFT_BAD_REQUEST' },
  {
    title: 'a text/plain body (a cross-site form can send it)',
    headers: { 'content-type': 'text/plain' },
    body: () => '{"weight":5}',
    status: 415,
    code: 'FNSHIFT_UNSUPPORTED_MEDIA_TYPE',
  },
  {
    title: 'a form-encoded body',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: () => 'weight=5',
    status: 415,
    code: 'FNSHIFT_UNSUPPORTED_MEDIA_TYPE',
  },
  {
    title: 'a body without a content type',
    headers: {},
    body: () => '{"weight":5}',
    status: 415,
    code: 'FNSHIFT_UNSUPPORTED_MEDIA_TYPE',
  },
  {
    title: 'an unknown rollout action',
    path: '/routes/recommend/rollout',
    method: 'POST',
    body: () => '{"action":"explode"}',
    status: 400,
    code: 'FNSHIFT_BAD_REQUEST',
  },
  {
    title: 'a rollout action with an extra key',
    path: '/routes/recommend/rollout',
    method: 'POST',
    body: () => '{"action":"start","weight":100}',
    status: 400,
    code: 'FNSHIFT_BAD_REQUEST',
  },
];

for (const c of cases) {
  test(`refuses ${c.title} with ${c.status} ${c.code} and leaves the weight unchanged`, async (t) => {
    const adminUrl = await setup(t);
    const reply = await send(`${adminUrl}${c.path ?? weightPath}`, {
      method: c.method ?? 'PUT',
      headers: c.headers ?? json,
      body: c.body?.(),
    });
    assertProblem(reply, c.status, c.code);
    const problem = JSON.parse(reply.body.toString()) as { status: number; detail: string };
    assert.equal(problem.status, c.status);
    assert.ok(problem.detail.length > 0);
    await assertUnchanged(adminUrl);
  });
}

test('names the offending key and the range in the problem detail', async (t) => {
  const adminUrl = await setup(t);
  const extra = await send(`${adminUrl}${weightPath}`, {
    method: 'PUT',
    headers: json,
    body: '{"weight":5,"force":true}',
  });
  assert.match(JSON.parse(extra.body.toString()).detail, /unknown key "force"/);
  const range = await send(`${adminUrl}${weightPath}`, {
    method: 'PUT',
    headers: json,
    body: '{"weight":101}',
  });
  assert.match(JSON.parse(range.body.toString()).detail, /from 0 to 100/);
});

for (const [method, path, allow] of [
  ['GET', weightPath, 'PUT, DELETE'],
  ['POST', weightPath, 'PUT, DELETE'],
  ['GET', '/routes/recommend/rollout', 'POST'],
  ['PUT', '/routes/recommend/rollout', 'POST'],
  ['GET', '/reload', 'POST'],
  ['POST', '/routes', 'GET'],
] as const) {
  test(`answers ${method} ${path} with 405, Allow: ${allow}, and no change`, async (t) => {
    const adminUrl = await setup(t);
    const reply = await send(`${adminUrl}${path}`, {
      method,
      headers: json,
      body: method === 'GET' ? undefined : '{"weight":50,"action":"start"}',
    });
    assertProblem(reply, 405, 'FNSHIFT_METHOD_NOT_ALLOWED');
    assert.equal(reply.headers.allow, allow);
    await assertUnchanged(adminUrl);
  });
}

test('refuses a bodiless mutation without a JSON content type (a cross-site POST can send one) and changes nothing', async (t) => {
  const adminUrl = await setup(t);
  const set = await send(`${adminUrl}${weightPath}`, { method: 'PUT', headers: json, body: '{"weight":5}' });
  assert.equal(set.status, 200);
  for (const headers of [{}, { 'content-type': 'text/plain' }] as Record<string, string>[]) {
    assertProblem(
      await send(`${adminUrl}${weightPath}`, { method: 'DELETE', headers }),
      415,
      'FNSHIFT_UNSUPPORTED_MEDIA_TYPE',
    );
    assertProblem(
      await send(`${adminUrl}/reload`, { method: 'POST', headers }),
      415,
      'FNSHIFT_UNSUPPORTED_MEDIA_TYPE',
    );
  }
  const route = await getRoute(adminUrl, 'recommend');
  assert.equal(route.weight, 5);
  assert.equal(route.weightSource, 'admin');
  // With the type they reach their handlers: this process has no config file to reload (409).
  assertProblem(await send(`${adminUrl}/reload`, { method: 'POST', headers: json }), 409, 'FNSHIFT_CONFLICT');
  const cleared = await send(`${adminUrl}${weightPath}`, { method: 'DELETE', headers: json });
  assert.equal(cleared.status, 200);
  await assertUnchanged(adminUrl);
});

test('accepts a valid PUT on the same instance, so the refusals above are not a broken endpoint', async (t) => {
  const adminUrl = await setup(t);
  const reply = await send(`${adminUrl}${weightPath}`, {
    method: 'PUT',
    headers: json,
    body: '{"weight":5}',
  });
  assert.equal(reply.status, 200);
  const route = await getRoute(adminUrl, 'recommend');
  assert.equal(route.weight, 5);
  assert.equal(route.weightSource, 'admin');
});
