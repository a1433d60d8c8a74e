// Runtime state survives kill -9 (reliability §3 J1, J2): an acknowledged weight is on disk before the
// 200, a kill during a write leaves the old or the new state and never a torn or empty file, and a
// corrupt state file at start is moved aside and ignored loudly in favour of the config's weights.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type TestContext, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { State } from '../../src/rollout/state.ts';
import { getRoute, mutate } from '../admin/admin-api.ts';
import { startFixture } from '../helpers/fnshift.ts';
import { repoRoot, startFnshiftProcess, tempDir } from '../helpers/process.ts';
import { send } from '../helpers/raw.ts';

async function writeConfig(t: TestContext, dir: string): Promise<string> {
  const legacy = await startFixture(t);
  const fn = await startFixture(t);
  const file = join(dir, 'fnshift.yaml');
  await writeFile(
    file,
    `listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
legacy: { url: ${legacy.url} }
functions: { recommend: { url: ${fn.url} } }
routes:
  - { name: recommend, match: { pathPrefix: /api/recommend }, function: recommend, weight: 10 }
  - { name: item, match: { pathPrefix: /api/item }, function: recommend, weight: 0 }
state: { file: ${join(dir, 'state.json')} }
reload: { watch: false }
`,
  );
  return file;
}

test('keeps a weight acknowledged just before kill -9 across the restart', async (t) => {
  const dir = await tempDir(t);
  const file = await writeConfig(t, dir);
  const first = await startFnshiftProcess(t, file);
  const reply = await mutate(first.adminUrl, 'PUT', '/routes/recommend/weight', { weight: 42 });
  first.child.kill('SIGKILL');
  assert.equal(reply.status, 200);
  assert.equal((await first.exited).signal, 'SIGKILL');

  const second = await startFnshiftProcess(t, file);
  const route = await getRoute(second.adminUrl, 'recommend');
  assert.equal(route.weight, 42);
  assert.equal(route.weightSource, 'admin');
  assert.equal(route.configWeight, 10);
  assert.equal((await getRoute(second.adminUrl, 'item')).weightSource, 'config');
});

const stateA: State = {
  version: 1,
  weights: {
    recommend: {
      weightPercent: 1,
      source: 'admin',
      configWeightPercent: 0,
      setAt: '2026-01-01T00:00:00.000Z',
    },
  },
  rollouts: {},
};
// B is much larger than A, so a torn write of either would show as a mix or a truncation.
const stateB: State = {
  version: 1,
  weights: Object.fromEntries(
    Array.from({ length: 200 }, (_, i) => [
      `route-${i}`,
      { weightPercent: 99, source: 'rollout', configWeightPercent: 5, setAt: '2026-02-02T00:00:00.000Z' },
    ]),
  ),
  rollouts: {},
};

/** A child that rewrites the state file with A and B in turn as fast as it can, printing each write. */
async function writerScript(dir: string): Promise<string> {
  const script = join(dir, 'writer.mjs');
  const stateModule = pathToFileURL(join(repoRoot, 'src/rollout/state.ts')).href;
  await writeFile(
    script,
    `import { writeStateAtomic } from ${JSON.stringify(stateModule)};
const [file, a, b] = process.argv.slice(2);
const states = [JSON.parse(a), JSON.parse(b)];
for (let n = 0; ; n++) {
  await writeStateAtomic(file, states[n % 2]);
  process.stdout.write(n + '\\n');
}
`,
  );
  return script;
}

test('leaves state A or state B, never a torn or missing file, when kill -9 lands during writes', async (t) => {
  const dir = await tempDir(t);
  const stateDir = await tempDir(t);
  const script = await writerScript(dir);
  const file = join(stateDir, 'state.json');
  const seen = { A: 0, B: 0 };
  for (let kill = 0; kill < 30; kill++) {
    const child = spawn(process.execPath, [script, file, JSON.stringify(stateA), JSON.stringify(stateB)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit');
    t.after(() => child.kill('SIGKILL'));
    // Kill after a random number of completed writes plus a random fraction of the next one.
    const writesBeforeKill = 1 + Math.floor(Math.random() * 4);
    const lines = createInterface({ input: child.stdout! });
    for await (const line of lines) {
      if (Number(line) + 1 >= writesBeforeKill) break;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 4));
    child.kill('SIGKILL');
    const [, signal] = await exited;
    assert.equal(signal, 'SIGKILL', 'the writer must have been killed, not have finished');

    const text = await readFile(file, 'utf8');
    const state = JSON.parse(text) as State;
    if (JSON.stringify(state) === JSON.stringify(stateA)) seen.A++;
    else if (JSON.stringify(state) === JSON.stringify(stateB)) seen.B++;
    else assert.fail(`kill ${kill}: the state file is neither A nor B (${text.length} bytes)`);
    for (const name of await readdir(stateDir)) {
      assert.ok(
        name === 'state.json' || /^\.state\.json\.\d+\.[0-9a-f]{8}\.tmp$/.test(name),
        `unexpected file ${name}`,
      );
    }
  }
  assert.ok(seen.A > 0 && seen.B > 0, `kills should land on both states, saw ${JSON.stringify(seen)}`);
});

for (const [what, corrupt] of [
  ['truncated JSON', '{"version":1,"weights":{"recommend":{"weightPer'],
  ['an empty file', ''],
  [
    'JSON that breaks the schema',
    JSON.stringify({
      version: 1,
      weights: { recommend: { weightPercent: 500, source: 'admin' } },
      rollouts: {},
    }),
  ],
] as const) {
  test(`starts on the config's weights and logs STATE IGNORED when the state file is ${what}`, async (t) => {
    const dir = await tempDir(t);
    const file = await writeConfig(t, dir);
    await writeFile(join(dir, 'state.json'), corrupt);
    const proc = await startFnshiftProcess(t, file);
    const warning = await proc.waitForLog((l) => String(l.msg).includes('STATE IGNORED'), 2000);
    assert.equal(warning.level, 40, 'logged as a warning');
    // Nothing is lost: the corrupt bytes are kept aside, where the next admin change cannot overwrite them.
    const aside = (await readdir(dir)).filter((name) => name.startsWith('state.json.corrupt-'));
    assert.equal(aside.length, 1);
    assert.match(String(warning.msg), new RegExp(`moved to .*${aside[0]}`));
    assert.equal(await readFile(join(dir, aside[0]!), 'utf8'), corrupt);
    const route = await getRoute(proc.adminUrl, 'recommend');
    assert.equal(route.weight, 10);
    assert.equal(route.weightSource, 'config');
    const reply = await send(`${proc.dataUrl}/api/recommend/x`);
    assert.equal(reply.status, 200);
  });
}
