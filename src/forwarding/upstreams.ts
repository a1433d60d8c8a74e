// One undici Pool per upstream origin, with every limit explicit (undici's defaults are unlimited or 300 s).
// Pools outlive config snapshots: an unchanged upstream keeps its warm sockets across a reload.
import { Pool } from 'undici';
import type { PoolConfig } from '../config/schema.ts';
import { FnshiftError } from '../errors.ts';

export type Upstream = {
  readonly key: string;
  readonly origin: string;
  /** The URL's path without a trailing slash (`/function/recommend`), prefixed to every forwarded path. */
  readonly basePath: string;
  readonly pool: Pool;
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
  const pool = new Pool(url.origin, {
    connections: limits.connections,
    pipelining: 1,
    connectTimeout: limits.connectTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Never trust a server's Keep-Alive hint for longer than our own setting.
    keepAliveMaxTimeout: limits.keepAliveTimeoutMs,
    keepAliveTimeoutThreshold: 1000,
    maxHeaderSize: limits.maxResponseHeaderBytes,
    maxResponseSize: limits.maxResponseBytes,
    // Per-request values override these; they are here so nothing runs at undici's 300 s default.
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const basePath = url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
  return { key: keyOf(spec), origin: url.origin, basePath, pool, limits, inFlight: 0 };
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
