// Child processes of a load test (fixtures, fnshift): start, wait until ready, keep their output's tail,
// and make sure every one dies with the run, even when the run crashes or is interrupted.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { LoadtestError } from './errors.ts';

const OUTPUT_TAIL_BYTES = 8192;
const STOP_GRACE_MS = 3000;

const liveChildren = new Set<ChildProcess>();
let isCleanupInstalled = false;

export interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  outputTail(): string;
  hasExited(): boolean;
  /** Resolves when the child exits (at once if it already has). */
  exited(): Promise<void>;
  /** SIGTERM, then SIGKILL after a grace period. */
  stop(): Promise<void>;
  /** SIGKILL, no grace: the outage scenario's "the function died". */
  kill(): Promise<void>;
}

/** Runs a loadtest script under this Node with an IPC channel; parent flags (the test runner's) stay out. */
export function forkChild(name: string, scriptPath: string, args: readonly string[]): Child {
  installCleanup();
  const child = fork(scriptPath, [...args], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [] });
  return track(name, child);
}

export function spawnChild(
  name: string,
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; onLine?: (line: string) => void } = {},
): Child {
  installCleanup();
  const child = spawn(command, [...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: options.cwd,
    env: options.env,
  });
  const tracked = track(name, child);
  if (options.onLine) {
    let partial = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) options.onLine?.(line);
    });
  }
  return tracked;
}

function track(name: string, child: ChildProcess): Child {
  liveChildren.add(child);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
  };
  // Always drained: a child blocked on a full pipe would look slow, not broken.
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (error) => keep(Buffer.from(`spawn error: ${error.message}\n`)));
  const exitedPromise = once(child, 'exit').then(
    () => undefined,
    () => undefined,
  );
  child.once('exit', () => liveChildren.delete(child));
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  const signal = (name: NodeJS.Signals) => {
    try {
      child.kill(name);
    } catch {
      // already gone
    }
  };
  return {
    name,
    process: child,
    outputTail: () => tail.trim(),
    hasExited,
    exited: () => (hasExited() ? Promise.resolve() : exitedPromise),
    async stop() {
      if (hasExited()) return;
      signal('SIGTERM');
      await Promise.race([exitedPromise, delay(STOP_GRACE_MS)]);
      if (!hasExited()) signal('SIGKILL');
      await Promise.race([exitedPromise, delay(1000)]);
    },
    async kill() {
      if (hasExited()) return;
      signal('SIGKILL');
      await Promise.race([exitedPromise, delay(2000)]);
    },
  };
}

function installCleanup(): void {
  if (isCleanupInstalled) return;
  isCleanupInstalled = true;
  process.on('exit', killAllChildrenNow);
}

/** Synchronous, for `process.on('exit')` and signal handlers. */
export function killAllChildrenNow(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
}

/** Waits for a forked child's `{event: 'ready', port}`; fails fast if it exits first. */
export function waitForReady(child: Child, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new LoadtestError('FNSHIFT_LOADTEST_START', `${child.name} was not ready in ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: { event?: unknown; port?: unknown }) => {
      if (message?.event !== 'ready' || typeof message.port !== 'number') return;
      cleanup();
      resolve(message.port);
    };
    const onExit = () => {
      cleanup();
      reject(exitError(child));
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

export function exitError(child: Child): LoadtestError {
  const { exitCode, signalCode } = child.process;
  const tail = child.outputTail().split('\n').slice(-5).join(' | ');
  return new LoadtestError(
    'FNSHIFT_LOADTEST_CHILD_EXITED',
    `${child.name} exited (${signalCode ? `signal ${signalCode}` : `code ${exitCode}`})${tail ? `: ${tail}` : ''}`,
  );
}
