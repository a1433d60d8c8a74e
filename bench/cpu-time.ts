// A contender's CPU time from /proc (Linux): its whole process tree, before and after a round, per request.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** The fields of `/proc/<pid>/stat` the bench needs (proc(5): pid 1, comm 2, ppid 4, pgrp 5, times 14–17). */
export interface ProcStat {
  readonly pid: number;
  readonly comm: string;
  readonly ppid: number;
  readonly pgrp: number;
  /** utime + stime, in clock ticks. */
  readonly ownTicks: number;
  /** cutime + cstime: children it has waited for, in clock ticks. */
  readonly reapedChildrenTicks: number;
}

/** The tree's CPU time at one moment. */
export interface CpuSample {
  readonly ticks: number;
  readonly processes: number;
}

/** What a round cost the contender's processes; null in a round record where it could not be measured. */
export interface RoundCpu {
  readonly cpuMs: number;
  /** Processes in the tree at the end of the round (nginx: master + workers). */
  readonly processes: number;
  readonly usPerRequest: number;
}

const DEFAULT_TICKS_PER_SECOND = 100;
let cachedTicksPerSecond: number | undefined;

/**
 * `undefined` for a malformed line. comm is cut at the last ')' because it may itself hold spaces and
 * parentheses (a thread named "x) R 1" would otherwise shift every field after it).
 */
export function parseProcStat(line: string): ProcStat | undefined {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 1 || close < open) return undefined;
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  const rest = line
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const field = (n: number) => Number(rest[n - 3]);
  const stat = {
    pid: Number(line.slice(0, open).trim()),
    comm: line.slice(open + 1, close),
    ppid: field(4),
    pgrp: field(5),
    ownTicks: field(14) + field(15),
    reapedChildrenTicks: field(16) + field(17),
  };
  const numbers = [stat.pid, stat.ppid, stat.pgrp, stat.ownTicks, stat.reapedChildrenTicks];
  return numbers.every(Number.isInteger) ? stat : undefined;
}

/**
 * The root, its descendants (ppid links) and, when the root leads its own process group (spawned detached),
 * every member of that group, even one re-parented away from it.
 */
export function selectProcessTree(stats: readonly ProcStat[], rootPid: number): ProcStat[] {
  const root = stats.find((s) => s.pid === rootPid);
  if (!root) return [];
  const childrenOf = Map.groupBy(stats, (s) => s.ppid);
  const chosen = new Map<number, ProcStat>();
  const pending = [root, ...(root.pgrp === root.pid ? stats.filter((s) => s.pgrp === rootPid) : [])];
  for (let next = pending.pop(); next; next = pending.pop()) {
    if (chosen.has(next.pid)) continue;
    chosen.set(next.pid, next);
    pending.push(...(childrenOf.get(next.pid) ?? []));
  }
  return [...chosen.values()];
}

/**
 * Summing cutime + cstime as well keeps a worker that exits mid-round counted: its time moves into its
 * parent's cutime when reaped. Live processes are in nobody's cutime, so nothing is counted twice.
 */
export function sumTreeTicks(stats: readonly ProcStat[], rootPid: number): CpuSample | undefined {
  const tree = selectProcessTree(stats, rootPid);
  if (tree.length === 0) return undefined;
  const ticks = tree.reduce((total, s) => total + s.ownTicks + s.reapedChildrenTicks, 0);
  return { ticks, processes: tree.length };
}

/** `undefined` where there is no /proc (not Linux) or the process is gone. */
export function sampleProcessTreeCpu(rootPid: number, procDir = '/proc'): CpuSample | undefined {
  let names: string[];
  try {
    names = readdirSync(procDir);
  } catch {
    return undefined;
  }
  const stats = names.flatMap((name) => {
    if (!/^\d+$/.test(name)) return [];
    try {
      const stat = parseProcStat(readFileSync(`${procDir}/${name}/stat`, 'utf8'));
      return stat ? [stat] : [];
    } catch {
      return []; // exited while we listed
    }
  });
  return sumTreeTicks(stats, rootPid);
}

/** USER_HZ, asked once; 100 on every common Linux build, and the fallback. */
export function clockTicksPerSecond(): number {
  if (cachedTicksPerSecond === undefined) {
    try {
      const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim());
      cachedTicksPerSecond = Number.isInteger(value) && value > 0 ? value : DEFAULT_TICKS_PER_SECOND;
    } catch {
      cachedTicksPerSecond = DEFAULT_TICKS_PER_SECOND;
    }
  }
  return cachedTicksPerSecond;
}

/** null when either sample is missing, no request completed, or the tree lost time (a process vanished unreaped). */
export function roundCpu(
  before: CpuSample | undefined,
  after: CpuSample | undefined,
  requests: number,
  ticksPerSecond: number,
): RoundCpu | null {
  if (!before || !after || requests <= 0) return null;
  const ticks = after.ticks - before.ticks;
  if (ticks < 0) return null;
  const cpuMs = (ticks * 1000) / ticksPerSecond;
  return { cpuMs, processes: after.processes, usPerRequest: (cpuMs * 1000) / requests };
}
