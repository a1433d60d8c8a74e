// The state file read at start: a missing file is a fresh start, and a corrupt one, whatever its bytes,
// gives the config's weights and a warning while its bytes are kept aside, never overwritten.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { emptyState, loadState, type State, writeStateAtomic } from '../../src/rollout/state.ts';
import { tempDir } from '../helpers/process.ts';

const saved: State = {
  version: 1,
  weights: {
    recommend: {
      weightPercent: 25,
      source: 'admin',
      configWeightPercent: 10,
      setAt: '2026-11-28T10:00:00.000Z',
    },
  },
  rollouts: {},
};

test('a missing file is a fresh start, and a written one reads back as it was', async (t) => {
  const file = join(await tempDir(t), 'state.json');
  assert.deepEqual(await loadState(file), { state: emptyState() });
  await writeStateAtomic(file, saved);
  assert.deepEqual(await loadState(file), { state: saved });
});

const corrupt: [string, Buffer | string, RegExp][] = [
  ['binary bytes', Buffer.from([0x00, 0xff, 0xfe, 0x7b, 0x22, 0x0a, 0xc3, 0x28]), /is not JSON/],
  ['an empty file', '', /is not JSON/],
  ['truncated JSON', JSON.stringify(saved).slice(0, 40), /is not JSON/],
  ['a JSON array', '[1,2,3]', /is invalid \(top level: /],
  [
    'a weight out of range',
    JSON.stringify({ ...saved, weights: { recommend: { ...saved.weights.recommend, weightPercent: 500 } } }),
    /is invalid \(weights\.recommend\.weightPercent: /,
  ],
  ['a later version', JSON.stringify({ ...saved, version: 2 }), /is invalid \(version: /],
];

for (const [what, bytes, problem] of corrupt) {
  test(`${what}: the config's weights, a warning, and the bytes kept aside`, async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'state.json');
    await writeFile(file, bytes);
    const { state, warning } = await loadState(file);
    assert.deepEqual(state, emptyState());
    assert.match(warning ?? '', problem);
    assert.match(warning ?? '', /using the config's weights \(moved to .*state\.json\.corrupt-/);
    const names = await readdir(dir);
    assert.ok(!names.includes('state.json'), 'the next write starts a new file');
    const aside = names.filter((n) => n.startsWith('state.json.corrupt-'));
    assert.equal(aside.length, 1);
    assert.ok(warning?.includes(join(dir, aside[0]!)), 'the warning names where the bytes went');
    assert.deepEqual(await readFile(join(dir, aside[0]!)), Buffer.from(bytes));
  });
}

test('two corrupt files in turn are both kept', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'state.json');
  for (const bytes of ['first', 'second']) {
    await writeFile(file, bytes);
    assert.ok((await loadState(file)).warning);
  }
  const aside = (await readdir(dir)).filter((n) => n.startsWith('state.json.corrupt-'));
  assert.equal(aside.length, 2);
  const kept = await Promise.all(aside.map((n) => readFile(join(dir, n), 'utf8')));
  assert.deepEqual(kept.sort(), ['first', 'second']);
});

test('a path that cannot be read is reported and left alone', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'state.json');
  await mkdir(file);
  const { state, warning } = await loadState(file);
  assert.deepEqual(state, emptyState());
  assert.match(warning ?? '', /^cannot read state file .*state\.json: EISDIR/);
  assert.deepEqual(await readdir(dir), ['state.json']);
});
