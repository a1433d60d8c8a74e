// What the numbers were measured on: CPU, cores, Node and the native proxies' versions.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem, type } from 'node:os';

export const NGINX_PATH = '/usr/sbin/nginx';
export const HAPROXY_PATH = '/usr/sbin/haproxy';

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly nginx: string;
  readonly haproxy: string;
  /** Load before the bench started: a busy machine explains odd numbers. */
  readonly loadAverage1m: number;
}

export function describeMachine(): MachineInfo {
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${type()} ${release()}`,
    node: process.version,
    nginx: binaryVersion(NGINX_PATH),
    haproxy: binaryVersion(HAPROXY_PATH),
    loadAverage1m: loadavg()[0] ?? 0,
  };
}

export function isInstalled(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `nginx -v` writes to stderr, `haproxy -v` and `wrk -v` to stdout; the line naming the version is in one of them. */
export function binaryVersion(path: string): string {
  if (!isInstalled(path)) return `${path.split('/').pop()} not installed`;
  const result = spawnSync(path, ['-v'], { encoding: 'utf8', timeout: 5000 });
  const line =
    `${result.stderr ?? ''}\n${result.stdout ?? ''}`.split('\n').find((l) => /version|^wrk /i.test(l)) ?? '';
  const match = /(nginx\/\S+|HAProxy version \S+|^wrk \S+)/.exec(line);
  return match?.[1] ?? (line.trim() || 'unknown version');
}
