// With a token set, every admin mutation needs `Authorization: Bearer <token>` and anything else is a 401
// that changes nothing; reads need no token (reliability §3 I2). The token comes from the env var named
// by admin.tokenEnv or from admin.tokenFile, never from the YAML.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { readToken } from '../../src/admin/auth.ts';
import { createApp } from '../../src/app.ts';
import type { ConfigInput } from '../../src/config/schema.ts';
import { buildConfig, startFixture } from '../helpers/fnshift.ts';
import { startFnshiftProcess, tempDir } from '../helpers/process.ts';
import { problemCode, send } from '../helpers/raw.ts';
import { getRoute, mutate } from './admin-api.ts';

const TOKEN = 's3cret-token-0123456789';

async function baseConfig(t: TestContext, admin: ConfigInput['admin'] = {}) {
  const legacy = await startFixture(t);
  const fn = await startFixture(t);
  return buildConfig({
    legacy: { url: legacy.url },
    functions: { recommend: { url: fn.url } },
    admin: { listen: '127.0.0.1:0', ...admin },
    routes: [
      {
        name: 'recommend',
        match: { pathPrefix: '/api/recommend' },
        function: 'recommend',
        weight: 10,
        rollout: { steps: [5, 100], intervalMs: 600_000 },
      },
    ],
  });
}

/** fnshift in process, with the token resolved the way `fnshift run` resolves it. */
async function startWithToken(t: TestContext, admin: ConfigInput['admin'], env: NodeJS.ProcessEnv) {
  const config = await baseConfig(t, admin);
  const app = createApp(config, { adminToken: readToken(config.admin, env) });
  const { admin: adminUrl } = await app.start();
  t.after(() => app.shutdown(1000));
  return adminUrl;
}

const wrongCredentials: Array<[string, Record<string, string>]> = [
  ['no Authorization header', {}],
  ['a wrong bearer token', { authorization: 'Bearer not-the-token' }],
  ['the token with a suffix', { authorization: `Bearer ${TOKEN}x` }],
  ['a prefix of the token', { authorization: `Bearer ${TOKEN.slice(0, 10)}` }],
  ['an empty bearer token', { authorization: 'Bearer ' }],
  [
    'the right token as Basic',
    { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` },
  ],
  ['the bare token without a scheme', { authorization: TOKEN }],
];

async function assertRefusesWrongCredentials(adminUrl: string): Promise<void> {
  for (const [what, headers] of wrongCredentials) {
    const reply = await send(`${adminUrl}/routes/recommend/weight`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...headers },
      body: '{"weight":50}',
    });
    assert.equal(reply.status, 401, what);
    assert.equal(problemCode(reply), 'FNSHIFT_UNAUTHORIZED', what);
    assert.match(String(reply.headers['www-authenticate']), /^Bearer\b/, what);
  }
  for (const [method, path, body] of [
    ['DELETE', '/routes/recommend/weight', undefined],
    ['POST', '/routes/recommend/rollout', { action: 'start' }],
    ['POST', '/reload', undefined],
  ] as const) {
    const reply = await mutate(adminUrl, method, path, body, 'not-the-token');
    assert.equal(reply.status, 401, `${method} ${path}`);
    assert.equal(problemCode(reply), 'FNSHIFT_UNAUTHORIZED');
  }
  const route = await getRoute(adminUrl, 'recommend');
  assert.equal(route.weight, 10);
  assert.equal(route.weightSource, 'config');
  assert.equal(route.rollout?.status, 'idle');
}

async function assertAcceptsRightToken(adminUrl: string): Promise<void> {
  const put = await mutate(adminUrl, 'PUT', '/routes/recommend/weight', { weight: 50 }, TOKEN);
  assert.equal(put.status, 200, put.body.toString());
  assert.equal((await getRoute(adminUrl, 'recommend')).weight, 50);
  const del = await mutate(adminUrl, 'DELETE', '/routes/recommend/weight', undefined, TOKEN);
  assert.equal(del.status, 200, del.body.toString());
  assert.equal((await getRoute(adminUrl, 'recommend')).weightSource, 'config');
  const start = await mutate(adminUrl, 'POST', '/routes/recommend/rollout', { action: 'start' }, TOKEN);
  assert.equal(start.status, 200, start.body.toString());
  assert.equal((await getRoute(adminUrl, 'recommend')).weight, 5);
}

async function assertReadsNeedNoToken(adminUrl: string): Promise<void> {
  for (const path of ['/routes', '/livez', '/readyz']) {
    const reply = await send(`${adminUrl}${path}`);
    assert.equal(reply.status, 200, path);
  }
}

test('refuses missing, wrong and Basic credentials with 401 when the token comes from admin.tokenEnv', async (t) => {
  const adminUrl = await startWithToken(t, { tokenEnv: 'MY_ADMIN_TOKEN' }, { MY_ADMIN_TOKEN: TOKEN });
  await assertRefusesWrongCredentials(adminUrl);
  await assertReadsNeedNoToken(adminUrl);
  await assertAcceptsRightToken(adminUrl);
});

test('refuses wrong credentials and accepts the right one when the token comes from admin.tokenFile', async (t) => {
  const dir = await tempDir(t);
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, `${TOKEN}\n`);
  // The file wins over the env var: the env holds a different value that must not work.
  const adminUrl = await startWithToken(t, { tokenFile }, { FNSHIFT_ADMIN_TOKEN: 'env-token' });
  const byEnv = await mutate(adminUrl, 'PUT', '/routes/recommend/weight', { weight: 50 }, 'env-token');
  assert.equal(byEnv.status, 401);
  await assertRefusesWrongCredentials(adminUrl);
  await assertReadsNeedNoToken(adminUrl);
  await assertAcceptsRightToken(adminUrl);
});

test('checks the token before the body, so a wrong token with a bad body is still a 401', async (t) => {
  const adminUrl = await startWithToken(t, {}, { FNSHIFT_ADMIN_TOKEN: TOKEN });
  const reply = await send(`${adminUrl}/routes/recommend/weight`, {
    method: 'PUT',
    headers: { 'content-type': 'text/plain', authorization: 'Bearer nope' },
    body: 'weight=abc',
  });
  assert.equal(reply.status, 401);
  assert.equal(problemCode(reply), 'FNSHIFT_UNAUTHORIZED');
});

test('accepts the bearer scheme in any letter case (RFC 9110 §11.1)', async (t) => {
  const adminUrl = await startWithToken(t, {}, { FNSHIFT_ADMIN_TOKEN: TOKEN });
  const reply = await send(`${adminUrl}/routes/recommend/weight`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `bearer ${TOKEN}` },
    body: '{"weight":20}',
  });
  assert.equal(reply.status, 200);
  assert.equal((await getRoute(adminUrl, 'recommend')).weight, 20);
});

test('refuses to start on an empty admin.tokenFile instead of running unprotected', async (t) => {
  const dir = await tempDir(t);
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, '\n');
  const config = await baseConfig(t, { tokenFile });
  assert.throws(() => readToken(config.admin, {}), { code: 'FNSHIFT_CONFIG_INVALID' });
});

test('fnshift run reads the token from the env var named by admin.tokenEnv', async (t) => {
  const dir = await tempDir(t);
  const legacy = await startFixture(t);
  const file = join(dir, 'fnshift.yaml');
  await writeFile(
    file,
    `listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0, tokenEnv: OPS_TOKEN }
legacy: { url: ${legacy.url} }
functions: { recommend: { url: ${legacy.url} } }
routes: [{ name: recommend, match: { pathPrefix: /api/recommend }, function: recommend, weight: 10 }]
state: { file: ${join(dir, 'state.json')} }
reload: { watch: false }
`,
  );
  const proc = await startFnshiftProcess(t, file, { env: { OPS_TOKEN: TOKEN } });
  const refused = await mutate(proc.adminUrl, 'PUT', '/routes/recommend/weight', { weight: 30 });
  assert.equal(refused.status, 401);
  const accepted = await mutate(proc.adminUrl, 'PUT', '/routes/recommend/weight', { weight: 30 }, TOKEN);
  assert.equal(accepted.status, 200);
  assert.equal((await getRoute(proc.adminUrl, 'recommend')).weight, 30);
  const logged = proc.logs.map((l) => JSON.stringify(l)).join('\n');
  assert.ok(!logged.includes(TOKEN), 'the token must never be logged');
});
