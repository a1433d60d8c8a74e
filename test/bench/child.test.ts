// The bench's wait for a child's IPC message, against a real forked script: the message it takes, the
// ones it leaves, a message it refuses, the child exiting first, and silence past the deadline.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { awaitMessage, type BenchChild, forkScript, waitForReadyMessage } from '../../bench/child.ts';
import { BenchError } from '../../bench/errors.ts';

// Answers each message from the parent with what it asks for: a list of messages, or an exit.
const SCRIPT = `
process.on('message', (ask) => {
  if (ask.exit !== undefined) process.exit(ask.exit);
  for (const message of ask.send) process.send(message);
});
process.send({ event: 'ready' });
`;

function startChild(t: TestContext): BenchChild {
  const dir = mkdtempSync(join(tmpdir(), 'fnshift-bench-child-'));
  const script = join(dir, 'child.mjs');
  writeFileSync(script, SCRIPT);
  const child = forkScript('test child', script);
  t.after(async () => {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return child;
}

const timedOut = () => new BenchError('FNSHIFT_BENCH_ROUND_TIMEOUT', 'nothing came');

/** Takes `{ id: 7, value }` and refuses `{ id: 7, refused: true }`; anything else is someone else's. */
function acceptSeven(message: unknown): string | undefined {
  const m = message as { id?: unknown; value?: unknown; refused?: unknown } | null;
  if (typeof m !== 'object' || m === null || m.id !== 7) return undefined;
  if (m.refused === true) throw new BenchError('FNSHIFT_BENCH_LOAD_FAILED', 'refused');
  return String(m.value);
}

test('awaitMessage resolves with the first message it takes and leaves the others', async (t) => {
  const child = startChild(t);
  await waitForReadyMessage(child, 10_000);
  const answer = awaitMessage(child, acceptSeven, 10_000, timedOut);
  child.process.send({ send: [null, 'garbage', { id: 6, value: 'not mine' }, { id: 7, value: 'mine' }] });
  assert.equal(await answer, 'mine');
  assert.equal(child.process.listenerCount('message'), 0, 'its listener is gone');
  assert.equal(child.process.listenerCount('exit'), 1, "only the bench's own exit tracking is left");
});

test('awaitMessage rejects with what the accept function throws', async (t) => {
  const child = startChild(t);
  await waitForReadyMessage(child, 10_000);
  const answer = awaitMessage(child, acceptSeven, 10_000, timedOut);
  child.process.send({ send: [{ id: 7, refused: true }] });
  await assert.rejects(answer, { code: 'FNSHIFT_BENCH_LOAD_FAILED', message: 'refused' });
});

test('awaitMessage rejects when the child exits first', async (t) => {
  const child = startChild(t);
  await waitForReadyMessage(child, 10_000);
  const answer = awaitMessage(child, acceptSeven, 10_000, timedOut);
  child.process.send({ exit: 3 });
  await assert.rejects(answer, (error: Error & { code?: string }) => {
    assert.match(error.message, /test child/);
    assert.match(error.message, /3/);
    return true;
  });
});

test('awaitMessage rejects with timedOut() when nothing it takes comes in time', async (t) => {
  const child = startChild(t);
  await waitForReadyMessage(child, 10_000);
  const answer = awaitMessage(child, acceptSeven, 200, timedOut);
  child.process.send({ send: [{ id: 6, value: 'not mine' }] });
  await assert.rejects(answer, { code: 'FNSHIFT_BENCH_ROUND_TIMEOUT', message: 'nothing came' });
  assert.equal(child.process.listenerCount('message'), 0);
});
