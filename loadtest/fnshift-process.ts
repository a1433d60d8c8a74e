// fnshift under test: `fnshift run -c FILE` in its own process, its config written (and rewritten) by
// rename, and its addresses read from the "fnshift is listening" log line.
import { randomBytes } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AdminClient, createAdminClient } from './admin.ts';
import { LoadtestError } from './errors.ts';
import { type Child, exitError, spawnChild } from './processes.ts';

const CLI = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const START_TIMEOUT_MS = 20_000;
const TOKEN_ENV = 'FNSHIFT_LOADTEST_ADMIN_TOKEN';

export interface FnshiftHandle {
  /** Where the load goes, e.g. http://127.0.0.1:41234 */
  readonly data: string;
  readonly admin: AdminClient;
  readonly configPath: string;
  readonly child: Child;
  /** Replaces the config the way an editor or a ConfigMap update does: a new file renamed over the old. */
  writeConfig(config: object): Promise<void>;
  stop(): Promise<void>;
}

/** The parts of fnshift.yaml a scenario sets; the admin listener, token and state file are added here. */
export type FnshiftConfig = Record<string, unknown> & { readonly routes: readonly unknown[] };

export async function startFnshift(workDir: string, config: FnshiftConfig): Promise<FnshiftHandle> {
  const configPath = join(workDir, 'fnshift.yaml');
  const complete = (c: object) => ({
    listen: '127.0.0.1:0',
    admin: { listen: '127.0.0.1:0', tokenEnv: TOKEN_ENV },
    state: { file: join(workDir, 'fnshift-state.json') },
    drain: { timeoutMs: 2000 },
    ...c,
  });
  let revision = 0;
  const writeConfig = async (c: object) => {
    // JSON is YAML; the temp name is unique per write, so two quick writes never share a file.
    const temp = join(workDir, `.fnshift.yaml.${process.pid}.${revision++}`);
    await writeFile(temp, `${JSON.stringify(complete(c), null, 2)}\n`);
    await rename(temp, configPath);
  };
  await writeConfig(config);
  const token = randomBytes(16).toString('hex');
  let onListening: (addresses: { data: string; admin: string }) => void = () => {};
  const listening = new Promise<{ data: string; admin: string }>((resolve) => {
    onListening = resolve;
  });
  const child = spawnChild('fnshift', process.execPath, [CLI, 'run', '-c', configPath], {
    cwd: workDir,
    env: { ...process.env, [TOKEN_ENV]: token, FNSHIFT_LOG_LEVEL: process.env.FNSHIFT_LOG_LEVEL ?? 'info' },
    onLine: (line) => {
      if (!line.includes('fnshift is listening')) return;
      try {
        const entry = JSON.parse(line) as { data?: string; admin?: string };
        if (entry.data && entry.admin) onListening({ data: entry.data, admin: entry.admin });
      } catch {
        // not a JSON log line
      }
    },
  });
  const addresses = await Promise.race([
    listening,
    child.exited().then(() => {
      throw exitError(child);
    }),
    new Promise<never>((_, reject) =>
      setTimeout(
        () =>
          reject(
            new LoadtestError(
              'FNSHIFT_LOADTEST_START',
              `fnshift did not log "fnshift is listening" in ${START_TIMEOUT_MS} ms: ${child.outputTail().slice(-500)}`,
            ),
          ),
        START_TIMEOUT_MS,
      ).unref(),
    ),
  ]).catch(async (error: unknown) => {
    await child.stop();
    throw error;
  });
  return {
    data: addresses.data,
    admin: createAdminClient(addresses.admin, token),
    configPath,
    child,
    writeConfig,
    stop: () => child.stop(),
  };
}
