// A small client for fnshift's admin API: the route table, weights, rollouts, reload and /metrics.
import { LoadtestError } from './errors.ts';

const REQUEST_TIMEOUT_MS = 3000;

export interface RouteStatus {
  readonly name: string;
  readonly function: string;
  readonly weight: number;
  readonly breaker: string;
  readonly rollout: {
    readonly status: string;
    readonly stepIndex?: number;
    readonly weightPercent?: number;
    readonly failedChecks?: number;
    readonly lastCheck?: { readonly result?: string; readonly reason?: string };
  } | null;
}

export interface RoutesStatus {
  readonly routes: readonly RouteStatus[];
  readonly config: {
    readonly lastReload: { readonly at: string; readonly trigger: string; readonly outcome: unknown } | null;
    readonly lastError: unknown;
  };
}

export interface AdminClient {
  readonly url: string;
  routes(): Promise<RoutesStatus>;
  setWeight(route: string, weightPercent: number): Promise<void>;
  rollout(route: string, action: 'start' | 'pause' | 'resume' | 'abort' | 'promote'): Promise<unknown>;
  reload(): Promise<unknown>;
  /** Prometheus text, or undefined when this fnshift serves no /metrics. */
  metrics(): Promise<string | undefined>;
}

export function createAdminClient(url: string, token: string): AdminClient {
  const call = async (method: string, path: string, body?: unknown): Promise<Response> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    return response;
  };
  const json = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await call(method, path, body);
    const text = await response.text();
    if (!response.ok) {
      throw new LoadtestError(
        'FNSHIFT_LOADTEST_ADMIN',
        `${method} ${path} answered ${response.status}: ${text}`,
      );
    }
    return text ? JSON.parse(text) : undefined;
  };
  return {
    url,
    routes: async () => (await json('GET', '/routes')) as RoutesStatus,
    setWeight: async (route, weight) => {
      await json('PUT', `/routes/${encodeURIComponent(route)}/weight`, { weight });
    },
    rollout: (route, action) => json('POST', `/routes/${encodeURIComponent(route)}/rollout`, { action }),
    reload: () => json('POST', '/reload', {}),
    metrics: async () => {
      const response = await call('GET', '/metrics');
      const text = await response.text();
      return response.ok ? text : undefined;
    },
  };
}

/** The value of one Prometheus sample, summed over the series whose labels include `labels` (0 if none). */
export function metricValue(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const series = Object.fromEntries(
      [...(match[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [
        m[1],
        m[2],
      ]),
    );
    const value = Number(match[4]);
    // A sample that is not a number (a garbled line) is skipped, not allowed to turn the sum into NaN.
    if (Number.isFinite(value) && Object.entries(labels).every(([key, v]) => series[key] === v))
      total += value;
  }
  return total;
}

/** One histogram bucket: the upper bound in the metric's unit (Infinity for +Inf) and its cumulative count. */
export interface Bucket {
  readonly le: number;
  readonly count: number;
}

/** A histogram's cumulative buckets, summed over its series and sorted by bound; lines it cannot read are skipped. */
export function histogramBuckets(text: string, name: string): Bucket[] {
  const byBound = new Map<number, number>();
  const prefix = `${name}_bucket{`;
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const le = /[{,]le="([^"]+)"/.exec(line)?.[1];
    const count = Number(line.slice(line.lastIndexOf(' ') + 1));
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    if (le === undefined || Number.isNaN(bound) || !Number.isFinite(count)) continue;
    byBound.set(bound, (byBound.get(bound) ?? 0) + count);
  }
  return [...byBound].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
}

/**
 * The upper bound of the bucket that holds quantile `q` of what was observed between two scrapes (as
 * Prometheus' histogram_quantile would, without interpolating): an upper limit, exact to the bucket.
 * Undefined when nothing was observed in between.
 */
export function bucketQuantile(
  before: readonly Bucket[],
  after: readonly Bucket[],
  q: number,
): number | undefined {
  const counts = after.map(({ le, count }) => ({
    le,
    count: count - (before.find((b) => b.le === le)?.count ?? 0),
  }));
  const total = counts.at(-1)?.count ?? 0;
  if (!(total > 0)) return undefined;
  for (const { le, count } of counts) if (count >= q * total) return le;
  return Number.POSITIVE_INFINITY;
}
