// One connection pool per upstream origin, with every limit explicit.
// Pools outlive config snapshots: an unchanged upstream keeps its warm sockets across a reload.
import type { PoolConfig } from '../config/schema.ts';
import { FnshiftError } from '../errors.ts';
import { type ConnectionPool, createConnectionPool } from './connection-pool.ts';

export type Upstream = {
  readonly key: string;
  readonly origin: string;
  /** The Host header it is sent: `host[:port]` of its URL. */
  readonly host: string;
  /** The URL's path without a trailing slash (`/function/recommend`), prefixed to every forwarded path. */
  readonly basePath: string;
  readonly pool: ConnectionPool;
  readonly limits: Readonly<PoolConfig>;
  /** Requests dispatched and not yet settled; bounded by connections + maxPending. */
  inFlight: number;
};

export type UpstreamSpec = { url: string; pool: PoolConfig };

function keyOf(spec: UpstreamSpec): string {
  return JSON.stringify([spec.url, spec.pool]);
}

export function createUpstream(spec: UpstreamSpec): Upstream {
  const url = new URL(spec.url);
  const limits = spec.pool;
  const pool = createConnectionPool(url, limits);
  const basePath = url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
  return { key: keyOf(spec), origin: url.origin, host: url.host, basePath, pool, limits, inFlight: 0 };
}

/** Reserve a slot or refuse at once, so a hanging upstream cannot queue requests without bound. */
export function acquire(upstream: Upstream): FnshiftError | undefined {
  if (upstream.inFlight >= upstream.limits.connections + upstream.limits.maxPending) {
    return new FnshiftError(
      'FNSHIFT_OVERLOADED',
      `${upstream.inFlight} requests already waiting for ${upstream.origin}`,
    );
  }
  upstream.inFlight++;
  return undefined;
}

export function release(upstream: Upstream): void {
  upstream.inFlight--;
}

/** Keeps pools across snapshots: reuses unchanged ones, closes the ones no snapshot names any more. */
export function createUpstreamRegistry() {
  let current = new Map<string, Upstream>();
  return {
    /** Returns upstreams for the given specs, keyed like the input. */
    update<K extends string>(specs: Record<K, UpstreamSpec>): Record<K, Upstream> {
      const next = new Map<string, Upstream>();
      const out = {} as Record<K, Upstream>;
      for (const name of Object.keys(specs) as K[]) {
        const spec = specs[name];
        const key = keyOf(spec);
        const upstream = next.get(key) ?? current.get(key) ?? createUpstream(spec);
        next.set(key, upstream);
        out[name] = upstream;
      }
      for (const [key, upstream] of current) {
        // Let in-flight requests finish on the old pool; close() waits for them.
        if (!next.has(key)) upstream.pool.close().catch(() => {});
      }
      current = next;
      return out;
    },
    async close(): Promise<void> {
      await Promise.all([...current.values()].map((u) => u.pool.close().catch(() => {})));
      current = new Map();
    },
    async destroy(): Promise<void> {
      await Promise.all([...current.values()].map((u) => u.pool.destroy().catch(() => {})));
      current = new Map();
    },
    list(): Upstream[] {
      return [...current.values()];
    },
  };
}

export type UpstreamRegistry = ReturnType<typeof createUpstreamRegistry>;
