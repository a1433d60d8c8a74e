// `fnshift inject FILE|-`: a Deployment (or a whole YAML stream) back with fnshift as its sidecar, ready
// for `| kubectl apply -f -`. What it did and what is left to the operator go to stderr.
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { injectManifests, SERVICE_HINT } from '../../deploy/inject.ts';
import { DEFAULT_CONFIGMAP, DEFAULT_IMAGE, DEFAULT_TOKEN_SECRET } from '../../deploy/sidecar.ts';
import { isFnshiftError } from '../../errors.ts';
import { CliError } from '../client.ts';

export type InjectFlags = {
  image?: string;
  configmap?: string;
  adminTokenSecret?: string;
  classic?: boolean;
};

type Io = { write: (chunk: string) => void; err: (line: string) => void; stdin: NodeJS.ReadableStream };

async function readInput(file: string, stdin: NodeJS.ReadableStream): Promise<string> {
  if (file === '-') return text(stdin);
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`, 2);
  }
}

export async function injectCommand(file: string, flags: InjectFlags, io: Io): Promise<void> {
  const input = await readInput(file, io.stdin);
  let result: ReturnType<typeof injectManifests>;
  try {
    result = injectManifests(input, {
      image: flags.image ?? DEFAULT_IMAGE,
      configMap: flags.configmap ?? DEFAULT_CONFIGMAP,
      tokenSecret: flags.adminTokenSecret ?? DEFAULT_TOKEN_SECRET,
      isNative: !flags.classic,
    });
  } catch (error) {
    if (isFnshiftError(error)) throw new CliError(`${file === '-' ? 'stdin' : file}: ${error.message}`, 2);
    throw error;
  }
  io.write(result.text);
  if (result.reports.length === 0) {
    io.err('fnshift: no Deployment in the input; nothing injected');
    return;
  }
  for (const report of result.reports) io.err(`fnshift: deployment ${report.name} ${report.action}`);
  for (const hint of result.reports.flatMap((r) => r.hints)) io.err(`fnshift: hint: ${hint}`);
  if (result.reports.some((r) => r.action === 'injected')) io.err(`fnshift: hint: ${SERVICE_HINT}`);
}
