// A runtime snapshot: one validated config with everything derived from it, built once and swapped whole,
// so every request sees one consistent view however often the config or the weights change.
import { createTrustCheck, type TrustCheck } from '../forwarding/headers.ts';
import type { Upstream, UpstreamRegistry } from '../forwarding/upstreams.ts';
import { compileRoutes, type Matcher } from '../routing/match.ts';
import type { Config } from './schema.ts';

export type WeightSource = 'config' | 'admin' | 'rollout';

export type Snapshot = Readonly<{
  config: Config;
  matcher: Matcher;
  legacy: Upstream;
  functions: Readonly<Record<string, Upstream>>;
  /** The weight in force per route: a runtime override, else the config's value. */
  weights: ReadonlyMap<string, { weightPercent: number; source: WeightSource }>;
  isTrustedPeer: TrustCheck;
}>;

export function createSnapshot(
  config: Config,
  upstreams: UpstreamRegistry,
  overrides: ReadonlyMap<string, { weightPercent: number; source: 'admin' | 'rollout' }> = new Map(),
): Snapshot {
  const named = upstreams.update({ ' legacy': config.legacy, ...config.functions });
  const { ' legacy': legacy, ...functions } = named;
  const weights = new Map<string, { weightPercent: number; source: WeightSource }>();
  for (const route of config.routes) {
    const override = overrides.get(route.name);
    weights.set(route.name, override ?? { weightPercent: route.weight, source: 'config' });
  }
  return Object.freeze({
    config,
    matcher: compileRoutes(config.routes),
    legacy: legacy!,
    functions: Object.freeze(functions),
    weights,
    isTrustedPeer: createTrustCheck(config.forwarding.trustedProxies),
  });
}
