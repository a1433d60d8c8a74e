// Label values stay bounded: whatever paths callers send, series are keyed by route names only.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { test } from 'node:test';
import { createMetrics, type Metrics } from '../../src/telemetry/metrics.ts';
import { type Running, startFixture, startFnshift } from '../helpers/fnshift.ts';
import { parseExposition } from './prometheus-text.ts';

const REQUESTS = 10_000;
const CONCURRENCY = 32;

/** Every label set of fnshift's own series (not the process defaults), as sorted JSON strings. */
function labelSets(text: string): Set<string> {
  const exposition = parseExposition(text);
  const sets = new Set<string>();
  for (const name of exposition.types.keys()) {
    if (!/^(fnshift_|http_)/.test(name)) continue;
    const names = exposition.types.get(name) === 'HISTOGRAM' ? [`${name}_count`] : [name];
    for (const sample of names.flatMap((n) => exposition.series(n))) {
      sets.add(`${name}${JSON.stringify(Object.entries(sample.labels).sort())}`);
    }
  }
  return sets;
}

/** The kinds of path a caller can send: under each route, matching nothing, and refused by the guard. */
function pathFor(i: number, token: string): string {
  switch (i % 5) {
    case 0:
      return `/api/recommend/${token}?user=${token}`;
    case 1:
      return `/api/items/${token}/${i}`;
    case 2:
      return `/${token}/deep/${i}?q=${token}`;
    case 3:
      return `/static/${token}.js`;
    default:
      return `/api/items/${token};jsessionid=${i}`;
  }
}

test('10,000 requests to distinct random paths add no new label values', async (t) => {
  let running: Running | undefined;
  const metrics: Metrics = createMetrics({
    snapshot: () => running!.app.snapshot,
    breakerState: (name) => running!.app.breakers.state(name),
  });
  t.after(() => metrics.stop());
  const legacy = await startFixture(t);
  const fn = await startFixture(t);
  running = await startFnshift(t, {
    legacy: { url: legacy.url },
    functions: { recommend: { url: fn.url } },
    routes: [
      { name: 'recommend', match: { pathPrefix: '/api/recommend' }, function: 'recommend', weight: 100 },
      { name: 'items', match: { pathPrefix: '/api/items' }, function: 'recommend', weight: 0 },
    ],
  });
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  t.after(() => agent.destroy());
  const port = running.port;
  const get = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end();
    });

  for (let i = 0; i < 5; i++) await get(pathFor(i, 'warmup'));
  const before = labelSets(await metrics.render());

  const tokens: string[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < REQUESTS) {
      const i = next++;
      const token = randomBytes(8).toString('hex');
      if (i % 997 === 0) tokens.push(token);
      const status = await get(pathFor(i, token));
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  assert.deepEqual(Object.fromEntries(statuses), { 200: 8000, 400: 2000 });

  const text = await metrics.render();
  assert.deepEqual([...labelSets(text)].sort(), [...before].sort());
  for (const token of tokens) assert.ok(!text.includes(token), `a path token (${token}) reached /metrics`);
  const total = parseExposition(text)
    .series('fnshift_requests_total')
    .reduce((sum, s) => sum + s.value, 0);
  assert.equal(total, REQUESTS + 5);
});
