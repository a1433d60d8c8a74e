// The overhead scenario's reference hop: nginx as a plain keep-alive reverse proxy in front of the same
// legacy app. Measured in the same run as fnshift, it shows what any extra hop costs on this machine, so
// a tail that nginx adds too is read as the machine's, and only what fnshift adds beyond it as fnshift's.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nginxConfig } from '../bench/configs.ts';
import { pickFreePort, waitUntilAnswering } from '../bench/http-probe.ts';
import { binaryVersion, isInstalled, NGINX_PATH } from '../bench/machine.ts';
import { LoadtestError } from './errors.ts';
import { spawnChild } from './processes.ts';

const START_TIMEOUT_MS = 10_000;

export interface ReferenceProxy {
  /** e.g. http://127.0.0.1:41234 */
  readonly url: string;
  /** The one nginx process (no master), the pid that serves and whose CPU wait the scenario samples. */
  readonly pid: number | undefined;
  /** e.g. "nginx/1.22.1, one process, upstream keepalive 64". */
  readonly detail: string;
  stop(): Promise<void>;
}

export function isReferenceAvailable(nginxPath: string = NGINX_PATH): boolean {
  return isInstalled(nginxPath);
}

/** Starts nginx in front of `upstreamUrl`, with its config, pid file and logs in `workDir`. */
export async function startReferenceProxy(
  upstreamUrl: string,
  workDir: string,
  nginxPath: string = NGINX_PATH,
): Promise<ReferenceProxy> {
  if (!isInstalled(nginxPath)) {
    throw new LoadtestError('FNSHIFT_LOADTEST_START', `the reference proxy needs nginx at ${nginxPath}`);
  }
  const upstreamPort = Number(new URL(upstreamUrl).port);
  // nginx cannot listen on port 0 and say which port it got; a port just freed is the usual way round.
  const port = await pickFreePort();
  const configPath = join(workDir, 'nginx.conf');
  writeFileSync(
    configPath,
    nginxConfig({ listenPort: port, upstreamPort, workers: 1, workDir, isSingleProcess: true }),
  );
  // -e: nginx opens its error log before it reads the config; keep even that one in the work dir.
  const child = spawnChild('nginx', nginxPath, [
    '-p',
    workDir,
    '-c',
    configPath,
    '-e',
    join(workDir, 'nginx-error.log'),
  ]);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilAnswering(`${url}/`, child, START_TIMEOUT_MS);
  } catch (error) {
    await child.stop();
    throw new LoadtestError('FNSHIFT_LOADTEST_START', `nginx did not answer on ${url}: ${describe(error)}`, {
      cause: error,
    });
  }
  return {
    url,
    pid: child.process.pid,
    detail: `${binaryVersion(nginxPath)}, one process, upstream keepalive 64`,
    stop: () => child.stop(),
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
