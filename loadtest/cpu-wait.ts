// How long a process's event-loop thread waited for a CPU while it was runnable: the kernel's run-queue
// delay (/proc/PID/schedstat, second field, ns), Linux only. On a machine whose cores the generator, the
// app and fnshift share, a wait of a few ms lands directly in the p99, whichever process it hits; the
// overhead scenario reports it so that such a tail can be told from fnshift's own cost.
import { readFileSync } from 'node:fs';

export interface CpuWaitSample {
  readonly atMs: number;
  /** Run-queue wait of the process's main thread so far, ns; undefined where /proc is not readable. */
  readonly waitNs: number | undefined;
}

export function sampleCpuWait(pid: number | undefined): CpuWaitSample {
  const atMs = performance.now();
  if (pid === undefined) return { atMs, waitNs: undefined };
  try {
    const fields = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ');
    const waitNs = Number(fields[1]);
    return { atMs, waitNs: Number.isFinite(waitNs) ? waitNs : undefined };
  } catch {
    return { atMs, waitNs: undefined };
  }
}

/** The share of the wall time between two samples that the thread spent waiting for a CPU, in percent. */
export function cpuWaitPercent(from: CpuWaitSample, to: CpuWaitSample): number | undefined {
  if (from.waitNs === undefined || to.waitNs === undefined || to.atMs <= from.atMs) return undefined;
  const percent = ((to.waitNs - from.waitNs) / 1e6 / (to.atMs - from.atMs)) * 100;
  return Math.round(percent * 10) / 10;
}
