// The stall probe: the gap arithmetic, a planted stall on a fake clock, real busy-loop threads and bad input.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { LoadtestError } from '../../loadtest/errors.ts';
import {
  describeStalls,
  type MachineStalls,
  measureGaps,
  probeStalls,
  STALL_THRESHOLD_MS,
  summarizeGaps,
} from '../../loadtest/stalls.ts';

const isStallProbeError = (error: unknown) =>
  error instanceof LoadtestError && error.code === 'FNSHIFT_LOADTEST_STALL_PROBE';

/** The process's OS threads now (Linux): a worker left running is one more. */
function threadCount(): number {
  return Number(/^Threads:\s+(\d+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
}

/** Steps of 1/32 ms (below the threshold, exact in binary), with planted jumps: call index → ms added. */
function fakeClock(jumpsMs: ReadonlyMap<number, number>): () => number {
  let calls = 0;
  let nowMs = 1000;
  return () => {
    nowMs += jumpsMs.get(calls) ?? 1 / 32;
    calls++;
    return nowMs;
  };
}

test('summarizeGaps counts stalls at and above the 1 ms and 4 ms marks, and ignores gaps under the threshold', () => {
  assert.equal(STALL_THRESHOLD_MS, 0.05);
  const gapsMs = [0.049, 0.05, 0.5, 0.999, 1, 3.999, 4, 11.4];
  assert.deepEqual(summarizeGaps(gapsMs, 1000), {
    // (0.05 + 0.5 + 0.999 + 1 + 3.999 + 4 + 11.4) ÷ 1000 ms = 2.1948%
    lostPercent: 2.19,
    stallsPerS: { atLeast1Ms: 4, atLeast4Ms: 2 },
    longestMs: 11.4,
  });
  assert.deepEqual(summarizeGaps([2, 5, 9], 200), {
    lostPercent: 8,
    stallsPerS: { atLeast1Ms: 15, atLeast4Ms: 10 },
    longestMs: 9,
  });
});

test('summarizeGaps gives zeros for no stalls and refuses a wall time that is not above zero', () => {
  const zeros = { lostPercent: 0, stallsPerS: { atLeast1Ms: 0, atLeast4Ms: 0 }, longestMs: 0 };
  assert.deepEqual(summarizeGaps([], 1000), zeros);
  assert.deepEqual(summarizeGaps([0.01, 0.049], 1000), zeros);
  for (const wallMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => summarizeGaps([1], wallMs), isStallProbeError, String(wallMs));
  }
});

test('measureGaps counts a planted 5 ms jump of the clock, and a 1/16 ms one, but not the loop’s own steps', () => {
  const { gapsMs, wallMs } = measureGaps(
    20,
    fakeClock(
      new Map([
        [10, 5],
        [50, 1 / 16],
      ]),
    ),
  );
  assert.deepEqual(gapsMs, [5, 1 / 16]);
  // It stops at the first read at or past 20 ms: 5 + 1/16 ms of jumps, the rest in 1/32 ms steps.
  assert.equal(wallMs, 20);
  assert.deepEqual(summarizeGaps(gapsMs, wallMs), {
    lostPercent: 25.31,
    stallsPerS: { atLeast1Ms: 50, atLeast4Ms: 50 },
    longestMs: 5,
  });
});

test('probeStalls busy-loops one thread per core asked for, gives sane figures and leaves no thread running', {
  skip: process.platform !== 'linux',
  timeout: 15_000,
}, async () => {
  // The libuv pool starts on first use; start it now so that it does not count as a leftover thread.
  await readFile(new URL(import.meta.url));
  const before = threadCount();
  const threads = Math.min(2, availableParallelism());
  const stalls = await probeStalls({ durationMs: 200, threads });
  assert.equal(threadCount(), before, 'every worker thread has exited');
  assert.equal(stalls.durationMs, 200);
  assert.equal(stalls.threads.length, threads);
  for (const core of [...stalls.threads, stalls.worst]) {
    assert.ok(core.lostPercent >= 0 && core.lostPercent <= 100, String(core.lostPercent));
    assert.ok(core.longestMs >= 0 && core.longestMs <= 200 + 10_000, String(core.longestMs));
    assert.ok(core.stallsPerS.atLeast1Ms >= core.stallsPerS.atLeast4Ms && core.stallsPerS.atLeast4Ms >= 0);
  }
  assert.equal(stalls.worst.longestMs, Math.max(...stalls.threads.map((s) => s.longestMs)));
  assert.equal(stalls.worst.lostPercent, Math.max(...stalls.threads.map((s) => s.lostPercent)));
});

test('probeStalls refuses a duration or a thread count out of range, with its code and no thread started', async () => {
  const before = threadCount();
  const bad = [
    { durationMs: 0 },
    { durationMs: -100 },
    { durationMs: Number.NaN },
    { durationMs: 49 },
    { durationMs: 10_001 },
    { durationMs: Number.POSITIVE_INFINITY },
    { durationMs: 200, threads: 0 },
    { durationMs: 200, threads: -1 },
    { durationMs: 200, threads: Number.NaN },
    { durationMs: 200, threads: 1.5 },
    { durationMs: 200, threads: availableParallelism() + 1 },
    { durationMs: 200, threads: 1e9 },
  ];
  for (const options of bad) {
    await assert.rejects(probeStalls(options), isStallProbeError, JSON.stringify(options));
  }
  assert.equal(threadCount(), before);
});

test('describeStalls gives each core’s figures in one sentence, from the probe’s numbers', () => {
  const stalls: MachineStalls = {
    durationMs: 1000,
    thresholdMs: 0.05,
    cores: 2,
    threads: [
      { lostPercent: 8.43, stallsPerS: { atLeast1Ms: 14, atLeast4Ms: 2.4 }, longestMs: 9.1 },
      { lostPercent: 9.31, stallsPerS: { atLeast1Ms: 19, atLeast4Ms: 3.7 }, longestMs: 11.42 },
    ],
    worst: { lostPercent: 9.31, stallsPerS: { atLeast1Ms: 19, atLeast4Ms: 3.7 }, longestMs: 11.42 },
  };
  assert.equal(
    describeStalls(stalls, 'Before the rounds'),
    'Before the rounds, a busy loop on each of the 2 cores lost 8.4% and 9.3% of 1 s to stalls ≥ 50 µs ' +
      '(host preemption, interrupts, other tasks): 14 and 19 stalls/s of ≥ 1 ms, 2.4 and 3.7/s of ≥ 4 ms, ' +
      'the longest 11.4 ms. A latency tail up to that long can come from the machine rather than the code measured.',
  );
  const one = { ...stalls, durationMs: 200, threads: [stalls.threads[0]!], worst: stalls.threads[0]! };
  assert.match(describeStalls(one), /^A busy loop on 1 of the 2 cores lost 8\.4% of 200 ms to stalls/);
  assert.match(describeStalls(one), /: 14 stalls\/s of ≥ 1 ms, 2\.4\/s of ≥ 4 ms, the longest 9\.1 ms\./);
});
