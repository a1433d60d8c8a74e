// `fnshift functions serve DIR`: the local function host, for trying a migration before deploying.
import { resolve } from 'node:path';
import { startFunctionHost } from '../../local/function-host.ts';
import { CliError } from '../client.ts';

export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const port = Number(listen.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new CliError(`--listen must be host:port, got "${listen}"`, 2);
  }
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port };
}

export async function functionsServeCommand(
  dir: string,
  listen: string,
  out: (line: string) => void,
): Promise<void> {
  const { host, port } = parseListen(listen);
  const functionHost = await startFunctionHost({ dir: resolve(dir), host, port });
  const names = Object.keys(functionHost.invocations);
  out(`serving ${names.length} function(s) from ${resolve(dir)} at ${functionHost.url}`);
  for (const name of names) out(`  ${name}: ${functionHost.url}/${name}`);
  const stop = () => functionHost.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
