// Telemetry for one fnshift process: metrics always, tracing when OTEL_* configures an exporter, a sampled
// access log when asked, and a log line per breaker transition. Everything listens; nothing is called.
import { type AccessLogOptions, startAccessLog } from './access-log.ts';
import { type BreakerEvent, breakerChannels, listen } from './events.ts';
import type { Logger } from './log.ts';
import { createMetrics, type Metrics, type MetricsOptions } from './metrics.ts';
import { traceIdOf } from './spans.ts';
import { startTracing } from './tracing.ts';

export type { Metrics } from './metrics.ts';

export type TelemetryOptions = MetricsOptions & {
  logger: Logger;
  /** Off when absent, unless FNSHIFT_ACCESS_LOG_SAMPLE_RATIO sets a ratio. */
  accessLog?: Pick<AccessLogOptions, 'sampleRatio'>;
  /** Defaults to process.env, read once here. */
  env?: NodeJS.ProcessEnv;
};

export type Telemetry = {
  readonly metrics: Metrics;
  readonly isTracing: boolean;
  /** Stops listening and flushes the spans still queued; call it before the process exits. */
  shutdown(): Promise<void>;
};

function logBreakerTransitions(logger: Logger): () => void {
  const onOpen = ({ functionName }: BreakerEvent) =>
    logger.warn({ function: functionName }, 'breaker open: the function’s share goes to legacy');
  const onHalfOpen = ({ functionName }: BreakerEvent) =>
    logger.info({ function: functionName }, 'breaker half-open: one probe call goes to the function');
  const onClose = ({ functionName }: BreakerEvent) =>
    logger.info({ function: functionName }, 'breaker closed: the function takes its share again');
  const stops = [
    listen(breakerChannels.open, onOpen),
    listen(breakerChannels.half_open, onHalfOpen),
    listen(breakerChannels.close, onClose),
  ];
  return () => {
    for (const stop of stops) stop();
  };
}

/** The OTLP destination for the startup line: scheme, host and port only (a path or query may hold a key). */
function exporterOrigin(env: NodeJS.ProcessEnv): string | undefined {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return endpoint && URL.canParse(endpoint) ? new URL(endpoint).origin : undefined;
}

/** FNSHIFT_ACCESS_LOG_SAMPLE_RATIO: a share from 0 to 1; anything else leaves the access log off, saying so. */
function accessLogRatio(options: TelemetryOptions, env: NodeJS.ProcessEnv): number {
  if (options.accessLog) return options.accessLog.sampleRatio;
  const raw = env.FNSHIFT_ACCESS_LOG_SAMPLE_RATIO;
  if (raw === undefined || raw.trim() === '') return 0;
  const ratio = Number(raw);
  if (Number.isFinite(ratio) && ratio >= 0 && ratio <= 1) return ratio;
  options.logger.warn(
    { FNSHIFT_ACCESS_LOG_SAMPLE_RATIO: raw },
    'access log off: the sample ratio must be from 0 to 1',
  );
  return 0;
}

export function startTelemetry(options: TelemetryOptions): Telemetry {
  const { logger } = options;
  const env = options.env ?? process.env;
  const metrics = createMetrics({
    snapshot: options.snapshot,
    breakerState: options.breakerState,
    plane: options.plane,
    peers: options.peers,
  });
  const tracing = startTracing({ snapshot: options.snapshot, env, logger });
  if (tracing) {
    logger.info(
      {
        exporter: env.OTEL_TRACES_EXPORTER ?? 'otlp',
        endpoint: exporterOrigin(env),
        sampler: env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on',
        samplerArg: env.OTEL_TRACES_SAMPLER_ARG,
      },
      'tracing on',
    );
  }
  const stopAccessLog = startAccessLog({
    logger,
    sampleRatio: accessLogRatio(options, env),
    traceIdOf: tracing ? traceIdOf : undefined,
  });
  const stopBreakerLog = logBreakerTransitions(logger);

  let isStopped = false;
  return {
    metrics,
    isTracing: tracing !== undefined,
    async shutdown() {
      if (isStopped) return;
      isStopped = true;
      stopBreakerLog();
      stopAccessLog();
      metrics.stop();
      await tracing?.shutdown();
    },
  };
}
