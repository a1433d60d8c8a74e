// `fnshift weight ROUTE PERCENT --fleet`: change a weight for every replica by editing the ConfigMap they
// all mount. Prints the kubectl recipe, runs it with --apply, or is its middle step with --stdin.
import { spawn } from 'node:child_process';
import { text } from 'node:stream/consumers';
import {
  DEFAULT_CONFIG_KEY,
  fleetRecipe,
  setRouteWeightInConfigMap,
  type WeightEdit,
} from '../../deploy/fleet.ts';
import { isFnshiftError } from '../../errors.ts';
import { CliError } from '../client.ts';
import { parsePercent } from './weight.ts';

export type FleetFlags = {
  configmap?: string;
  namespace?: string;
  key?: string;
  apply?: boolean;
  stdin?: boolean;
};

type Io = {
  out: (line: string) => void;
  /** Raw output, for the edited ConfigMap. */
  write: (chunk: string) => void;
  err: (line: string) => void;
  stdin: NodeJS.ReadableStream;
};

function kubectl(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', (error) =>
      reject(new CliError(`cannot run kubectl: ${(error as Error).message} (is it on PATH?)`, 1)),
    );
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new CliError(`kubectl ${args.join(' ')} failed (${code}):\n${stderr.trim()}`, 1));
    });
    child.stdin.end(input ?? '');
  });
}

function edit(configMapText: string, key: string, route: string, weight: number): WeightEdit {
  try {
    return setRouteWeightInConfigMap(configMapText, key, route, weight);
  } catch (error) {
    if (!isFnshiftError(error)) throw error;
    const problems = (error.details?.problems as string[] | undefined) ?? [];
    throw new CliError([error.message, ...problems.map((p) => `  ${p}`)].join('\n'), 2);
  }
}

export async function fleetWeightCommand(route: string, percent: string, flags: FleetFlags, io: Io) {
  const weight = parsePercent(percent);
  const key = flags.key ?? DEFAULT_CONFIG_KEY;
  if (flags.stdin) {
    const result = edit(await text(io.stdin), key, route, weight);
    for (const warning of result.warnings) io.err(`fnshift: ${warning}`);
    io.write(result.text);
    return;
  }
  if (!flags.configmap) throw new CliError('--fleet needs --configmap NAME (or --stdin)', 2);
  const target = { configMap: flags.configmap, namespace: flags.namespace, key };
  if (!flags.apply) {
    io.out('# Every replica mounts this ConfigMap and reloads it (kubelet sync: about a minute).');
    io.out('# Run this, or the same command with --apply:');
    io.out(fleetRecipe(target, route, weight));
    return;
  }
  const ns = flags.namespace ? ['--namespace', flags.namespace] : [];
  const current = await kubectl(['get', 'configmap', flags.configmap, ...ns, '--output', 'yaml']);
  const result = edit(current, key, route, weight);
  for (const warning of result.warnings) io.err(`fnshift: ${warning}`);
  const applied = await kubectl(['apply', ...ns, '--filename', '-'], result.text);
  if (applied.trim()) io.out(applied.trim());
  const where = `${flags.namespace ? `${flags.namespace}/` : ''}${flags.configmap}`;
  io.out(
    `${route}: ${result.previousWeight}% → ${weight}% in configmap ${where}; each replica reloads it within about a minute`,
  );
}
