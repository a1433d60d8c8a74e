// Concurrent weight changes are serialised (reliability §3 I6, I8, J1): every PUT is acknowledged, the
// acknowledgements form one old → new chain, the logs tell the same chain, and what is in force and on
// disk is the last link.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { createApp } from '../../src/app.ts';
import { stateSchema } from '../../src/rollout/state.ts';
import { buildConfig, startFixture } from '../helpers/fnshift.ts';
import { tempDir } from '../helpers/process.ts';
import { getRoute, json, mutate } from './admin-api.ts';

const COUNT = 50;

type Link = { from: number; to: number };

/** Orders links so each one's `from` is the previous one's `to`, starting at `start`; throws if it cannot. */
function chainFrom(start: number, links: Link[]): Link[] {
  const byFrom = new Map<number, Link>();
  for (const link of links) {
    assert.ok(!byFrom.has(link.from), `two changes both started from ${link.from}%: a lost update`);
    byFrom.set(link.from, link);
  }
  const chain: Link[] = [];
  for (let at = start; byFrom.has(at); at = chain.at(-1)!.to) chain.push(byFrom.get(at)!);
  assert.equal(chain.length, links.length, 'the acknowledgements do not form a single chain');
  return chain;
}

test('serialises 50 concurrent weight changes into one chain that the state file and logs agree on', async (t) => {
  const dir = await tempDir(t);
  const stateFile = join(dir, 'state.json');
  const legacy = await startFixture(t);
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const app = createApp(
    buildConfig({
      legacy: { url: legacy.url },
      functions: { recommend: { url: legacy.url } },
      routes: [{ name: 'recommend', match: { pathPrefix: '/api' }, function: 'recommend', weight: 0 }],
    }),
    { logger: pino({ level: 'info' }, stream), stateFile },
  );
  const { admin: adminUrl } = await app.start();
  t.after(() => app.shutdown(1000));

  // Weights 1..50: all distinct and none equal to the config's 0, so every link is identifiable.
  const weights = Array.from({ length: COUNT }, (_, i) => i + 1);
  const replies = await Promise.all(
    weights.map((weight) => mutate(adminUrl, 'PUT', '/routes/recommend/weight', { weight })),
  );
  for (const reply of replies) assert.equal(reply.status, 200, reply.body.toString());

  const acked = replies.map((r) => {
    const body = json(r) as { previousWeight: number; weight: number };
    return { from: body.previousWeight, to: body.weight };
  });
  assert.deepEqual(
    acked.map((l) => l.to),
    weights,
    'each PUT is acknowledged with its own weight',
  );
  const chain = chainFrom(0, acked);
  const lastAcked = chain.at(-1)!.to;

  const route = await getRoute(adminUrl, 'recommend');
  assert.equal(route.weight, lastAcked);
  assert.equal(route.weightSource, 'admin');
  assert.equal(app.store.snapshot.weights.get('recommend')?.weightPercent, lastAcked);

  const onDisk = stateSchema.parse(JSON.parse(await readFile(stateFile, 'utf8')));
  assert.equal(onDisk.weights.recommend?.weightPercent, lastAcked);
  assert.equal(onDisk.weights.recommend?.source, 'admin');

  const logged = lines
    .filter((l) => l.route === 'recommend' && l.by === 'admin')
    .map((l) => ({ from: l.from as number, to: l.to as number }));
  assert.deepEqual(logged, chain, 'the log tells the changes in the order they were applied');
  for (const l of lines.filter((x) => x.route === 'recommend' && x.by === 'admin')) {
    assert.equal(l.msg, `weight recommend: ${l.from}% → ${l.to}%`);
  }
});
