// Every way a config change reaches a running fnshift reloads it (reliability §3 H3, H4, H5): an in-place
// edit, an editor's rename-replace, a Kubernetes ConfigMap `..data` symlink swap, SIGHUP, POST /reload and
// `fnshift reload`; an invalid or deleted file keeps the last good config, says why, and keeps serving.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, rename, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { getRoute, getRoutes, json, mutate } from '../admin/admin-api.ts';
import { startFixture } from '../helpers/fnshift.ts';
import {
  cliEntry,
  eventually,
  type FnshiftProcess,
  replaceByRename,
  startFnshiftProcess,
  tempDir,
} from '../helpers/process.ts';
import { send } from '../helpers/raw.ts';

const run = promisify(execFile);

async function renderer(t: TestContext, options: { isWatching: boolean }) {
  const legacy = await startFixture(t);
  const fn = await startFixture(t);
  const stateFile = join(await tempDir(t), 'state.json');
  // Polling is off, so only the directory watcher can notice a change.
  return (weight: number | string) => `listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
legacy: { url: ${legacy.url} }
functions: { recommend: { url: ${fn.url} } }
routes:
  - { name: recommend, match: { pathPrefix: /api/recommend }, function: recommend, weight: ${weight} }
state: { file: ${stateFile} }
reload: { watch: ${options.isWatching}, debounceMs: 30, pollIntervalMs: 0 }
`;
}

async function startWatched(t: TestContext, layout?: (render: (w: number) => string) => Promise<string>) {
  const render = await renderer(t, { isWatching: true });
  const dir = await tempDir(t);
  const file = layout ? await layout(render) : join(dir, 'fnshift.yaml');
  if (!layout) await writeFile(file, render(10));
  const proc = await startFnshiftProcess(t, file);
  assert.equal((await getRoute(proc.adminUrl, 'recommend')).weight, 10);
  return { proc, file, render, dir };
}

function weightBecomes(proc: FnshiftProcess, weight: number): Promise<number> {
  return eventually(async () => {
    const route = await getRoute(proc.adminUrl, 'recommend');
    return route.weight === weight ? weight : undefined;
  }, `the weight to become ${weight}`);
}

async function reloadedBy(proc: FnshiftProcess, trigger: string, count: number): Promise<void> {
  await eventually(
    async () =>
      proc.logs.filter((l) => l.msg === 'config reloaded' && l.trigger === trigger).length >= count
        ? true
        : undefined,
    `${count} reload(s) by ${trigger}`,
  );
}

test('reloads on an in-place edit of the config file', async (t) => {
  const { proc, file, render } = await startWatched(t);
  await writeFile(file, render(20));
  await weightBecomes(proc, 20);
  await reloadedBy(proc, 'watch', 1);
});

test('reloads when the config file is replaced by rename, as editors save', async (t) => {
  const { proc, file, render } = await startWatched(t);
  await replaceByRename(file, render(30));
  await weightBecomes(proc, 30);
  // The watch must survive the inode change: a second replacement is seen too.
  await replaceByRename(file, render(31));
  await weightBecomes(proc, 31);
});

test('reloads on a Kubernetes ConfigMap update (an atomic ..data symlink swap)', async (t) => {
  let mountDir = '';
  const { proc, render } = await startWatched(t, async (r) => {
    mountDir = await tempDir(t, 'fnshift-configmap-');
    await mkdir(join(mountDir, '..2026_01_01_00_00_00.1'));
    await writeFile(join(mountDir, '..2026_01_01_00_00_00.1', 'fnshift.yaml'), r(10));
    await symlink('..2026_01_01_00_00_00.1', join(mountDir, '..data'));
    await symlink('..data/fnshift.yaml', join(mountDir, 'fnshift.yaml'));
    return join(mountDir, 'fnshift.yaml');
  });
  // What the kubelet does: a new timestamped dir, a ..data_tmp link to it, renamed over ..data.
  for (const [version, weight] of [
    [2, 40],
    [3, 41],
  ] as const) {
    const next = `..2026_01_01_00_00_00.${version}`;
    await mkdir(join(mountDir, next));
    await writeFile(join(mountDir, next, 'fnshift.yaml'), render(weight));
    await symlink(next, join(mountDir, '..data_tmp'));
    await rename(join(mountDir, '..data_tmp'), join(mountDir, '..data'));
    await weightBecomes(proc, weight);
  }
});

test('keeps serving the last good config when an edit is invalid or the file is deleted, and says why', async (t) => {
  const { proc, file, render } = await startWatched(t);
  for (const [what, text, problem] of [
    ['a weight over 100', render(101), /routes\[0\]\.weight: must be between 0 and 100/],
    ['broken YAML', `${render(20)}\n  - [unclosed`, /YAML/],
    ['an empty file', '', /legacy|routes|functions/],
  ] as const) {
    const before = (await getRoutes(proc.adminUrl)).config.lastError?.at;
    await replaceByRename(file, text);
    const lastError = await eventually(async () => {
      const error = (await getRoutes(proc.adminUrl)).config.lastError;
      return error && error.at !== before ? error : undefined;
    }, `lastError after ${what}`);
    assert.ok(
      lastError.problems.some((p) => problem.test(p)),
      `${what}: ${JSON.stringify(lastError.problems)}`,
    );
    const route = await getRoute(proc.adminUrl, 'recommend');
    assert.equal(route.weight, 10, what);
    const reply = await send(`${proc.dataUrl}/api/recommend/x`);
    assert.equal(reply.status, 200, `data plane after ${what}`);
  }

  await unlink(file);
  const gone = await eventually(async () => {
    const error = (await getRoutes(proc.adminUrl)).config.lastError;
    return error?.problems.some((p) => p.includes('ENOENT')) ? error : undefined;
  }, 'lastError after the file was deleted');
  assert.ok(gone.problems.length > 0);
  assert.equal((await send(`${proc.dataUrl}/api/recommend/x`)).status, 200);

  await writeFile(file, render(25));
  await weightBecomes(proc, 25);
  assert.equal((await getRoutes(proc.adminUrl)).config.lastError, null, 'a good file clears the error');
});

test('reloads on SIGHUP, POST /reload and `fnshift reload` with the watcher off', async (t) => {
  const render = await renderer(t, { isWatching: false });
  const file = join(await tempDir(t), 'fnshift.yaml');
  await writeFile(file, render(10));
  const proc = await startFnshiftProcess(t, file);

  await writeFile(file, render(50));
  proc.child.kill('SIGHUP');
  await weightBecomes(proc, 50);
  await reloadedBy(proc, 'SIGHUP', 1);

  await writeFile(file, render(60));
  const reply = await mutate(proc.adminUrl, 'POST', '/reload');
  assert.equal(reply.status, 200);
  assert.equal(json(reply).result, 'ok');
  assert.equal((await getRoute(proc.adminUrl, 'recommend')).weight, 60, 'applied before the 200');

  await writeFile(file, render(70));
  const cli = await run(process.execPath, [cliEntry, 'reload', '--admin', proc.adminUrl]);
  assert.match(cli.stdout, /config reloaded/);
  assert.equal((await getRoute(proc.adminUrl, 'recommend')).weight, 70);
  const unchanged = await run(process.execPath, [cliEntry, 'reload', '--admin', proc.adminUrl]);
  assert.match(unchanged.stdout, /config unchanged/);

  await writeFile(file, render(101));
  const refused = await mutate(proc.adminUrl, 'POST', '/reload');
  assert.equal(refused.status, 400);
  assert.equal(json(refused).code, 'FNSHIFT_CONFIG_INVALID');
  assert.ok((json(refused).problems as string[]).some((p) => p.includes('routes[0].weight')));
  assert.equal((await getRoute(proc.adminUrl, 'recommend')).weight, 70);
});
