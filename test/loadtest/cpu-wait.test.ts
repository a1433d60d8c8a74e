// The run-queue wait probe: real /proc reads for a live and a missing pid, and the share arithmetic.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { cpuWaitPercent, sampleCpuWait } from '../../loadtest/cpu-wait.ts';

test('reads this process’s run-queue wait on Linux and grows it monotonically', {
  skip: process.platform !== 'linux',
}, () => {
  const first = sampleCpuWait(process.pid);
  const end = Date.now() + 20;
  while (Date.now() < end) {
    // Busy for 20 ms, so the second sample is a later reading.
  }
  const second = sampleCpuWait(process.pid);
  assert.equal(typeof first.waitNs, 'number');
  assert.ok(second.waitNs! >= first.waitNs!);
  const percent = cpuWaitPercent(first, second);
  assert.ok(percent !== undefined && percent >= 0 && percent <= 100, String(percent));
});

test('a pid that does not exist, or none, gives no reading instead of throwing', () => {
  // A child that has exited and been reaped: its pid names no process now.
  const gone = spawnSync(process.execPath, ['-e', '0']).pid;
  assert.equal(sampleCpuWait(gone).waitNs, undefined);
  assert.equal(sampleCpuWait(undefined).waitNs, undefined);
  assert.equal(cpuWaitPercent(sampleCpuWait(undefined), sampleCpuWait(process.pid)), undefined);
});

test('the share is the wait over the wall time between the samples, in percent to one decimal', () => {
  assert.equal(cpuWaitPercent({ atMs: 1000, waitNs: 0 }, { atMs: 2000, waitNs: 50_000_000 }), 5);
  assert.equal(cpuWaitPercent({ atMs: 0, waitNs: 1e6 }, { atMs: 3, waitNs: 2e6 }), 33.3);
  assert.equal(cpuWaitPercent({ atMs: 5, waitNs: 0 }, { atMs: 5, waitNs: 1 }), undefined, 'no time passed');
});
