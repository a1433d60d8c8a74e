// The sampled access log: one JSON line per sampled request, without query strings or headers.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { startAccessLog } from '../../src/telemetry/access-log.ts';
import { createLogger } from '../../src/telemetry/log.ts';
import { startFixture, startFnshift } from '../helpers/fnshift.ts';
import { send } from '../helpers/raw.ts';

function captureLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    level: 'info',
    destination: { write: (text: string) => void lines.push(JSON.parse(text) as Record<string, unknown>) },
  });
  return { logger, lines };
}

async function setup(t: TestContext, sampleRatio: number, random?: () => number) {
  const { logger, lines } = captureLogger();
  t.after(startAccessLog({ logger, sampleRatio, random }));
  const legacy = await startFixture(t);
  const fnshift = await startFnshift(t, {
    legacy: { url: legacy.url },
    functions: { recommend: { url: legacy.url } },
    routes: [
      { name: 'recommend', match: { pathPrefix: '/api/recommend' }, function: 'recommend', weight: 100 },
    ],
  });
  return { url: fnshift.url, lines };
}

test('writes one line per request with route, target, decision and status, without the query', async (t) => {
  const { url, lines } = await setup(t, 1);
  await send(`${url}/api/recommend/42?token=hunter2`, {
    headers: { authorization: 'Bearer hunter2', cookie: 'session=hunter2' },
  });
  await send(`${url}/nowhere`);
  assert.equal(lines.length, 2);
  const [first, second] = lines;
  assert.deepEqual(
    {
      log: first!.log,
      msg: first!.msg,
      method: first!.method,
      path: first!.path,
      route: first!.route,
      target: first!.target,
      decision: first!.decision,
      fallback: first!.fallback,
      status: first!.status,
    },
    {
      log: 'access',
      msg: 'request',
      method: 'GET',
      path: '/api/recommend/42',
      route: 'recommend',
      target: 'function',
      decision: 'weight',
      fallback: null,
      status: 200,
    },
  );
  assert.equal(typeof first!.durationMs, 'number');
  assert.equal(second!.route, null);
  assert.equal(second!.decision, 'unmatched');
  assert.ok(!JSON.stringify(lines).includes('hunter2'), 'a secret reached the access log');
});

test('logs only the sampled share of requests', async (t) => {
  const draws = [0.1, 0.9, 0.2, 0.6, 0.05];
  const { url, lines } = await setup(t, 0.25, () => draws.shift() ?? 1);
  for (let i = 0; i < 5; i++) await send(`${url}/api/recommend/${i}`);
  assert.deepEqual(
    lines.map((l) => l.path),
    ['/api/recommend/0', '/api/recommend/2', '/api/recommend/4'],
  );
});

test('logs nothing at a sample ratio of 0', async (t) => {
  const { url, lines } = await setup(t, 0);
  await send(`${url}/api/recommend/1`);
  assert.equal(lines.length, 0);
});
