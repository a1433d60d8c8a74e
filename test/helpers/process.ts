// Test helper: `fnshift run -c FILE` as a real child process on a config file the test owns (so it can
// edit, replace or corrupt it and restart on the same state file), with its JSON log lines captured.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export const repoRoot = new URL('../../', import.meta.url).pathname;
export const cliEntry = join(repoRoot, 'src/cli/main.ts');

export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

export type FnshiftProcess = {
  child: ChildProcess;
  dataUrl: string;
  adminUrl: string;
  /** Every JSON line logged so far, in order. */
  logs: LogLine[];
  /** Resolves with the first line (past or future) that matches, or rejects after `timeoutMs` or an exit. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
};

/** A fresh temp directory removed after the test. */
export async function tempDir(t: TestContext, prefix = 'fnshift-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Replaces `file` the way editors and config tools do: write a temp file, then rename it over. */
export async function replaceByRename(file: string, text: string): Promise<void> {
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(temp, text);
  await rename(temp, file);
}

/** Starts `fnshift run -c file`, resolved once it logs "fnshift is listening"; killed after the test. */
export async function startFnshiftProcess(
  t: TestContext,
  file: string,
  options: { env?: NodeJS.ProcessEnv; startTimeoutMs?: number } = {},
): Promise<FnshiftProcess> {
  const child = spawn(process.execPath, [cliEntry, 'run', '-c', file], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FNSHIFT_LOG_LEVEL: 'info', ...options.env },
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  t.after(kill);

  const logs: LogLine[] = [];
  const waiters = new Set<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  let pending = '';
  child.stdout!.on('data', (c: Buffer) => {
    pending += c.toString();
    for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
      const text = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        continue;
      }
      logs.push(line);
      for (const w of waiters) {
        if (!w.match(line)) continue;
        waiters.delete(w);
        w.resolve(line);
      }
    }
  });

  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs = 30_000) =>
    new Promise<LogLine>((resolve, reject) => {
      const seen = logs.find(match);
      if (seen) return resolve(seen);
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`no matching log line within ${timeoutMs} ms; stderr:\n${stderr}`));
      }, timeoutMs);
      const waiter = {
        match,
        resolve: (line: LogLine) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      waiters.add(waiter);
      exited.then(({ code, signal }) => {
        if (!waiters.delete(waiter)) return;
        clearTimeout(timer);
        reject(new Error(`fnshift exited (${code ?? signal}) first; stderr:\n${stderr}`));
      });
    });

  const listening = await waitForLog((l) => l.msg === 'fnshift is listening', options.startTimeoutMs);
  return {
    child,
    dataUrl: String(listening.data),
    adminUrl: String(listening.admin),
    logs,
    waitForLog,
    exited,
    kill,
  };
}

/** Polls `probe` until it returns a value other than undefined; the deadline turns into a clear failure. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
