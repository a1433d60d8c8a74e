// The contender's CPU time from /proc: parsing a stat line, choosing its process tree, and µs per request.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  clockTicksPerSecond,
  type ProcStat,
  parseProcStat,
  roundCpu,
  sampleProcessTreeCpu,
  selectProcessTree,
  sumTreeTicks,
} from '../../bench/cpu-time.ts';

/** A real-shaped line (52 fields): utime 1200, stime 345, cutime 7, cstime 3. */
function statLine(pid: number, comm: string, ppid: number, pgrp: number, utime = 1200, stime = 345): string {
  return (
    `${pid} (${comm}) S ${ppid} ${pgrp} ${pgrp} 0 -1 4194560 185760 0 0 0 ${utime} ${stime} 7 3 20 0 13 0 ` +
    '30 42139648 3030 18446744073709551615 1 1 0 0 0 0 0 4096 1256 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n'
  );
}

function stat(pid: number, ppid: number, pgrp: number, ownTicks = 100): ProcStat {
  return { pid, comm: `p${pid}`, ppid, pgrp, ownTicks, reapedChildrenTicks: 0 };
}

test('parses pid, ppid, process group and the four CPU times from a stat line', () => {
  assert.deepEqual(parseProcStat(statLine(4242, 'nginx', 4200, 4242)), {
    pid: 4242,
    comm: 'nginx',
    ppid: 4200,
    pgrp: 4242,
    ownTicks: 1545,
    reapedChildrenTicks: 10,
  });
});

test('parses a stat line whose comm holds spaces and parentheses', () => {
  const parsed = parseProcStat(statLine(77, 'nginx: worker (x) S 1 2', 76, 76, 50, 25));
  assert.equal(parsed?.comm, 'nginx: worker (x) S 1 2');
  assert.equal(parsed?.ppid, 76);
  assert.equal(parsed?.pgrp, 76);
  assert.equal(parsed?.ownTicks, 75);
});

test('gives nothing for a truncated or garbled stat line', () => {
  assert.equal(parseProcStat('12 (node) S 1 12 12 0'), undefined);
  assert.equal(parseProcStat('not a stat line'), undefined);
  assert.equal(parseProcStat(''), undefined);
});

test('takes the root and its descendants, not its siblings or its parent', () => {
  const stats = [stat(1, 0, 1), stat(10, 1, 1), stat(11, 10, 1), stat(12, 11, 1), stat(20, 1, 1)];
  const pids = selectProcessTree(stats, 10).map((s) => s.pid);
  assert.deepEqual(pids.toSorted(), [10, 11, 12]);
  assert.deepEqual(selectProcessTree(stats, 99), []);
});

test('takes every member of a detached root process group, even one re-parented to init', () => {
  // nginx spawned detached: master 30 leads group 30; worker 32 lost its link and now hangs off pid 1.
  const stats = [stat(1, 0, 1), stat(30, 5, 30), stat(31, 30, 30), stat(32, 1, 30), stat(40, 1, 40)];
  assert.deepEqual(
    selectProcessTree(stats, 30)
      .map((s) => s.pid)
      .toSorted(),
    [30, 31, 32],
  );
  // A forked child shares the bench's group; only its own descendants count.
  const forked = [stat(5, 1, 5), stat(50, 5, 5), stat(51, 5, 5)];
  assert.deepEqual(
    selectProcessTree(forked, 50).map((s) => s.pid),
    [50],
  );
});

test('sums own and reaped-children ticks over the tree', () => {
  const stats = [
    stat(30, 1, 30, 500),
    { ...stat(31, 30, 30, 200), reapedChildrenTicks: 40 },
    stat(40, 1, 40),
  ];
  assert.deepEqual(sumTreeTicks(stats, 30), { ticks: 740, processes: 2 });
  assert.equal(sumTreeTicks(stats, 99), undefined);
});

test('turns two samples into CPU ms and µs per request', () => {
  // 150 ticks at 100 Hz = 1.5 s of CPU over 30,000 requests = 50 µs each.
  assert.deepEqual(roundCpu({ ticks: 1000, processes: 3 }, { ticks: 1150, processes: 3 }, 30_000, 100), {
    cpuMs: 1500,
    processes: 3,
    usPerRequest: 50,
  });
  assert.equal(
    roundCpu({ ticks: 1000, processes: 1 }, { ticks: 1250, processes: 1 }, 1000, 250)?.cpuMs,
    1000,
  );
});

test('gives no CPU figure without both samples, without requests, or when the tree lost time', () => {
  const sample = { ticks: 10, processes: 1 };
  assert.equal(roundCpu(undefined, sample, 100, 100), null);
  assert.equal(roundCpu(sample, undefined, 100, 100), null);
  assert.equal(roundCpu(sample, sample, 0, 100), null);
  assert.equal(roundCpu({ ticks: 20, processes: 2 }, sample, 100, 100), null);
});

test('reads a process tree from a /proc-shaped directory and skips entries that are not processes', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fnshift-cpu-time-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (pid: number, line: string) => {
    mkdirSync(join(dir, String(pid)));
    writeFileSync(join(dir, String(pid), 'stat'), line);
  };
  write(30, statLine(30, 'nginx', 5, 30, 100, 20));
  write(31, statLine(31, 'nginx', 30, 30, 300, 80));
  write(40, statLine(40, 'other', 1, 40));
  mkdirSync(join(dir, 'self'));
  mkdirSync(join(dir, '41')); // exited between listing and reading: no stat file
  assert.deepEqual(sampleProcessTreeCpu(30, dir), { ticks: 100 + 20 + 10 + 300 + 80 + 10, processes: 2 });
  assert.equal(sampleProcessTreeCpu(30, join(dir, 'missing')), undefined);
});

test('reads this very process on Linux, and knows the clock tick rate', {
  skip: !existsSync('/proc/self/stat'),
}, () => {
  const sample = sampleProcessTreeCpu(process.pid);
  assert.ok(sample && sample.ticks >= 0 && sample.processes >= 1);
  assert.ok(Number.isInteger(clockTicksPerSecond()) && clockTicksPerSecond() > 0);
});
