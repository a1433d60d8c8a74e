// The shipped artefacts, run for real: `npm pack` gives a package whose `fnshift` bin works once the
// tarball is installed elsewhere (compiled JavaScript; Node will not strip types under node_modules),
// and the Dockerfile's own ENTRYPOINT + CMD, read from the file, serve and drain from an image-like
// layout of that same build (no Docker engine here). Packed from a copy of the checkout, so no dist/
// appears in it while other tests run.
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  IMAGE_NODE,
  IMAGE_UID,
  sidecarContainer,
  sidecarPaths,
  sidecarPorts,
} from '../../src/deploy/sidecar.ts';
import { runConfig, runToEnd, startLegacy, startLogging } from './process.ts';

const repo = new URL('../../', import.meta.url).pathname;
const dockerfilePath = join(repo, 'deploy/Dockerfile');

let work: string;
let tarball: string;
let packedFiles: string[];
/** A project that installed the tarball: node_modules holds fnshift and its production dependencies only. */
let project: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'fnshift-package-'));
  const checkout = join(work, 'checkout');
  await mkdir(checkout);
  for (const entry of [
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'tsconfig.build.json',
    'README.md',
  ]) {
    await cp(join(repo, entry), join(checkout, entry)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT' || entry === 'package.json') throw error;
    });
  }
  for (const dir of ['src', 'bin', 'schema'])
    await cp(join(repo, dir), join(checkout, dir), { recursive: true });
  await symlink(join(repo, 'node_modules'), join(checkout, 'node_modules'));
  project = join(work, 'project');
  await mkdir(project);
  // The package's own dependency list, installed while prepack compiles (both take seconds); the
  // tarball's install below then only adds fnshift, and still fails if that list misses anything.
  const { dependencies } = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  await writeFile(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'try-fnshift', version: '1.0.0', private: true, dependencies }, null, 2)}\n`,
  );
  // From the npm cache where it can; the registry only for what the cache lacks.
  const install = (...args: string[]) =>
    runToEnd('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...args], {
      cwd: project,
    });
  const [packed, preinstalled] = await Promise.all([
    // prepack builds dist/ in the copy; --json lists what the tarball holds.
    runToEnd('npm', ['pack', '--json', '--pack-destination', work], { cwd: checkout }),
    install(),
  ]);
  assert.equal(packed.status, 0, `npm pack failed:\n${packed.stderr}\n${packed.stdout}`);
  assert.equal(preinstalled.status, 0, `npm install failed:\n${preinstalled.stderr}`);
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{
    filename: string;
    files: Array<{ path: string }>;
  }>;
  tarball = join(work, info!.filename);
  packedFiles = info!.files.map((f) => f.path);
  const installed = await install(tarball);
  assert.equal(installed.status, 0, `npm install of the tarball failed:\n${installed.stderr}`);
});

after(() => rm(work, { recursive: true, force: true }));

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    })
      .on('error', reject)
      .end();
  });
}

test('the tarball holds the compiled CLI, the bin and the schema, and no sources or tests', () => {
  for (const file of [
    'package.json',
    'bin/fnshift.js',
    'dist/cli/main.js',
    'dist/main.js',
    'schema/fnshift.schema.json',
  ]) {
    assert.ok(packedFiles.includes(file), `${file} is packed`);
  }
  assert.ok(
    packedFiles.includes('dist/local/functions/recommend.js'),
    'the demo’s functions are compiled too',
  );
  const stray = packedFiles.filter(
    (f) => /^(src|test|deploy|bench|loadtest|scripts)\//.test(f) || f.endsWith('.ts'),
  );
  assert.deepEqual(stray, []);
});

test('the installed bin answers --help and validates a config', async (t) => {
  const bin = join(project, 'node_modules/.bin/fnshift');
  const legacy = await startLegacy(t);
  await writeFile(join(project, 'fnshift.yaml'), runConfig(legacy.url, join(project, 'state.json')));
  const [help, validate] = await Promise.all([
    runToEnd(bin, ['--help'], { cwd: project }),
    runToEnd(bin, ['validate', '-c', 'fnshift.yaml'], { cwd: project }),
  ]);
  assert.equal(help.status, 0, help.stderr);
  for (const command of ['run', 'validate', 'inject', 'init', 'weight'])
    assert.match(help.stdout, new RegExp(`\\b${command}\\b`));
  assert.equal(validate.status, 0, validate.stderr);
  assert.match(validate.stdout, /fnshift\.yaml is valid: 1 route/);
});

test('the installed bin runs the proxy, serves through it, and exits 0 on SIGTERM', async (t) => {
  const legacy = await startLegacy(t);
  const dir = await mkdtemp(join(project, 'run-'));
  await writeFile(join(dir, 'fnshift.yaml'), runConfig(legacy.url, join(dir, 'state.json')));
  const fnshift = startLogging(
    t,
    join(project, 'node_modules/.bin/fnshift'),
    ['run', '-c', 'fnshift.yaml'],
    dir,
  );
  const listening = await fnshift.waitForLog('fnshift is listening');
  const answer = await get(`${listening.data}/hello`);
  assert.deepEqual(answer, { status: 200, body: 'legacy /hello' });
  assert.equal((await get(`${listening.admin}/readyz`)).status, 200);
  fnshift.child.kill('SIGTERM');
  assert.equal(await fnshift.exited, 0);
  await fnshift.waitForLog('drained');
});

type Instruction = { name: string; args: string };

/** The Dockerfile's instructions, stage by stage (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): Instruction[][] {
  const stages: Instruction[][] = [];
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const line of lines) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!m || line.trim().startsWith('#')) continue;
    const instruction = { name: m[1]!, args: m[2]!.trim() };
    if (instruction.name === 'FROM') stages.push([]);
    stages.at(-1)?.push(instruction);
  }
  return stages;
}

test('the Dockerfile builds on node:24-slim, ships production dependencies only, and runs as a numeric user', async () => {
  const stages = parseDockerfile(await readFile(dockerfilePath, 'utf8'));
  const runtime = stages.at(-1)!;
  const one = (name: string) => runtime.filter((i) => i.name === name).at(-1)?.args;
  assert.match(stages[0]![0]!.args, /^node:\$\{NODE_VERSION\}-slim AS build$/);
  assert.match(runtime[0]!.args, /^gcr\.io\/distroless\/nodejs24-debian12:nonroot$/);
  assert.equal(one('USER'), `${IMAGE_UID}:${IMAGE_UID}`);
  assert.deepEqual(one('EXPOSE')?.split(/\s+/).map(Number), [
    sidecarPorts.data.port,
    sidecarPorts.probes.port,
  ]);
  const entrypoint = JSON.parse(one('ENTRYPOINT')!) as string[];
  assert.equal(entrypoint[0], IMAGE_NODE, 'node itself is PID 1: no npm, no shell');
  assert.deepEqual(JSON.parse(one('CMD')!), ['run', '-c', sidecarPaths.configFile]);
  const allRuns = stages
    .flat()
    .filter((i) => i.name === 'RUN')
    .map((i) => i.args)
    .join('\n');
  assert.match(allRuns, /npm ci --omit=dev/);
  assert.match(allRuns, /npm run build/);
  assert.match(one('LABEL')!, /org\.opencontainers\.image\.source=/);

  // What the stages copy from the build context must get past .dockerignore's allow-list.
  const allowed = (await readFile(join(repo, '.dockerignore'), 'utf8'))
    .split('\n')
    .filter((l) => l.startsWith('!'))
    .map((l) => l.slice(1).replace(/\/$/, ''));
  const copied = stages
    .flat()
    .filter((i) => i.name === 'COPY' && !i.args.startsWith('--from'))
    .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
  for (const source of copied)
    assert.ok(allowed.includes(source.replace(/\/$/, '')), `${source} is in .dockerignore's allow-list`);
});

test('the image’s exact ENTRYPOINT and CMD serve a request and drain it on SIGTERM', async (t) => {
  const stages = parseDockerfile(await readFile(dockerfilePath, 'utf8'));
  const runtime = stages.at(-1)!;
  const workdir = runtime.filter((i) => i.name === 'WORKDIR').at(-1)!.args;
  const argv = [
    ...(JSON.parse(runtime.find((i) => i.name === 'ENTRYPOINT')!.args) as string[]),
    ...(JSON.parse(runtime.find((i) => i.name === 'CMD')!.args) as string[]),
  ];
  // The image's layout: WORKDIR holds package.json, schema/, dist/ and the production node_modules.
  const root = await mkdtemp(join(work, 'image-'));
  const app = join(root, workdir);
  const installed = join(project, 'node_modules/fnshift');
  await mkdir(app, { recursive: true });
  for (const entry of ['package.json', 'dist', 'schema'])
    await cp(join(installed, entry), join(app, entry), { recursive: true });
  await symlink(join(project, 'node_modules'), join(app, 'node_modules'));
  const legacy = await startLegacy(t);
  await mkdir(join(root, sidecarPaths.configDir), { recursive: true });
  await mkdir(join(root, sidecarPaths.stateDir), { recursive: true });
  await writeFile(
    join(root, sidecarPaths.configFile),
    runConfig(legacy.url, join(root, sidecarPaths.stateFile), '127.0.0.1:0'),
  );

  const [exe, ...args] = argv.map((arg) => {
    if (arg === IMAGE_NODE) return process.execPath;
    return arg.startsWith('/') ? join(root, arg) : arg;
  });
  const fnshift = startLogging(t, exe!, args, app);
  const listening = await fnshift.waitForLog('fnshift is listening');
  assert.equal((await get(`${listening.data}/api/other`)).body, 'legacy /api/other');
  // The sidecar's httpGet probes, as the kubelet sends them, on the probes listener (this test's port).
  const probePath = (sidecarContainer() as { readinessProbe: { httpGet: { path: string } } }).readinessProbe
    .httpGet.path;
  assert.equal(
    (await get(`${listening.probes}${probePath}`)).status,
    200,
    'the probe passes on a ready fnshift',
  );
  // A request still in flight when SIGTERM arrives is answered before the process exits 0.
  const slow = get(`${listening.data}/slow`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  fnshift.child.kill('SIGTERM');
  await fnshift.waitForLog('draining');
  assert.equal((await get(`${listening.probes}${probePath}`)).status, 503, 'and fails while it drains');
  assert.deepEqual(await slow, { status: 200, body: 'legacy /slow' });
  assert.equal(await fnshift.exited, 0);
  const drained = await fnshift.waitForLog('drained');
  assert.equal(drained.isClean, true);
});
