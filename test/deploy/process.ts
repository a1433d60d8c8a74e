// Test helpers for commands run as real processes: a command to completion, and a long-running fnshift
// whose JSON log lines are collected so a test can wait for "fnshift is listening" and "drained".
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import type { TestContext } from 'node:test';

/** Node 24 first on PATH, so `#!/usr/bin/env node` bins and npm run under it, whatever the machine's node. */
export const node24Env = (env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
  ...env,
});

export type Finished = { status: number | null; stdout: string; stderr: string };

export type RunOptions = {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Written to the command's stdin, which is then closed; without it stdin is not open at all. */
  input?: string;
};

export function runToEnd(command: string, args: string[], options: RunOptions = {}): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? node24Env(),
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 120_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr!.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

const cli = new URL('../../src/cli/main.ts', import.meta.url).pathname;

/** `fnshift ARGS` from this checkout, run to its end on this Node; `env` adds to the environment. */
export function runCli(args: string[], options: Omit<RunOptions, 'timeoutMs'> = {}): Promise<Finished> {
  return runToEnd(process.execPath, [cli, ...args], { ...options, env: node24Env(options.env) });
}

export type LogLine = Record<string, unknown> & { msg?: string };

export type Running = {
  child: ChildProcess;
  logs: LogLine[];
  waitForLog(msg: string, timeoutMs?: number): Promise<LogLine>;
  exited: Promise<number | null>;
};

/** Starts a process that logs pino JSON lines on stdout; killed after the test if still running. */
export function startLogging(t: TestContext, command: string, args: string[], cwd: string): Running {
  const child = spawn(command, args, {
    cwd,
    env: node24Env({ FNSHIFT_LOG_LEVEL: 'info', NODE_ENV: 'production' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const logs: LogLine[] = [];
  let stderr = '';
  let pending = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  child.stdout!.on('data', (c: Buffer) => {
    pending += c.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {}
    }
  });
  const waitForLog = async (msg: string, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = logs.find((l) => l.msg === msg);
      if (found) return found;
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`no "${msg}" log line (exit ${child.exitCode}); stderr:\n${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  return { child, logs, waitForLog, exited };
}

/** A stand-in legacy app on loopback; `/slow` answers after `slowMs`, to be in flight during a drain. */
export async function startLegacy(t: TestContext, slowMs = 400): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const answer = () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`legacy ${req.url}`);
    };
    if (req.url === '/slow') setTimeout(answer, slowMs);
    else answer();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** A minimal config for a real run: ports chosen by the OS, no reload watch, state in `dir`. */
export function runConfig(legacyUrl: string, stateFile: string, probesListen?: string): string {
  return `listen: 127.0.0.1:0
admin:
  listen: 127.0.0.1:0${probesListen ? `\n  probesListen: ${probesListen}` : ''}
legacy:
  url: ${legacyUrl}
functions:
  recommend:
    url: http://127.0.0.1:9
routes:
  - name: recommend
    match: { pathPrefix: /api/recommend }
    function: recommend
    weight: 0
drain:
  timeoutMs: 5000
reload:
  watch: false
  pollIntervalMs: 0
state:
  file: ${stateFile}
`;
}
