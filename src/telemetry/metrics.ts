// The one prom-client import: RED metrics per route, target and upstream, breaker and rollout state, on a
// registry of our own (never the global one, which an embedding app may own). Labels are route and
// function names from the config, never raw paths, so series stay bounded whatever callers send.
import {
  AggregatorRegistry,
  Counter,
  collectDefaultMetrics,
  Gauge,
  type Metric,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from 'prom-client';
import pkg from '../../package.json' with { type: 'json' };
import type { Snapshot } from '../config/snapshot.ts';
import type { ConnectionPool, PoolTotals } from '../forwarding/connection-pool.ts';
import { fallbackReason } from '../forwarding/fallback.ts';
import {
  type AttemptEvent,
  type BreakerEvent,
  breakerChannels,
  channels,
  listen,
  type ReloadEvent,
  type RequestEvent,
  type RolloutEvent,
  reloadChannel,
  rolloutChannel,
} from './events.ts';
import { createHotCounter, createHotHistogram, type HotCounter, type HotHistogram } from './hot-series.ts';

/** The label for requests that matched no route (or were refused before matching). */
export const UNMATCHED = 'unmatched';

/** OTel's default HTTP duration buckets (semconv http-metrics, also instrumentation-undici's), in seconds. */
export const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** fnshift's own share of a request: tens of µs when healthy, so the buckets start at 10 µs. */
export const OVERHEAD_BUCKETS_S = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
];

/**
 * How often prom-client samples the event loop's delay for `nodejs_eventloop_lag_*`. Its 10 ms default
 * wakes an idle sidecar 100 times a second: about 9 ms of CPU per second in every pod. At 50 ms a block of
 * 50 ms or more is always seen, shorter ones in proportion; a slow request shows in fnshift_overhead_seconds.
 */
const EVENT_LOOP_SAMPLE_MS = 50;

const BREAKER_STATE_VALUES: Readonly<Record<string, number>> = { closed: 0, half_open: 1, open: 2 };

/** The rollout statuses of `src/rollout/state.ts`; a status outside this list still gets its own series. */
const ROLLOUT_STATUSES = ['idle', 'progressing', 'paused', 'succeeded', 'failed', 'aborted'];

/** One process's metrics as JSON, as they travel from a worker to the primary. */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/**
 * The sum of several processes' counters and histograms. Gauges are left out: a process that is gone
 * has no current memory or event-loop lag, but what it counted still counts.
 */
export async function sumCounters(list: MetricsJson[]): Promise<MetricsJson> {
  const monotonic = list.map((metrics) =>
    metrics.filter((metric) => ['counter', 'histogram'].includes(String(metric.type))),
  );
  return (await AggregatorRegistry.aggregate(monotonic).getMetricsAsJSON()) as MetricsJson;
}

export type MetricsOptions = {
  snapshot: () => Snapshot;
  /** closed | half_open | open | disabled, or undefined for an unknown function. */
  breakerState: (functionName: string) => string | undefined;
  /**
   * `data` in a worker: only what the data plane counts (requests, attempts, fallbacks, breaker events)
   * and the process's own metrics; the primary keeps the control plane's gauges, once.
   */
  plane?: 'all' | 'data';
  /** In the primary with workers: their metrics, summed into every scrape. */
  peers?: () => Promise<MetricsJson[]>;
};

export type Metrics = {
  /** The Content-Type of `render()`'s text (Prometheus text format 0.0.4). */
  readonly contentType: string;
  render(): Promise<string>;
  /** This process's metrics as JSON (what a worker sends the primary). */
  json(): Promise<MetricsJson>;
  /** Stops listening; the registry keeps its last values. */
  stop(): void;
};

export function statusClass(statusCode: number | undefined): string {
  if (statusCode === undefined || statusCode < 100 || statusCode > 599) return 'none';
  return `${Math.floor(statusCode / 100)}xx`;
}

/** A labelled child per label tuple, looked up once: prom-client hashes its label object on every call. */
function childCache<C>(make: (...values: string[]) => C): (...values: string[]) => C {
  const cache = new Map<string, C>();
  return (...values) => {
    const key = values.join('\u0000');
    let child = cache.get(key);
    if (child === undefined) {
      child = make(...values);
      cache.set(key, child);
    }
    return child;
  };
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  // The registry reads a metric's name and get() only; hot-series.ts's objects give both, in its format.
  const hot = <T extends HotCounter | HotHistogram>(metric: T): T => {
    registry.registerMetric(metric as unknown as Metric);
    return metric;
  };
  const registers = [registry];
  // A worker's copies of the control plane's series would be summed with the primary's: not exposed.
  const controlRegisters = options.plane === 'data' ? [] : registers;
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });

  new Gauge({
    name: 'fnshift_build_info',
    help: 'Always 1; the labels say which fnshift and Node.js are running.',
    labelNames: ['version', 'node'],
    registers: controlRegisters,
  }).set({ version: pkg.version, node: process.version }, 1);

  // The three series every request touches are hot-series.ts's, read by the registry at scrape time.
  const serverDuration = hot(
    createHotHistogram(
      'http_server_request_duration_seconds',
      'Time from receiving a request to the end of its response, per route and the target that answered.',
      ['route', 'target', 'status_class'],
      DURATION_BUCKETS_S,
    ),
  );
  const overhead = hot(
    createHotHistogram(
      'fnshift_overhead_seconds',
      "fnshift's own time on a request: its duration less the time it waited on upstreams (an attempt's " +
        'duration less the work fnshift did in it), so routing, writing the request, parsing and relaying ' +
        'the response, and reading a body it buffers for a replay; per route and the target that answered.',
      ['route', 'target'],
      OVERHEAD_BUCKETS_S,
    ),
  );
  const requests = hot(
    createHotCounter(
      'fnshift_requests_total',
      'Requests answered, per route, the target that answered (function, legacy, none) and status class.',
      ['route', 'target', 'status_class'],
    ),
  );
  const fallbacks = new Counter({
    name: 'fnshift_fallbacks_total',
    help: 'Requests chosen for the function that legacy answered instead, per route and reason.',
    labelNames: ['route', 'reason'],
    registers,
  });
  const clientDuration = hot(
    createHotHistogram(
      'http_client_request_duration_seconds',
      'Time of one upstream attempt, per upstream (legacy or a function name), target and outcome.',
      ['upstream', 'target', 'outcome', 'status_class'],
      DURATION_BUCKETS_S,
    ),
  );
  const connectFailures = new Counter({
    name: 'fnshift_upstream_connect_failures_total',
    help: 'Attempts that never reached the upstream: refused, unreachable, DNS failure or connect timeout.',
    labelNames: ['upstream'],
    registers,
  });
  // Each upstream's sockets, read from its pool at scrape time. When a reload gives a name another pool
  // (another URL or other pool settings), the old pool's sockets leave the name with it: they count as
  // opened up to now and as closed, and the new pool's count on from there. So no counter goes back, and
  // opened less closed stays the sockets the name's pool has open.
  const poolCounter = (name: string, help: string, pick: keyof PoolTotals) => {
    const seen = new Map<string, { pool: ConnectionPool; value: number }>();
    const counter: Counter<'upstream'> = new Counter({
      name,
      help,
      labelNames: ['upstream'],
      registers,
      collect: () => {
        const snapshot = options.snapshot();
        for (const [upstream, { pool }] of [
          ['legacy', snapshot.legacy],
          ...Object.entries(snapshot.functions),
        ] as const) {
          const last = seen.get(upstream);
          const value = pool.totals[pick];
          let delta = value;
          if (last?.pool === pool) delta -= last.value;
          else if (last !== undefined) delta += last.pool.totals.opened - last.value;
          counter.inc({ upstream }, delta);
          seen.set(upstream, { pool, value });
        }
      },
    });
  };
  poolCounter(
    'fnshift_upstream_connections_opened_total',
    'Sockets connected to each upstream (legacy or a function name). Many per request: keep-alive is not holding.',
    'opened',
  );
  poolCounter(
    'fnshift_upstream_connections_closed_total',
    'Sockets to each upstream closed since, by either side; opened less closed is the number open now.',
    'closed',
  );
  const breakerTransitions = new Counter({
    name: 'fnshift_breaker_transitions_total',
    help: 'Breaker state changes per function: open, half_open, close.',
    labelNames: ['function', 'event'],
    registers,
  });
  const breakerRejections = new Counter({
    name: 'fnshift_breaker_rejections_total',
    help: 'Function calls the breaker refused without trying (open, or a second call while half-open).',
    labelNames: ['function'],
    registers,
  });
  const reloads = new Counter({
    name: 'fnshift_config_reloads_total',
    help: 'Config reload attempts by result: ok, invalid (the last good config stays), unchanged.',
    labelNames: ['result'],
    registers: controlRegisters,
  });
  const lastReloadOk = new Gauge({
    name: 'fnshift_config_last_reload_successful',
    help: '1 when the last config reload was applied or unchanged, 0 when it was refused as invalid.',
    registers: controlRegisters,
  });
  const rolloutStep = new Gauge({
    name: 'fnshift_rollout_step',
    help: 'The rollout step in force per route, counted from 1; 0 before the first step.',
    labelNames: ['route'],
    registers: controlRegisters,
  });
  const rolloutState = new Gauge({
    name: 'fnshift_rollout_state',
    help: 'Per route, 1 for the rollout status in force and 0 for the others.',
    labelNames: ['route', 'state'],
    registers: controlRegisters,
  });
  const breakerState: Gauge<'function'> = new Gauge({
    name: 'fnshift_breaker_state',
    help: 'Breaker state per function: 0 closed, 1 half_open, 2 open (absent when the breaker is disabled).',
    labelNames: ['function'],
    registers: controlRegisters,
    collect: () => {
      breakerState.reset();
      for (const name of Object.keys(options.snapshot().config.functions)) {
        const value = BREAKER_STATE_VALUES[options.breakerState(name) ?? ''];
        if (value !== undefined) breakerState.set({ function: name }, value);
      }
    },
  });
  const weight: Gauge<'route'> = new Gauge({
    name: 'fnshift_route_weight_percent',
    help: 'The weight in force per route: percent of requests for the function.',
    labelNames: ['route'],
    registers: controlRegisters,
    collect: () => {
      weight.reset();
      for (const [route, { weightPercent }] of options.snapshot().weights)
        weight.set({ route }, weightPercent);
    },
  });
  for (const result of ['ok', 'invalid', 'unchanged']) reloads.inc({ result }, 0);
  lastReloadOk.set(1);

  const fallbackSeries = childCache((route, reason) => fallbacks.labels(route, reason));

  const onRequestEnd = (event: RequestEvent) => {
    const route = event.route ?? UNMATCHED;
    const labels = [route, event.target ?? 'none', statusClass(event.statusCode)];
    serverDuration.observe(labels, event.durationMs / 1000);
    overhead.observe([route, labels[1]!], Math.max(0, event.durationMs - event.upstreamWaitMs) / 1000);
    requests.inc(labels);
    if (event.fallback) fallbackSeries(route, event.fallback).inc();
  };
  const onAttemptEnd = (event: AttemptEvent) => {
    clientDuration.observe(
      [event.upstreamName, event.target, event.outcome ?? 'none', statusClass(event.statusCode)],
      event.durationMs / 1000,
    );
    if (
      event.outcome === 'failed' &&
      event.errorCode &&
      fallbackReason({ code: event.errorCode }) === 'connect_failure'
    ) {
      connectFailures.inc({ upstream: event.upstreamName });
    }
  };
  const onBreaker = (event: BreakerEvent) => {
    if (event.event === 'reject') breakerRejections.inc({ function: event.functionName });
    else breakerTransitions.inc({ function: event.functionName, event: event.event });
  };
  const onReload = (event: ReloadEvent) => {
    reloads.inc({ result: event.result });
    lastReloadOk.set(event.result === 'invalid' ? 0 : 1);
  };
  const onRollout = (event: RolloutEvent) => {
    rolloutStep.set({ route: event.route }, Math.max(0, event.stepIndex + 1));
    const states = ROLLOUT_STATUSES.includes(event.status)
      ? ROLLOUT_STATUSES
      : [...ROLLOUT_STATUSES, event.status];
    for (const state of states)
      rolloutState.set({ route: event.route, state }, state === event.status ? 1 : 0);
  };

  const unsubscribers = [
    listen(channels.requestEnd, onRequestEnd),
    listen(channels.attemptEnd, onAttemptEnd),
    listen(reloadChannel, onReload),
    listen(rolloutChannel, onRollout),
    ...Object.values(breakerChannels).map((ch) => listen(ch, onBreaker)),
  ];

  return {
    contentType: registry.contentType,
    async render() {
      if (!options.peers) return registry.metrics();
      const all = [(await registry.getMetricsAsJSON()) as MetricsJson, ...(await options.peers())];
      return AggregatorRegistry.aggregate(all).metrics();
    },
    json: async () => (await registry.getMetricsAsJSON()) as MetricsJson,
    stop() {
      for (const unsubscribe of unsubscribers.splice(0)) unsubscribe();
    },
  };
}
