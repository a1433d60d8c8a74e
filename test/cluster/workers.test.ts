// Worker mode (`workers: 2`) as users run it: `fnshift run` forks two data-plane workers on one port.
// Every worker serves, every weight change reaches every worker, one scrape counts all of them, a
// worker that dies is replaced, and SIGTERM drains them all and exits 0.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { startFixture } from '../helpers/fnshift.ts';
import { eventually, type LogLine } from '../helpers/process.ts';
import { send, spawnFnshift } from '../helpers/raw.ts';

async function startWithWorkers(t: TestContext) {
  const legacy = await startFixture(t, (_req, res) => res.writeHead(200).end('legacy'));
  const fn = await startFixture(t, (_req, res) => res.writeHead(200).end('function'));
  const proc = await spawnFnshift(t, {
    workers: 2,
    legacy: { url: legacy.url },
    functions: { recommend: { url: fn.url } },
    routes: [
      { name: 'recommend', match: { pathPrefix: '/api/recommend' }, function: 'recommend', weight: 0 },
    ],
    drain: { timeoutMs: 2000 },
  });
  const workerPids = () => [...new Set(proc.logs.filter(isWorkerListening).map((l) => Number(l.pid)))];
  await eventually(async () => (workerPids().length === 2 ? true : undefined), 'two workers listening');
  return { proc, workerPids };
}

const isWorkerListening = (line: LogLine) => line.msg === 'worker listening';

/** One request per new connection, so SO_REUSEPORT spreads them over the workers. */
async function targets(url: string, count: number): Promise<string[]> {
  const replies = await Promise.all(
    Array.from({ length: count }, (_, i) => send(url, { headers: { 'x-user-id': `u${i}` } })),
  );
  return replies.map((r) => r.body.toString());
}

function requestsTotal(metrics: string): number {
  let sum = 0;
  for (const line of metrics.split('\n')) {
    if (line.startsWith('fnshift_requests_total{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

test('two workers serve one port; weights reach both; one scrape counts both', async (t) => {
  const { proc, workerPids } = await startWithWorkers(t);
  const url = `${proc.dataUrl}/api/recommend`;
  assert.equal(workerPids().length, 2);
  assert.ok(!workerPids().includes(proc.pid), 'the primary itself serves data');

  assert.deepEqual(new Set(await targets(url, 40)), new Set(['legacy']));

  const put = await send(`${proc.adminUrl}/routes/recommend/weight`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ weight: 100 }),
  });
  assert.equal(put.status, 200, put.body.toString());
  // The primary broadcasts the new snapshot; once both workers have it, no connection sees legacy.
  await eventually(
    async () => ((await targets(url, 40)).every((b) => b === 'function') ? true : undefined),
    'weight 100 on every worker',
  );

  const metrics = (await send(`${proc.adminUrl}/metrics`)).body.toString();
  // 40 at weight 0, then at least 40 at weight 100: every one counted, whichever worker served it.
  const total = requestsTotal(metrics);
  assert.ok(total >= 80, `fnshift_requests_total summed to ${total}`);
  assert.match(metrics, /fnshift_route_weight_percent\{route="recommend"\} 100\n/);
});

test('a worker that dies is replaced, and SIGTERM drains every worker and exits 0', async (t) => {
  const { proc, workerPids } = await startWithWorkers(t);
  const [victim] = workerPids();
  process.kill(victim!, 'SIGKILL');
  await proc.waitForLog('worker died: starting another');
  await eventually(
    async () => (workerPids().filter((pid) => pid !== victim).length === 2 ? true : undefined),
    'a replacement worker listening',
  );
  assert.deepEqual(new Set(await targets(`${proc.dataUrl}/api/recommend`, 20)), new Set(['legacy']));

  proc.child.kill('SIGTERM');
  const { code } = await proc.exited;
  assert.equal(code, 0);
  const drained = proc.logs.filter((l) => l.msg === 'worker drained');
  assert.equal(drained.length, 2, 'each live worker drained');
  assert.ok(proc.logs.some((l) => l.msg === 'workers drained' && l.isClean === true));
  for (const pid of workerPids().filter((p) => p !== victim)) {
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} outlived the primary`);
  }
});
