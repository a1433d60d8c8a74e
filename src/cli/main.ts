// The `fnshift` command line: parse, dispatch to a command, map failures to exit codes (0 ok, 1 failure, 2 usage).
import { Command, CommanderError } from 'commander';
import { adminTarget, CliError } from './client.ts';
import type { FleetFlags } from './commands/fleet.ts';
import type { InitFlags } from './commands/init.ts';
import type { InjectFlags } from './commands/inject.ts';
import { reloadCommand, rolloutCommand } from './commands/rollout.ts';
import { statusCommand } from './commands/status.ts';
import { validateCommand } from './commands/validate.ts';
import { weightCommand } from './commands/weight.ts';

const out = (line: string) => process.stdout.write(`${line}\n`);
const write = (chunk: string) => process.stdout.write(chunk);
const err = (line: string) => process.stderr.write(`${line}\n`);
const collect = (value: string, previous: string[]) => [...previous, value];

type AdminFlags = { admin?: string; token?: string };

function withAdminFlags(command: Command): Command {
  return command
    .option('--admin <url>', 'admin API URL (env FNSHIFT_ADMIN_URL)', undefined)
    .option('--token <token>', 'bearer token for changes (env FNSHIFT_ADMIN_TOKEN)', undefined);
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new CliError(`not a port: ${text}`, 2);
  return port;
}

export function buildProgram(): Command {
  const program = new Command('fnshift')
    .description('Shift a legacy app’s HTTP routes onto cloud functions, by weight, user by user.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });

  program
    .command('run')
    .description('run the sidecar proxy')
    .requiredOption('-c, --config <file>', 'fnshift.yaml')
    .action(async (flags: { config: string }) => {
      const { isWorkerProcess, run, runAsWorker } = await import('../main.ts');
      // node:cluster starts a worker with the primary's own command line: it becomes a data plane.
      if (isWorkerProcess()) await runAsWorker();
      else await run({ configFile: flags.config });
    });

  program
    .command('validate')
    .description('check a config file; exit 2 listing every problem')
    .requiredOption('-c, --config <file>', 'fnshift.yaml')
    .action((flags: { config: string }) => validateCommand(flags.config, out));

  withAdminFlags(program.command('status').description('show routes, weights and breakers'))
    .option('--json', 'print the admin API’s JSON')
    .action((flags: AdminFlags & { json?: boolean }) =>
      statusCommand(adminTarget(flags), Boolean(flags.json), out),
    );

  withAdminFlags(
    program
      .command('weight')
      .description('set a route’s weight on one fnshift process, or with --fleet on every replica'),
  )
    .argument('<route>', 'route name')
    .argument('<percent>', 'weight, 0–100')
    .option('--fleet', 'edit the ConfigMap every replica mounts instead (prints the kubectl recipe)')
    .option('--configmap <name>', 'with --fleet: the ConfigMap holding fnshift.yaml')
    .option('-n, --namespace <ns>', 'with --fleet: its namespace')
    .option('--key <key>', 'with --fleet: the data key holding the config', 'fnshift.yaml')
    .option('--apply', 'with --fleet: run the recipe (kubectl get, edit, kubectl apply)')
    .option('--stdin', 'with --fleet: edit the ConfigMap YAML on stdin and write it to stdout')
    .action(async (route: string, percent: string, flags: AdminFlags & FleetFlags & { fleet?: boolean }) => {
      if (!flags.fleet) {
        if (flags.configmap || flags.apply || flags.stdin)
          throw new CliError('--configmap, --apply and --stdin need --fleet', 2);
        return weightCommand(adminTarget(flags), route, percent, out);
      }
      const { fleetWeightCommand } = await import('./commands/fleet.ts');
      await fleetWeightCommand(route, percent, flags, { out, write, err, stdin: process.stdin });
    });

  withAdminFlags(program.command('rollout').description('drive a route’s progressive rollout'))
    .argument('<action>', 'start | pause | resume | abort | promote')
    .argument('<route>', 'route name')
    .action((action: string, route: string, flags: AdminFlags) =>
      rolloutCommand(adminTarget(flags), action, route, out),
    );

  withAdminFlags(program.command('reload').description('re-read the config file now (like SIGHUP)')).action(
    (flags: AdminFlags) => reloadCommand(adminTarget(flags), out),
  );

  program
    .command('demo')
    .description('start a legacy app, local functions and fnshift in front, and print what to try')
    .option('--port <port>', 'fnshift data port (0: any free port)', '8080')
    .option('--admin-port <port>', 'fnshift admin port (0: any free port)', '9901')
    .option('--host <address>', 'address fnshift binds (0.0.0.0 inside a container)', '127.0.0.1')
    .action(async (flags: { port: string; adminPort: string; host: string }) => {
      const { demoCommand } = await import('./commands/demo.ts');
      await demoCommand(
        { port: parsePort(flags.port), adminPort: parsePort(flags.adminPort), host: flags.host },
        out,
      );
    });

  program
    .command('init')
    .description('write a starter fnshift.yaml (with the JSON Schema modeline) from flags')
    .option('-c, --config <file>', 'where to write it; - for stdout', 'fnshift.yaml')
    .option('--legacy <url>', 'the legacy app', 'http://127.0.0.1:3000')
    .option('--function <name=url>', 'a function endpoint (repeatable)', collect, [])
    .option('--route <name=prefix>', 'a route to the function of that name (repeatable)', collect, [])
    .option('--weight <percent>', 'starting weight of every route', '0')
    .option('--sticky-header <name>', 'keep each user on one side by this header (e.g. x-user-id)')
    .option(
      '--kubernetes',
      'for the sidecar: admin on loopback with the token file, probes and /metrics on the pod IP, state on the emptyDir',
    )
    .option('--schema <url>', 'the modeline’s schema (default: the installed copy, else the published one)')
    .option('--force', 'overwrite an existing file')
    .action(async (flags: InitFlags) => {
      const { initCommand } = await import('./commands/init.ts');
      await initCommand(flags, { out, write });
    });

  program
    .command('inject')
    .description('add the fnshift sidecar to the Deployments in a YAML stream (like `linkerd inject`)')
    .argument('<file>', 'manifest file, or - for stdin')
    .option('--image <ref>', 'fnshift image (default: the release matching this CLI)')
    .option('--configmap <name>', 'ConfigMap holding fnshift.yaml', 'fnshift-config')
    .option('--admin-token-secret <name>', 'Secret with key "token" for admin changes', 'fnshift-admin-token')
    .option('--classic', 'a plain container instead of a native sidecar (Kubernetes before 1.29)')
    .action(async (file: string, flags: InjectFlags) => {
      const { injectCommand } = await import('./commands/inject.ts');
      await injectCommand(file, flags, { write, err, stdin: process.stdin });
    });

  program
    .command('loadtest')
    .description('run a load-test scenario on this machine (fnshift loadtest --help; docs/load-testing.md)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[flags...]', 'the flags of npm run loadtest')
    .action(async (flags: string[]) => {
      const { loadtestCommand } = await import('./commands/loadtest.ts');
      const code = await loadtestCommand(flags);
      // 99: an SLO was breached (the report says which); 2: usage; 1: the run failed.
      if (code !== 0) {
        throw new CliError(
          code === 99 ? 'an SLO was breached (exit 99)' : `loadtest exited with ${code}`,
          code,
        );
      }
    });

  const functions = program.command('functions').description('the local function host');
  functions
    .command('serve')
    .description('serve DIR/<name>.{ts,js,mjs} handlers (Lambda / Function Compute event shape) over HTTP')
    .argument('<dir>', 'directory of handler modules')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:9000')
    .action(async (dir: string, flags: { listen: string }) => {
      const { functionsServeCommand } = await import('./commands/functions.ts');
      await functionsServeCommand(dir, flags.listen, out);
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof CliError) {
      process.stderr.write(`fnshift: ${error.message}\n`);
      return error.exitCode;
    }
    const code = (error as { code?: string }).code;
    process.stderr.write(`fnshift: ${(error as Error).message ?? String(error)}\n`);
    return code === 'FNSHIFT_CONFIG_INVALID' ? 2 : 1;
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  // Long-running commands (run, demo, functions serve) keep the process alive themselves.
  if (code !== 0) process.exit(code);
}
