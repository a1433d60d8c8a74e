// Child processes of the bench: start, wait until ready, keep the tail of their output, always kill them.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { BenchError } from './errors.ts';

const OUTPUT_TAIL_BYTES = 4096;
const STOP_GRACE_MS = 3000;

/** Every child still running, with how to signal it; the exit hooks kill these even when the bench crashes. */
const liveChildren = new Map<ChildProcess, (signal: NodeJS.Signals) => void>();

export interface BenchChild {
  readonly name: string;
  readonly process: ChildProcess;
  /** The last few KB the child wrote to stdout and stderr, for error messages. */
  outputTail(): string;
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
  stop(): Promise<void>;
}

/** Runs a bench script under this same Node, with an IPC channel for its `ready` message. */
export function forkScript(name: string, scriptPath: string, args: readonly string[] = []): BenchChild {
  // execArgv [] so that flags of the parent (e.g. the test runner's) do not leak into what is measured.
  const child = fork(scriptPath, [...args], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [] });
  return track(name, child, (signal) => child.kill(signal));
}

export function spawnCommand(
  name: string,
  command: string,
  args: readonly string[],
  options: { cwd?: string } = {},
): BenchChild {
  // Its own process group, signalled as a whole: SIGKILL on an nginx master alone leaves its workers running.
  const child = spawn(command, [...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: options.cwd,
    detached: true,
  });
  const signalGroup = (signal: NodeJS.Signals) => {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  };
  return track(name, child, signalGroup);
}

function track(name: string, child: ChildProcess, signal: (signal: NodeJS.Signals) => void): BenchChild {
  const send = (name: NodeJS.Signals) => {
    try {
      signal(name);
    } catch {
      // already gone
    }
  };
  liveChildren.set(child, send);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
  };
  // Always drain the pipes: a child blocked on a full pipe would look slow, not broken.
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (error) => keep(Buffer.from(`spawn error: ${error.message}\n`)));
  child.once('exit', () => liveChildren.delete(child));
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  return {
    name,
    process: child,
    outputTail: () => tail.trim(),
    hasExited,
    stop: () => stopChild(child, hasExited, send),
  };
}

async function stopChild(
  child: ChildProcess,
  hasExited: () => boolean,
  send: (signal: NodeJS.Signals) => void,
): Promise<void> {
  if (hasExited() || child.pid === undefined) return;
  const exited = once(child, 'exit').catch(() => undefined);
  send('SIGTERM');
  // fnshift drains in-flight requests on SIGTERM; the bench has none left, so a short grace is enough.
  await Promise.race([exited, delay(STOP_GRACE_MS)]);
  // Also when the leader is gone: group members (nginx workers) may still be finishing.
  send('SIGKILL');
  await Promise.race([exited, delay(1000)]);
}

/** Synchronous, for `process.on('exit')` and signal handlers: nothing is awaited there. */
export function killAllChildrenNow(): void {
  for (const send of liveChildren.values()) send('SIGKILL');
  liveChildren.clear();
}

export interface ReadyMessage {
  readonly event: 'ready';
  /** The port a server child bound (it listens on port 0); absent for children that serve nothing. */
  readonly port?: number;
}

/** Waits for `{ event: 'ready' }` from a forked script. */
export function waitForReadyMessage(child: BenchChild, timeoutMs: number): Promise<ReadyMessage> {
  return awaitMessage(
    child,
    (message) => (isReadyMessage(message) ? message : undefined),
    timeoutMs,
    () =>
      new BenchError('FNSHIFT_BENCH_START_TIMEOUT', `${child.name} sent no ready message in ${timeoutMs} ms`),
  );
}

/**
 * The first IPC message from `child` that `accept` takes: it returns undefined for a message meant for
 * someone else, and what it throws rejects. Rejects too when the child exits first (exitedError) or
 * nothing is taken in `timeoutMs` (`timedOut()`).
 */
export function awaitMessage<T>(
  child: BenchChild,
  accept: (message: unknown) => T | undefined,
  timeoutMs: number,
  timedOut: () => BenchError,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(timedOut());
    }, timeoutMs);
    const onMessage = (message: unknown) => {
      let taken: T | undefined;
      try {
        taken = accept(message);
      } catch (error) {
        cleanup();
        reject(error);
        return;
      }
      if (taken === undefined) return;
      cleanup();
      resolve(taken);
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(exitedError(child, code, signal));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.process.off('message', onMessage);
      child.process.off('exit', onExit);
    };
    child.process.on('message', onMessage);
    child.process.once('exit', onExit);
  });
}

function isReadyMessage(message: unknown): message is ReadyMessage {
  const m = message as { event?: unknown; port?: unknown } | null;
  return (
    typeof m === 'object' &&
    m !== null &&
    m.event === 'ready' &&
    (m.port === undefined || typeof m.port === 'number')
  );
}

/** For server children: the ready message must carry the port they bound. */
export async function waitForReadyPort(child: BenchChild, timeoutMs: number): Promise<number> {
  const { port } = await waitForReadyMessage(child, timeoutMs);
  if (port === undefined)
    throw new BenchError('FNSHIFT_BENCH_START_TIMEOUT', `${child.name} reported no port`);
  return port;
}

export function exitedError(child: BenchChild, code: number | null, signal: string | null): BenchError {
  const tail = child.outputTail();
  const how = signal ? `signal ${signal}` : `code ${code}`;
  return new BenchError(
    'FNSHIFT_BENCH_CHILD_EXITED',
    `${child.name} exited (${how})${tail ? `: ${lastLines(tail, 5)}` : ''}`,
  );
}

function lastLines(text: string, count: number): string {
  return text.split('\n').slice(-count).join(' | ');
}
