// The one OTel SDK import: starts the SDK from the standard OTEL_* environment (exporter, endpoint,
// sampler, resource, propagators) and feeds it the spans of spans.ts. Off unless an exporter is configured.

import { createRequire } from 'node:module';
import { context, DiagLogLevel, diag, propagation, trace } from '@opentelemetry/api';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import pkg from '../../package.json' with { type: 'json' };
import type { Config } from '../config/schema.ts';
import type { Snapshot } from '../config/snapshot.ts';
import type { Logger } from './log.ts';
import { traceRequests } from './spans.ts';

export type TracingOptions = {
  /** Where the SDK's own diagnostics go (export failures…); the SDK's default is the console. */
  logger?: Logger;
  /** For `http.route`: the path template a route matches. */
  snapshot?: () => Snapshot;
  /** Defaults to process.env; only read to decide whether to start (the SDK reads process.env itself). */
  env?: NodeJS.ProcessEnv;
};

export type Tracing = { shutdown(): Promise<void> };

const DEFAULT_SERVICE_NAME = 'fnshift';
/**
 * The most the final flush may add to a shutdown. With the collector down, the exporter retries until
 * OTEL_EXPORTER_OTLP_TIMEOUT (10 s): added to the drain, that could outlast Kubernetes' 30 s grace period.
 */
const FLUSH_TIMEOUT_MS = 3000;

let active: Tracing | undefined;

function isTrue(value: string | undefined): boolean {
  return value?.trim().toLowerCase() === 'true';
}

/**
 * Tracing runs when the SDK is not disabled and something says where spans go: an OTLP endpoint, an
 * explicit exporter, or an OTel config file. Unlike the SDK's default (export to localhost:4318), an
 * unconfigured sidecar exports nothing and pays nothing.
 */
export function isTracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if (isTrue(env.OTEL_SDK_DISABLED)) return false;
  if (env.OTEL_CONFIG_FILE) return true;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (exporters.includes('none')) return false;
  if (exporters.length > 0) return true;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/** `service.name` is fnshift unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES says otherwise. */
function defaultResourceAttributes(env: NodeJS.ProcessEnv): Record<string, string> {
  const given = new Set(
    (env.OTEL_RESOURCE_ATTRIBUTES ?? '').split(',').map((pair) => pair.split('=')[0]!.trim()),
  );
  const attributes: Record<string, string> = {};
  if (!env.OTEL_SERVICE_NAME && !given.has(ATTR_SERVICE_NAME))
    attributes[ATTR_SERVICE_NAME] = DEFAULT_SERVICE_NAME;
  if (!given.has(ATTR_SERVICE_VERSION)) attributes[ATTR_SERVICE_VERSION] = pkg.version;
  return attributes;
}

const DIAG_LEVELS: Readonly<Record<string, DiagLogLevel>> = {
  none: DiagLogLevel.NONE,
  error: DiagLogLevel.ERROR,
  warn: DiagLogLevel.WARN,
  info: DiagLogLevel.INFO,
  debug: DiagLogLevel.DEBUG,
  verbose: DiagLogLevel.VERBOSE,
  all: DiagLogLevel.ALL,
};

/** Errors stringify to `{}`; keep what says what went wrong. */
function plain(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
}

/** The SDK's diagnostics as JSON log lines: its console logger would put plain text into our stdout. */
function logDiagnostics(logger: Logger, env: NodeJS.ProcessEnv): void {
  const log = logger.child({ log: 'otel' });
  const line =
    (level: 'error' | 'warn' | 'info' | 'debug') =>
    (message: string, ...args: unknown[]) =>
      log[level](args.length > 0 ? { details: args.map(plain) } : {}, message);
  diag.setLogger(
    {
      error: line('error'),
      warn: line('warn'),
      info: line('info'),
      debug: line('debug'),
      verbose: line('debug'),
    },
    {
      logLevel: DIAG_LEVELS[env.OTEL_LOG_LEVEL?.trim().toLowerCase() ?? 'info'] ?? DiagLogLevel.INFO,
      suppressOverrideMessage: true,
    },
  );
}

/** A route's match as a template: an exact path as is, a prefix as `prefix/*`. */
function templatesOf(config: Config): Map<string, string> {
  const templates = new Map<string, string>();
  for (const route of config.routes) {
    const { path, pathPrefix } = route.match;
    if (path !== undefined) templates.set(route.name, path);
    else if (pathPrefix !== undefined)
      templates.set(route.name, pathPrefix === '/' ? '/*' : `${pathPrefix.replace(/\/$/, '')}/*`);
  }
  return templates;
}

function routeTemplates(snapshot: () => Snapshot): (routeName: string) => string | undefined {
  const byConfig = new WeakMap<Config, Map<string, string>>();
  return (routeName) => {
    const { config } = snapshot();
    let templates = byConfig.get(config);
    if (!templates) {
      templates = templatesOf(config);
      byConfig.set(config, templates);
    }
    return templates.get(routeName);
  };
}

/**
 * Starts the SDK and the span makers; undefined when tracing is off. Once per process: a second call
 * returns the running instance. `shutdown()` flushes the spans still queued.
 */
export function startTracing(options: TracingOptions = {}): Tracing | undefined {
  if (active) return active;
  const env = options.env ?? process.env;
  if (!isTracingConfigured(env)) return undefined;
  // Loaded only when tracing is on: the SDK and its exporters are most of fnshift's start-up time and
  // memory, which every pod and every probe-gated start would otherwise pay.
  const { startNodeSdk } = createRequire(import.meta.url)(
    '@opentelemetry/sdk-node',
  ) as typeof import('@opentelemetry/sdk-node');
  const sdk = startNodeSdk({
    resourceAttributes: defaultResourceAttributes(env),
    // Metrics are prom-client's on the admin port; OTel logs are not ours to send.
    metricReaders: [],
    logRecordProcessors: [],
  });
  if (options.logger) logDiagnostics(options.logger, env);
  const stopSpans = traceRequests({
    tracer: trace.getTracer('fnshift', pkg.version),
    routeTemplate: options.snapshot ? routeTemplates(options.snapshot) : undefined,
  });
  const tracing: Tracing = {
    async shutdown() {
      if (active !== tracing) return;
      active = undefined;
      stopSpans();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, FLUSH_TIMEOUT_MS);
      });
      const flushed = sdk
        .shutdown()
        .catch((error: unknown) =>
          options.logger?.warn({ err: error }, 'tracing: the last spans were not exported'),
        );
      await Promise.race([flushed, deadline]);
      clearTimeout(timer);
      // So that a later start in this process (tests) may register the globals again.
      trace.disable();
      propagation.disable();
      context.disable();
      diag.disable();
    },
  };
  active = tracing;
  return tracing;
}
