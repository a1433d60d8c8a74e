// How each contender starts and stops; every one forwards to the same origin on loopback.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchChild, forkScript, spawnCommand, waitForReadyPort } from './child.ts';
import { fnshiftConfigYaml, haproxyConfig, nginxConfig } from './configs.ts';
import { BenchError } from './errors.ts';
import { pickFreePort, waitUntilAnswering } from './http-probe.ts';
import { binaryVersion, HAPROXY_PATH, isInstalled, NGINX_PATH } from './machine.ts';

export const contenderNames = [
  'direct',
  'fnshift',
  'fnshift-workers',
  'http-proxy',
  'reply-from',
  'nginx',
  'haproxy',
] as const;
export type ContenderName = (typeof contenderNames)[number];

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const benchFile = (name: string) => fileURLToPath(new URL(name, import.meta.url));

export interface ContenderContext {
  readonly upstreamOrigin: string;
  readonly upstreamPort: number;
  /** A private temp dir for config, pid and log files. */
  readonly workDir: string;
  readonly startTimeoutMs: number;
  /** nginx worker_processes and haproxy nbthread. */
  readonly nativeWorkers: number;
}

export interface RunningContender {
  readonly name: ContenderName;
  /** Where the load goes, e.g. http://127.0.0.1:41234 */
  readonly origin: string;
  /** Version and the settings that matter for the comparison, shown in the report. */
  readonly detail: string;
  /** The process whose tree does the forwarding, for its CPU time; absent for `direct`, which has none. */
  readonly pid?: number;
  isAlive(): boolean;
  /** Why it is not alive, for the report. */
  deathReason(): string;
  stop(): Promise<void>;
}

export async function startContender(
  name: ContenderName,
  context: ContenderContext,
): Promise<RunningContender> {
  switch (name) {
    case 'direct':
      return {
        name,
        origin: context.upstreamOrigin,
        detail: 'no proxy: load goes straight to the origin',
        isAlive: () => true,
        deathReason: () => '',
        stop: async () => {},
      };
    case 'fnshift':
      return startFnshift(name, context, 1);
    case 'fnshift-workers':
      // As many data-plane processes as nginx has workers: the same cores, side by side.
      return startFnshift(name, context, context.nativeWorkers);
    case 'http-proxy':
      return startNodeProxy(
        name,
        'proxies/http-proxy.ts',
        context,
        `http-proxy ${version('http-proxy')}, keep-alive agent (128 sockets)`,
      );
    case 'reply-from':
      return startNodeProxy(
        name,
        'proxies/reply-from.ts',
        context,
        `fastify ${version('fastify')} + @fastify/reply-from ${version('@fastify/reply-from')}, undici pool (128 connections)`,
      );
    case 'nginx':
      return startNginx(context);
    case 'haproxy':
      return startHaproxy(context);
  }
}

async function startNodeProxy(
  name: ContenderName,
  script: string,
  context: ContenderContext,
  detail: string,
): Promise<RunningContender> {
  const child = forkScript(name, benchFile(script), [context.upstreamOrigin]);
  try {
    const port = await waitForReadyPort(child, context.startTimeoutMs);
    return running(name, child, `http://127.0.0.1:${port}`, detail);
  } catch (error) {
    await child.stop();
    throw error;
  }
}

async function startFnshift(
  name: ContenderName,
  context: ContenderContext,
  workers: number,
): Promise<RunningContender> {
  const port = await pickFreePort();
  const configPath = join(context.workDir, `${name}.yaml`);
  const stateFile = join(context.workDir, `${name}-state.json`);
  writeFileSync(
    configPath,
    fnshiftConfigYaml({ listenPort: port, upstreamOrigin: context.upstreamOrigin, stateFile, workers }),
  );
  const child = spawnCommand(
    name,
    process.execPath,
    [join(repoRoot, 'src/cli/main.ts'), 'run', '-c', configPath],
    {
      cwd: context.workDir,
    },
  );
  const processes = workers === 1 ? 'one process' : `${workers} workers`;
  const detail = `fnshift ${version('.')}, ${processes}, route weight 50 (sticky x-user-id), legacy and function = the origin`;
  return waitForListener(name, child, port, context, detail);
}

async function startNginx(context: ContenderContext): Promise<RunningContender> {
  assertInstalled(NGINX_PATH);
  const port = await pickFreePort();
  const configPath = join(context.workDir, 'nginx.conf');
  writeFileSync(configPath, nginxConfig({ listenPort: port, ...nativeOptions(context) }));
  // -e: nginx opens its error log before reading the config; keep even that one in the temp dir.
  const child = spawnCommand(
    'nginx',
    NGINX_PATH,
    ['-p', context.workDir, '-c', configPath, '-e', join(context.workDir, 'nginx-error.log')],
    { cwd: context.workDir },
  );
  const detail = `${binaryVersion(NGINX_PATH)}, worker_processes ${context.nativeWorkers}, upstream keepalive 64`;
  return waitForListener('nginx', child, port, context, detail);
}

async function startHaproxy(context: ContenderContext): Promise<RunningContender> {
  assertInstalled(HAPROXY_PATH);
  const port = await pickFreePort();
  const configPath = join(context.workDir, 'haproxy.cfg');
  writeFileSync(configPath, haproxyConfig({ listenPort: port, ...nativeOptions(context) }));
  const child = spawnCommand('haproxy', HAPROXY_PATH, ['-db', '-f', configPath], { cwd: context.workDir });
  const detail = `${binaryVersion(HAPROXY_PATH)}, nbthread ${context.nativeWorkers}, http-reuse always`;
  return waitForListener('haproxy', child, port, context, detail);
}

function assertInstalled(path: string): void {
  if (!isInstalled(path)) throw new BenchError('FNSHIFT_BENCH_UNAVAILABLE', `${path} not found`);
}

function nativeOptions(context: ContenderContext) {
  return { upstreamPort: context.upstreamPort, workers: context.nativeWorkers, workDir: context.workDir };
}

async function waitForListener(
  name: ContenderName,
  child: BenchChild,
  port: number,
  context: ContenderContext,
  detail: string,
): Promise<RunningContender> {
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitUntilAnswering(`${origin}/`, child, context.startTimeoutMs);
    return running(name, child, origin, detail);
  } catch (error) {
    await child.stop();
    throw error;
  }
}

function running(name: ContenderName, child: BenchChild, origin: string, detail: string): RunningContender {
  return {
    name,
    origin,
    detail,
    pid: child.process.pid,
    isAlive: () => !child.hasExited(),
    deathReason: () => {
      const tail = child.outputTail().split('\n').slice(-3).join(' | ');
      const { exitCode, signalCode } = child.process;
      return `${name} exited (${signalCode ? `signal ${signalCode}` : `code ${exitCode}`})${tail ? `: ${tail}` : ''}`;
    },
    stop: () => child.stop(),
  };
}

function version(packageName: string): string {
  const path =
    packageName === '.'
      ? join(repoRoot, 'package.json')
      : join(repoRoot, 'node_modules', packageName, 'package.json');
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    return '?';
  }
}
