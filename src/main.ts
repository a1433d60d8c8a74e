// Process entry for `fnshift run`: load the config, start, and own the process's signals and fatal errors.
import { createApp } from './app.ts';
import { loadConfigFile } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { createLogger, type Logger } from './telemetry/log.ts';

export type RunOptions = { configFile?: string; config?: Config; logger?: Logger };

export async function run(options: RunOptions) {
  const logger = options.logger ?? createLogger();
  // A broken invariant must not keep serving in an unknown state: log it, then exit so the
  // supervisor restarts us (Node's process docs on 'uncaughtException').
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    logger.flush?.();
    process.exit(70);
  });
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled rejection');
    logger.flush?.();
    process.exit(70);
  });
  const config = options.config ?? (await loadConfigFile(options.configFile!));
  const app = createApp(config, { logger });
  const addresses = await app.start();
  const stop = (signal: string) => {
    logger.info({ signal }, 'stopping');
    app.shutdown().then(
      ({ isClean }) => {
        logger.flush?.();
        // Exit 0 even after a cut drain: Kubernetes reads a sidecar's non-zero exit as a crash.
        if (!isClean) logger.warn('the drain deadline cut requests still in flight');
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
  return { app, addresses };
}
