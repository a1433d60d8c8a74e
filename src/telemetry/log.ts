// The one pino import: JSON lines to stdout (or a given stream), never query strings or secrets.
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  const level = options.level ?? process.env.FNSHIFT_LOG_LEVEL ?? 'info';
  return pino(
    {
      name: 'fnshift',
      level,
      base: { pid: process.pid },
      redact: {
        paths: ['authorization', 'token', '*.authorization', '*.token', 'headers.cookie'],
        censor: '[redacted]',
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** A logger that drops everything, for embedding and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
