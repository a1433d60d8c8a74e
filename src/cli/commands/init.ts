// `fnshift init`: write a starter fnshift.yaml from flags, with the JSON Schema modeline so editors check
// it as it is typed; validated before it is written, never over an existing file without --force.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Document, isMap, isScalar, type Pair, type Scalar } from 'yaml';
import pkg from '../../../package.json' with { type: 'json' };
import { validateConfig } from '../../config/load.ts';
import type { ConfigInput } from '../../config/schema.ts';
import { sidecarPaths, sidecarPorts } from '../../deploy/sidecar.ts';
import { CliError } from '../client.ts';
import { parsePercent } from './weight.ts';

export type InitFlags = {
  config: string;
  legacy: string;
  function?: string[];
  route?: string[];
  weight?: string;
  stickyHeader?: string;
  kubernetes?: boolean;
  schema?: string;
  force?: boolean;
};

/** The schema this fnshift ships: the project's installed copy when there is one, else the published one. */
export function defaultSchemaRef(outputFile: string): string {
  const local = join(dirname(resolve(outputFile)), 'node_modules/fnshift/schema/fnshift.schema.json');
  if (existsSync(local)) return './node_modules/fnshift/schema/fnshift.schema.json';
  return `https://unpkg.com/fnshift@${pkg.version}/schema/fnshift.schema.json`;
}

function splitPair(text: string, flag: string, what: string): [string, string] {
  const i = text.indexOf('=');
  if (i <= 0 || i === text.length - 1) throw new CliError(`${flag} must be NAME=${what}, got "${text}"`, 2);
  return [text.slice(0, i), text.slice(i + 1)];
}

export function starterConfig(flags: Omit<InitFlags, 'config' | 'force'> & { schema: string }): string {
  const functions = Object.fromEntries(
    (flags.function ?? []).map((f) => {
      const [name, url] = splitPair(f, '--function', 'URL');
      return [name, { url, timeoutMs: 5000 }];
    }),
  );
  const names = Object.keys(functions);
  const weight = flags.weight === undefined ? 0 : parsePercent(flags.weight);
  const routes = (flags.route ?? []).map((r) => {
    const [name, pathPrefix] = splitPair(r, '--route', 'PREFIX');
    // A route goes to the function of its own name, or to the only function there is.
    const fn = names.includes(name) ? name : names.length === 1 ? names[0]! : undefined;
    if (!fn) {
      throw new CliError(
        `--route ${name}: no --function named "${name}"${names.length ? ` (have: ${names.join(', ')}); name the route after its function` : ''}`,
        2,
      );
    }
    return {
      name,
      match: { pathPrefix },
      function: fn,
      weight,
      ...(flags.stickyHeader ? { sticky: { header: flags.stickyHeader } } : {}),
    };
  });
  const isK8s = Boolean(flags.kubernetes);
  const config: ConfigInput = {
    listen: `0.0.0.0:${sidecarPorts.data.port}`,
    admin: isK8s
      ? {
          listen: `127.0.0.1:${sidecarPorts.admin.port}`,
          tokenFile: sidecarPaths.tokenFile,
          probesListen: `0.0.0.0:${sidecarPorts.probes.port}`,
        }
      : { listen: `127.0.0.1:${sidecarPorts.admin.port}`, tokenEnv: 'FNSHIFT_ADMIN_TOKEN' },
    legacy: { url: flags.legacy },
    functions,
    routes,
    state: { file: isK8s ? sidecarPaths.stateFile : './fnshift-state.json' },
  };
  const checked = validateConfig(config);
  if (!checked.ok)
    throw new CliError(`the flags make an invalid config:\n  ${checked.problems.join('\n  ')}`, 2);
  return render(config, flags.schema, isK8s);
}

function pairOf(doc: Document, key: string): Pair<Scalar> | undefined {
  return isMap(doc.contents)
    ? (doc.contents.items.find((p) => isScalar(p.key) && p.key.value === key) as Pair<Scalar> | undefined)
    : undefined;
}

function render(config: ConfigInput, schema: string, isK8s: boolean): string {
  const doc = new Document(config);
  doc.commentBefore = [
    ` yaml-language-server: $schema=${schema}`,
    ' fnshift config: check it with `fnshift validate -c FILE`; routes and weights reload live.',
  ].join('\n');
  const note = (key: string, text: string) => {
    const pair = pairOf(doc, key);
    if (pair) pair.key.commentBefore = text;
  };
  note('listen', ' Data port: callers (the Service) send here; unmatched paths go to legacy.');
  note(
    'admin',
    isK8s
      ? " Admin API on loopback only (kubectl port-forward reaches it); changes also need the bearer token\n from the mounted Secret, as the pod's other containers share loopback. probesListen serves only\n /livez, /readyz and /metrics on the pod IP, for the kubelet and Prometheus (see docs/deploy.md)."
      : ' Admin API, /metrics and probes; loopback only. Changes need the token when the env var is set.',
  );
  note('legacy', ' The app being migrated; keep it on loopback so nothing bypasses fnshift.');
  note('functions', ' Any HTTP function endpoint (FC trigger, Lambda URL, Knative, OpenFaaS...).');
  note(
    'routes',
    ' weight: percent of requests to the function (0-100). Raise it with `fnshift weight ROUTE PERCENT`;\n for every replica at once, `--fleet` edits the ConfigMap.',
  );
  note('state', ' Runtime weights (admin API, rollouts) survive restarts here.');
  return doc.toString({ lineWidth: 0 });
}

export async function initCommand(
  flags: InitFlags,
  io: { write: (chunk: string) => void; out: (line: string) => void },
) {
  const toStdout = flags.config === '-';
  const text = starterConfig({
    ...flags,
    schema: flags.schema ?? defaultSchemaRef(toStdout ? 'x' : flags.config),
  });
  if (toStdout) return void io.write(text);
  try {
    // 'wx' fails if the file exists, with no window between a check and the write.
    await writeFile(flags.config, text, { flag: flags.force ? 'w' : 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new CliError(`${flags.config} exists; use --force to overwrite it`, 2);
    }
    throw new CliError(`cannot write ${flags.config}: ${(error as Error).message}`, 1);
  }
  io.out(
    `wrote ${flags.config}; next: fnshift validate -c ${flags.config} && fnshift run -c ${flags.config}`,
  );
}
