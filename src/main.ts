// Process entry for `fnshift run`: load config and state, start, and own the process's signals and
// fatal errors.
import cluster from 'node:cluster';
import { resolve } from 'node:path';
import { readToken } from './admin/auth.ts';
import { createApp } from './app.ts';
import { createWorkerPool, type WorkerPool } from './cluster/primary.ts';
import { runWorker } from './cluster/worker.ts';
import { loadConfigFile } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { loadState } from './rollout/state.ts';
import { startTelemetry } from './telemetry/index.ts';
import { createLogger, type Logger } from './telemetry/log.ts';
import { sumCounters } from './telemetry/metrics.ts';

export type RunOptions = {
  configFile?: string;
  /** An in-memory config (the demo); reloads are off without a file. */
  config?: Config;
  logger?: Logger;
  /** Leave process-level handlers and signals alone (when embedded, e.g. by the demo). */
  isEmbedded?: boolean;
};

function installFatalHandlers(logger: Logger): void {
  // A broken invariant must not keep serving in an unknown state: log it, then exit so the supervisor
  // restarts us (Node's process docs on 'uncaughtException').
  const die = (kind: string) => (error: unknown) => {
    logger.fatal({ err: error }, kind);
    logger.flush?.();
    process.exit(70);
  };
  process.on('uncaughtException', die('uncaught exception'));
  process.on('unhandledRejection', die('unhandled rejection'));
}

/** True in a process the worker mode forked: it serves data and takes its config from the primary. */
export function isWorkerProcess(): boolean {
  return cluster.isWorker && process.env.FNSHIFT_WORKER === '1';
}

export async function runAsWorker(): Promise<void> {
  const logger = createLogger();
  installFatalHandlers(logger);
  await runWorker(logger);
}

export async function run(options: RunOptions) {
  const logger = options.logger ?? createLogger();
  if (!options.isEmbedded) installFatalHandlers(logger);
  const file = options.configFile ? resolve(options.configFile) : undefined;
  const loaded = file ? await loadConfigFile(file) : { config: options.config!, text: '' };
  const config = loaded.config;
  const stateFile = resolve(config.state.file);
  const { state, warning } = await loadState(stateFile);
  if (warning) logger.warn({ stateFile }, `STATE IGNORED: ${warning}`);
  const adminToken = readToken(config.admin);
  const adminHost = config.admin.listen.slice(0, config.admin.listen.lastIndexOf(':'));
  if (!adminToken && !/^(127\.|\[?::1\]?$|localhost$)/.test(adminHost)) {
    logger.warn(
      { admin: config.admin.listen, tokenEnv: config.admin.tokenEnv },
      'the admin API listens beyond loopback with no token: anyone who reaches it can change weights',
    );
  }
  // Telemetry subscribes before the first request; it reads the app lazily, at scrape time.
  // Worker mode: the data plane runs in `workers` processes; this one keeps the control plane.
  const pool: WorkerPool | undefined =
    config.workers > 1 && !options.isEmbedded
      ? createWorkerPool({ count: config.workers, logger, windows: () => app.windows, sumCounters })
      : undefined;
  const telemetry = startTelemetry({
    logger,
    snapshot: () => app.snapshot,
    breakerState: (name) => pool?.breakerState(name) ?? app.breakers.state(name),
    peers: pool ? () => pool.metrics() : undefined,
  });
  const app = createApp(config, {
    remote: pool,
    logger,
    metrics: telemetry.metrics,
    state,
    stateFile,
    configFile: file ? { path: file, text: loaded.text } : undefined,
    adminToken,
  });
  // Handlers go in before the listeners open: a SIGHUP that arrives between 'listening' and their
  // installation would otherwise take Node's default action and kill the process.
  if (!options.isEmbedded) {
    const stop = (signal: string) => {
      logger.info({ signal }, 'stopping');
      app.shutdown().then(
        async ({ isClean }) => {
          // Spans of the drained requests are flushed (bounded) before the exit.
          await telemetry.shutdown();
          if (!isClean) logger.warn('the drain deadline cut requests still in flight');
          logger.flush?.();
          // Exit 0 even after a cut drain: Kubernetes reads a sidecar's non-zero exit as a crash.
          process.exit(0);
        },
        (error: unknown) => {
          logger.fatal({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      app.reloader?.reload('SIGHUP').catch((error: unknown) => logger.error({ err: error }, 'reload failed'));
    });
  }
  const addresses = await app.start();
  return { app, addresses, telemetry };
}
