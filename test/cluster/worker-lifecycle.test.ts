// Worker mode across a worker's life: a slow start (a preload), a crash and its replacement. Each test
// runs `fnshift run` with `workers: 2` as a real process tree on 127.0.0.1 port 0. All three were bugs
// found in review: a first snapshot lost before the worker listened, reloaded limits in a replacement,
// and summed counters dropping when a worker died.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { startFixture } from '../helpers/fnshift.ts';
import {
  eventually,
  type FnshiftProcess,
  type LogLine,
  startFnshiftProcess,
  tempDir,
} from '../helpers/process.ts';
import { send } from '../helpers/raw.ts';

async function setup(t: TestContext, extra: Record<string, unknown> = {}) {
  const legacy = await startFixture(t, (_req, res) => res.writeHead(200).end('legacy'));
  const fn = await startFixture(t, (_req, res) => res.writeHead(200).end('function'));
  const dir = await tempDir(t);
  const file = join(dir, 'fnshift.json');
  const render = (more: Record<string, unknown> = {}) =>
    JSON.stringify({
      listen: '127.0.0.1:0',
      admin: { listen: '127.0.0.1:0' },
      workers: 2,
      legacy: { url: legacy.url },
      functions: { recommend: { url: fn.url } },
      routes: [
        { name: 'recommend', match: { pathPrefix: '/api/recommend' }, function: 'recommend', weight: 0 },
      ],
      state: { file: join(dir, 'state.json') },
      reload: { watch: false, pollIntervalMs: 0 },
      drain: { timeoutMs: 2000 },
      ...extra,
      ...more,
    });
  await writeFile(file, render());
  return { file, render };
}

const isWorkerListening = (line: LogLine) => line.msg === 'worker listening';
const workerPids = (proc: FnshiftProcess) => [
  ...new Set(proc.logs.filter(isWorkerListening).map((l) => Number(l.pid))),
];

async function bothListening(proc: FnshiftProcess): Promise<number[]> {
  await eventually(async () => (workerPids(proc).length >= 2 ? true : undefined), 'two workers listening');
  return workerPids(proc);
}

function requestsTotal(metrics: string): number {
  let sum = 0;
  for (const line of metrics.split('\n')) {
    if (line.startsWith('fnshift_requests_total{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

test('a worker whose preload yields once still gets its first snapshot and listens', async (t) => {
  const { file } = await setup(t);
  // A preload (NODE_OPTIONS=--import, as OTel auto-instrumentation injects) that yields one event-loop
  // turn in the workers only: the primary's snapshot, sent on "online", then arrives before fnshift's
  // code has attached its IPC listener, and Node drops a message nobody listens for.
  const preload = join(await tempDir(t), 'slow-worker.mjs');
  await writeFile(
    preload,
    "if (process.env.FNSHIFT_WORKER === '1') await new Promise((r) => setImmediate(r));\n",
  );
  const proc = await startFnshiftProcess(t, file, {
    env: { NODE_OPTIONS: `--import=${preload}` },
    startTimeoutMs: 10_000,
  });
  await bothListening(proc);
  const reply = await send(`${proc.dataUrl}/api/recommend`);
  assert.equal(reply.body.toString(), 'legacy');
});

test('a replacement worker keeps the limits in force (a limits reload needs a restart)', async (t) => {
  const { file, render } = await setup(t);
  const proc = await startFnshiftProcess(t, file);
  const [victim] = await bothListening(proc);

  // The reload is applied, with the warning that `limits` take effect only after a restart.
  await writeFile(file, render({ limits: { maxHeaderBytes: 1024 } }));
  const reload = await send(`${proc.adminUrl}/reload`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(reload.status, 200, reload.body.toString());
  await proc.waitForLog((l) => l.msg === 'these settings changed but take effect only after a restart');

  process.kill(victim!, 'SIGKILL');
  await eventually(
    async () => (workerPids(proc).filter((p) => p !== victim).length >= 2 ? true : undefined),
    'a replacement worker listening',
  );
  // A 4 KiB header was fine before the reload and must stay fine, whichever worker takes the connection.
  const header = 'x'.repeat(4096);
  const replies = await Promise.all(
    Array.from({ length: 40 }, () => send(`${proc.dataUrl}/api/recommend`, { headers: { 'x-big': header } })),
  );
  const statuses = replies.map((r) => r.status);
  assert.deepEqual(
    [...new Set(statuses)],
    [200],
    `statuses seen: ${JSON.stringify(Object.groupBy(statuses, (s) => s))}`,
  );
});

test('fnshift_requests_total never goes down when a worker is replaced', async (t) => {
  const { file } = await setup(t);
  const proc = await startFnshiftProcess(t, file);
  const [victim] = await bothListening(proc);
  await Promise.all(Array.from({ length: 40 }, () => send(`${proc.dataUrl}/api/recommend`)));
  const before = requestsTotal((await send(`${proc.adminUrl}/metrics`)).body.toString());
  assert.ok(before >= 40, `before: ${before}`);

  process.kill(victim!, 'SIGKILL');
  await proc.waitForLog((l) => l.msg === 'worker died: starting another');
  await eventually(
    async () => (workerPids(proc).filter((p) => p !== victim).length >= 2 ? true : undefined),
    'a replacement worker listening',
  );
  const after = requestsTotal((await send(`${proc.adminUrl}/metrics`)).body.toString());
  // A counter that decreases reads as a reset to Prometheus: rate() then counts the whole sum again.
  assert.ok(after >= before, `fnshift_requests_total went from ${before} to ${after}`);
});
