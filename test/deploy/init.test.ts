// `fnshift init`: a starter fnshift.yaml from flags, with the schema modeline, that `fnshift validate`
// accepts; never over an existing file without --force.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultSchemaRef, starterConfig } from '../../src/cli/commands/init.ts';
import { parseConfig } from '../../src/config/load.ts';
import { sidecarPaths, sidecarPorts } from '../../src/deploy/sidecar.ts';
import { runCli } from './process.ts';

const flags = {
  legacy: 'http://127.0.0.1:3000',
  function: ['recommend=https://recommend.example.fcapp.run', 'item=http://127.0.0.1:9001'],
  route: ['recommend=/api/recommend', 'item=/api/item'],
  schema: 'https://example.test/fnshift.schema.json',
};

test('writes the schema modeline first and a config with every route at weight 0', () => {
  const text = starterConfig(flags);
  assert.equal(
    text.split('\n')[0],
    '# yaml-language-server: $schema=https://example.test/fnshift.schema.json',
  );
  const result = parseConfig(text);
  assert.ok(result.ok, result.ok ? '' : result.problems.join('\n'));
  assert.deepEqual(
    result.config.routes.map((r) => [r.name, r.match.pathPrefix, r.function, r.weight]),
    [
      ['recommend', '/api/recommend', 'recommend', 0],
      ['item', '/api/item', 'item', 0],
    ],
  );
  assert.equal(result.config.admin.listen, '127.0.0.1:9901', 'admin on loopback outside Kubernetes');
  assert.equal(result.config.admin.probesListen, undefined);
});

test('--kubernetes uses the sidecar’s mounts, keeps admin on loopback and puts the probes on the pod IP', () => {
  const result = parseConfig(
    starterConfig({ ...flags, kubernetes: true, stickyHeader: 'x-user-id', weight: '5' }),
  );
  assert.ok(result.ok);
  assert.equal(result.config.admin.listen, `127.0.0.1:${sidecarPorts.admin.port}`);
  assert.equal(result.config.admin.probesListen, `0.0.0.0:${sidecarPorts.probes.port}`);
  assert.equal(result.config.admin.tokenFile, sidecarPaths.tokenFile, 'other containers share loopback');
  assert.equal(result.config.state.file, sidecarPaths.stateFile);
  assert.deepEqual(result.config.routes[0]!.sticky, { header: 'x-user-id' });
  assert.equal(result.config.routes[0]!.weight, 5);
});

test('a route takes the only function there is when the names differ', () => {
  const result = parseConfig(
    starterConfig({ ...flags, function: ['fc=https://fc.example.test'], route: ['feed=/api/feed'] }),
  );
  assert.ok(result.ok);
  assert.equal(result.config.routes[0]!.function, 'fc');
});

test('refuses flags that cannot make a valid config', () => {
  assert.throws(() => starterConfig({ ...flags, route: ['checkout=/api/checkout'] }), {
    exitCode: 2,
    message: /--route checkout: no --function named "checkout" \(have: recommend, item\)/,
  });
  assert.throws(() => starterConfig({ ...flags, function: ['bad'] }), { exitCode: 2, message: /NAME=URL/ });
  assert.throws(() => starterConfig({ ...flags, legacy: 'ftp://x' }), { exitCode: 2, message: /legacy.url/ });
});

test('points the modeline at the installed schema when the project has fnshift in node_modules', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fnshift-init-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  assert.match(
    defaultSchemaRef(join(dir, 'fnshift.yaml')),
    /^https:\/\/unpkg\.com\/fnshift@\d+\.\d+\.\d+\/schema\/fnshift\.schema\.json$/,
  );
  await mkdir(join(dir, 'node_modules/fnshift/schema'), { recursive: true });
  await writeFile(join(dir, 'node_modules/fnshift/schema/fnshift.schema.json'), '{}');
  assert.equal(
    defaultSchemaRef(join(dir, 'fnshift.yaml')),
    './node_modules/fnshift/schema/fnshift.schema.json',
  );
});

test('the written file passes fnshift validate, and is not overwritten without --force', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fnshift-init-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const args = [
    'init',
    '--function',
    'recommend=http://127.0.0.1:9000',
    '--route',
    'recommend=/api/recommend',
  ];
  const first = await runCli(args, { cwd: dir });
  assert.equal(first.status, 0, first.stderr);
  const written = await readFile(join(dir, 'fnshift.yaml'), 'utf8');
  assert.match(written, /^# yaml-language-server: \$schema=/);

  const [validate, again] = await Promise.all([
    runCli(['validate', '-c', 'fnshift.yaml'], { cwd: dir }),
    runCli([...args, '--weight', '50'], { cwd: dir }),
  ]);
  assert.equal(validate.status, 0, validate.stderr);
  assert.match(validate.stdout, /recommend: \/api\/recommend → recommend at 0%/);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /fnshift\.yaml exists; use --force to overwrite it/);
  assert.equal(await readFile(join(dir, 'fnshift.yaml'), 'utf8'), written);

  const forced = await runCli([...args, '--weight', '50', '--force'], { cwd: dir });
  assert.equal(forced.status, 0, forced.stderr);
  assert.match(await readFile(join(dir, 'fnshift.yaml'), 'utf8'), /weight: 50/);
});
