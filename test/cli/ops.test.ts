// The operator's commands against a running fnshift: status (table and --json), weight, rollout and
// reload print what happened and exit 0; bad input exits 2 before any call; a refusal by the server is
// printed as the server said it and exits 1 (2 for a 400); an unreachable admin API exits 1.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { getRoute, getRoutes } from '../admin/admin-api.ts';
import { refusedUrl, startFixture } from '../helpers/fnshift.ts';
import { cliEntry, tempDir } from '../helpers/process.ts';

type CliResult = { code: number; stdout: string; stderr: string };

/** Runs the CLI without blocking this process's event loop (fnshift runs in it). */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliEntry, ...args],
      { env: { ...process.env, FNSHIFT_ADMIN_URL: '', FNSHIFT_ADMIN_TOKEN: '', ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function setup(t: TestContext, options: { token?: string } = {}) {
  const legacy = await startFixture(t);
  const dir = await tempDir(t);
  const file = join(dir, 'fnshift.yaml');
  const render = (weight: number) => `listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
legacy: { url: ${legacy.url} }
functions: { recommend: { url: ${legacy.url} } }
routes:
  - name: recommend
    match: { pathPrefix: /api/recommend }
    function: recommend
    weight: ${weight}
    rollout: { steps: [5, 50, 100], intervalMs: 600000 }
  - { name: plain, match: { pathPrefix: /api/plain }, function: recommend, weight: 0 }
state: { file: ${join(dir, 'state.json')} }
reload: { watch: false }
`;
  const text = render(10);
  await writeFile(file, text);
  const parsed = parseConfig(text, file);
  if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
  const app = createApp(parsed.config, {
    stateFile: join(dir, 'state.json'),
    configFile: { path: file, text },
    adminToken: options.token,
  });
  const { admin } = await app.start();
  t.after(() => app.shutdown(1000));
  return { admin, file, render };
}

test('status prints the route table, and --json the admin API document', async (t) => {
  const { admin } = await setup(t);
  const table = await cli(['status', '--admin', admin]);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  assert.deepEqual(lines[0]!.split(/\s+/), ['ROUTE', 'FUNCTION', 'WEIGHT', 'SOURCE', 'BREAKER', 'ROLLOUT']);
  assert.deepEqual(lines[1]!.split(/\s+/).slice(0, 5), ['recommend', 'recommend', '10%', 'config', 'closed']);
  assert.deepEqual(lines[2]!.split(/\s+/), ['plain', 'recommend', '0%', 'config', 'closed', '-']);

  const json = await cli(['status', '--json'], { FNSHIFT_ADMIN_URL: admin });
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), await getRoutes(admin));
});

test('status shows the rollout state of a route that has one', async (t) => {
  const { admin } = await setup(t);
  assert.equal((await cli(['rollout', 'start', 'recommend', '--admin', admin])).code, 0);
  const table = await cli(['status', '--admin', admin]);
  assert.match(table.stdout.split('\n')[1]!, /\bprogressing \(step 1\/\d+\)$/);
});

test('weight sets a route weight and prints old → new', async (t) => {
  const { admin } = await setup(t);
  const result = await cli(['weight', 'recommend', '25', '--admin', admin]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, 'recommend: 10% → 25%\n');
  const route = await getRoute(admin, 'recommend');
  assert.deepEqual([route.weight, route.weightSource], [25, 'admin']);
});

test('weight exits 2 on a percent that is not 0–100, without calling the server', async (t) => {
  const { admin } = await setup(t);
  const bad = ['abc', '101', '-1'];
  const results = await Promise.all(
    bad.map((percent) => cli(['weight', 'recommend', percent, '--admin', admin])),
  );
  results.forEach((result, i) => {
    assert.equal(result.code, 2, `weight "${bad[i]}"`);
    assert.match(result.stderr, /PERCENT must be a number from 0 to 100/);
  });
  assert.equal((await getRoute(admin, 'recommend')).weight, 10);
});

test('weight on an unknown route prints the server problem and exits 1', async (t) => {
  const { admin } = await setup(t);
  const result = await cli(['weight', 'nope', '5', '--admin', admin]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /404 FNSHIFT_NOT_FOUND: no route named "nope"/);
});

test('rollout start on a route without a rollout prints the server detail and exits 1', async (t) => {
  const { admin } = await setup(t);
  const refused = await cli(['rollout', 'start', 'plain', '--admin', admin]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /409 FNSHIFT_CONFLICT: route plain declares no rollout in the config/);

  const started = await cli(['rollout', 'start', 'recommend', '--admin', admin]);
  assert.equal(started.code, 0, started.stderr);
  assert.equal(started.stdout, 'recommend: rollout progressing at 5% (step 1)\n');
  const again = await cli(['rollout', 'start', 'recommend', '--admin', admin]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /409 FNSHIFT_CONFLICT: rollout recommend is already progressing/);
  const badAction = await cli(['rollout', 'explode', 'recommend', '--admin', admin]);
  assert.equal(badAction.code, 2);
});

test('reload re-reads the file, and exits 2 listing the problems of an invalid one', async (t) => {
  const { admin, file, render } = await setup(t);
  const unchanged = await cli(['reload', '--admin', admin]);
  assert.equal(unchanged.code, 0, unchanged.stderr);
  assert.equal(unchanged.stdout, 'config unchanged\n');

  await writeFile(file, render(30));
  const reloaded = await cli(['reload', '--admin', admin]);
  assert.equal(reloaded.code, 0, reloaded.stderr);
  assert.equal(reloaded.stdout, 'config reloaded\n');
  assert.equal((await getRoute(admin, 'recommend')).weight, 30);

  await writeFile(file, render(130));
  const invalid = await cli(['reload', '--admin', admin]);
  assert.equal(invalid.code, 2);
  assert.match(invalid.stderr, /400 FNSHIFT_CONFIG_INVALID/);
  assert.match(invalid.stderr, /routes\[0\]\.weight: must be between 0 and 100/);
  assert.equal((await getRoute(admin, 'recommend')).weight, 30);
});

test('sends the token from --token or FNSHIFT_ADMIN_TOKEN, and exits 1 on a 401', async (t) => {
  const { admin } = await setup(t, { token: 'tok-123' });
  const missing = await cli(['weight', 'recommend', '20', '--admin', admin]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /401 FNSHIFT_UNAUTHORIZED/);
  const byFlag = await cli(['weight', 'recommend', '20', '--admin', admin, '--token', 'tok-123']);
  assert.equal(byFlag.code, 0, byFlag.stderr);
  const byEnv = await cli(['weight', 'recommend', '21'], {
    FNSHIFT_ADMIN_URL: admin,
    FNSHIFT_ADMIN_TOKEN: 'tok-123',
  });
  assert.equal(byEnv.code, 0, byEnv.stderr);
  assert.equal((await getRoute(admin, 'recommend')).weight, 21);
});

test('exits 1 with a clear message when the admin API cannot be reached', async () => {
  const url = await refusedUrl();
  const commands = [['status'], ['weight', 'recommend', '5'], ['reload']];
  const [badUrl, ...results] = await Promise.all([
    cli(['status', '--admin', 'not a url']),
    ...commands.map((args) => cli([...args, '--admin', url])),
  ]);
  results.forEach((result, i) => {
    assert.equal(result.code, 1, commands[i]!.join(' '));
    assert.match(result.stderr, new RegExp(`cannot reach the admin API at ${url}`));
  });
  assert.equal(badUrl!.code, 2);
  assert.match(badUrl!.stderr, /--admin: not a URL/);
});
