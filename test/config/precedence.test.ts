// Which weight wins after a config reload (reliability §3 J3; the rules are at the top of
// src/config/store.ts): a runtime weight outlives reloads that leave its route's weight alone and yields
// to an edit of that weight; a running rollout keeps the weight whatever the edit.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/load.ts';
import { stateSchema } from '../../src/rollout/state.ts';
import { getRoute, json, mutate } from '../admin/admin-api.ts';
import { startFixture } from '../helpers/fnshift.ts';
import { tempDir } from '../helpers/process.ts';
import {
  feedFunction,
  type RouteInput,
  rolloutConfig,
  settle,
  startHarness,
} from '../rollout/rollout-harness.ts';

type RouteSpec = { weight: number; fallback?: 'safe' | 'never'; hasRollout?: boolean };

async function setup(t: TestContext) {
  const dir = await tempDir(t);
  const legacy = await startFixture(t);
  const file = join(dir, 'fnshift.yaml');
  const stateFile = join(dir, 'state.json');
  const render = (recommend: RouteSpec, item: RouteSpec = { weight: 0 }, extra = '') => {
    const route = (name: string, spec: RouteSpec) =>
      `  - name: ${name}
    match: { pathPrefix: /api/${name} }
    function: fn
    weight: ${spec.weight}
    fallback: ${spec.fallback ?? 'safe'}
${spec.hasRollout ? '    rollout: { steps: [5, 50, 100], intervalMs: 600000 }\n' : ''}`;
    return `listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
legacy: { url: ${legacy.url} }
functions: { fn: { url: ${legacy.url} } }
routes:
${route('recommend', recommend)}${route('item', item)}${extra}state: { file: ${stateFile} }
reload: { watch: false }
`;
  };
  const start = async (recommend: RouteSpec) => {
    const text = render(recommend);
    await writeFile(file, text);
    const parsed = parseConfig(text, file);
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));
    const app = createApp(parsed.config, { stateFile, configFile: { path: file, text } });
    const { admin } = await app.start();
    t.after(() => app.shutdown(1000));
    return admin;
  };
  /** Rewrites the config and reloads it through the admin API. */
  const reload = async (adminUrl: string, recommend: RouteSpec, item?: RouteSpec, extra?: string) => {
    await writeFile(file, render(recommend, item, extra));
    const reply = await mutate(adminUrl, 'POST', '/reload');
    assert.equal(reply.status, 200, reply.body.toString());
    assert.equal(json(reply).result, 'ok');
  };
  const stateOnDisk = async () => stateSchema.parse(JSON.parse(await readFile(stateFile, 'utf8')));
  return { start, reload, stateOnDisk };
}

test('keeps a runtime weight through a reload that leaves that route weight alone', async (t) => {
  const { start, reload, stateOnDisk } = await setup(t);
  const adminUrl = await start({ weight: 10 });
  assert.equal((await mutate(adminUrl, 'PUT', '/routes/recommend/weight', { weight: 42 })).status, 200);

  // Another route's weight, this route's other settings, and a new route all change; this weight does not.
  const extra = `  - { name: feedback, match: { pathPrefix: /api/feedback }, function: fn, weight: 1 }\n`;
  await reload(adminUrl, { weight: 10, fallback: 'never' }, { weight: 7 }, extra);

  const route = await getRoute(adminUrl, 'recommend');
  assert.equal(route.weight, 42);
  assert.equal(route.weightSource, 'admin');
  assert.equal((await getRoute(adminUrl, 'item')).weight, 7);
  assert.equal((await getRoute(adminUrl, 'feedback')).weight, 1);
  assert.equal((await stateOnDisk()).weights.recommend?.weightPercent, 42);
});

test('drops a runtime weight when the config edits that route weight, on disk too', async (t) => {
  const { start, reload, stateOnDisk } = await setup(t);
  const adminUrl = await start({ weight: 10 });
  assert.equal((await mutate(adminUrl, 'PUT', '/routes/recommend/weight', { weight: 42 })).status, 200);
  assert.equal((await mutate(adminUrl, 'PUT', '/routes/item/weight', { weight: 3 })).status, 200);

  await reload(adminUrl, { weight: 20 });

  const route = await getRoute(adminUrl, 'recommend');
  assert.equal(route.weight, 20);
  assert.equal(route.weightSource, 'config');
  assert.equal((await getRoute(adminUrl, 'item')).weight, 3, 'the other route keeps its runtime weight');
  const state = await stateOnDisk();
  assert.equal(state.weights.recommend, undefined);
  assert.equal(state.weights.item?.weightPercent, 3);
});

test('keeps a progressing or paused rollout weight through a reload that edits that route weight', async (t) => {
  const { start, reload } = await setup(t);
  const adminUrl = await start({ weight: 10, hasRollout: true });
  const started = await mutate(adminUrl, 'POST', '/routes/recommend/rollout', { action: 'start' });
  assert.equal(started.status, 200, started.body.toString());

  await reload(adminUrl, { weight: 30, hasRollout: true });
  let route = await getRoute(adminUrl, 'recommend');
  assert.equal(route.weight, 5);
  assert.equal(route.weightSource, 'rollout');
  assert.equal(route.configWeight, 30);
  assert.equal(route.rollout?.status, 'progressing');

  assert.equal(
    (await mutate(adminUrl, 'POST', '/routes/recommend/rollout', { action: 'pause' })).status,
    200,
  );
  await reload(adminUrl, { weight: 40, hasRollout: true });
  route = await getRoute(adminUrl, 'recommend');
  assert.equal(route.weight, 5);
  assert.equal(route.weightSource, 'rollout');
  assert.equal(route.rollout?.status, 'paused');
});

test('lets a config edit replace the weight a finished rollout left behind', async (t) => {
  const { start, reload } = await setup(t);
  const adminUrl = await start({ weight: 10, hasRollout: true });
  assert.equal(
    (await mutate(adminUrl, 'POST', '/routes/recommend/rollout', { action: 'promote' })).status,
    200,
  );
  assert.equal((await getRoute(adminUrl, 'recommend')).weight, 100);

  await reload(adminUrl, { weight: 10, hasRollout: true }, { weight: 1 });
  assert.equal((await getRoute(adminUrl, 'recommend')).weight, 100, 'an unrelated reload keeps it');

  await reload(adminUrl, { weight: 60, hasRollout: true });
  const route = await getRoute(adminUrl, 'recommend');
  assert.equal(route.weight, 60);
  assert.equal(route.weightSource, 'config');
  assert.equal(route.rollout?.status, 'succeeded');
});

test('keeps a finished rollout weight through an unrelated reload after the config weight was edited mid-rollout', async (t) => {
  // Bug: the edit made while the rollout owned the weight was remembered as still pending, so the first
  // unrelated reload after the rollout succeeded dropped the route from 100 % back to the config's weight.
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: Date.parse('2026-03-01T00:00:00Z') });
  const routes = (weight: number, otherWeight: number): RouteInput[] => [
    {
      name: 'recommend',
      match: { pathPrefix: '/api/recommend' },
      function: 'fn',
      weight,
      rollout: { steps: [5, 100], intervalMs: 60_000, minRequests: 20 },
    },
    { name: 'item', match: { pathPrefix: '/api/item' }, function: 'fn', weight: otherWeight },
  ];
  const h = startHarness(t, rolloutConfig(routes(0, 0)));
  const interval = async () => {
    feedFunction('recommend', 50);
    t.mock.timers.tick(60_000);
    await settle(h.store);
  };
  await h.controller.act('recommend', 'start');
  await interval();
  assert.equal(h.store.snapshot.weights.get('recommend')?.weightPercent, 100);

  await h.store.applyConfig(rolloutConfig(routes(30, 0)));
  assert.equal(h.store.snapshot.weights.get('recommend')?.weightPercent, 100, 'the rollout owns the weight');
  await interval();
  assert.equal(h.store.state.rollouts.recommend?.status, 'succeeded');

  await h.store.applyConfig(rolloutConfig(routes(30, 7)));
  assert.deepEqual(h.store.snapshot.weights.get('recommend'), { weightPercent: 100, source: 'rollout' });

  await h.store.applyConfig(rolloutConfig(routes(40, 7)));
  assert.deepEqual(
    h.store.snapshot.weights.get('recommend'),
    { weightPercent: 40, source: 'config' },
    'an edit made after the rollout still wins',
  );
});
