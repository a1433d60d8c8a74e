// The fnshift config of a load test: the shop's three routes, each with its own function on the function
// fixture, sticky on x-user-id so that every route moves the same users first.
import type { FnshiftConfig } from './fnshift-process.ts';

export interface ShopConfigOptions {
  readonly legacyUrl: string;
  readonly functionUrl: string;
  readonly weightPercent: number;
  /** Merged into every function (timeoutMs, breaker…). */
  readonly functionSettings?: Readonly<Record<string, unknown>>;
  /** Merged into the recommend route (a rollout…). */
  readonly recommendRoute?: Readonly<Record<string, unknown>>;
  /** Top-level keys (reload…). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

export const shopRoutes = ['recommend', 'item', 'feedback'] as const;

export function shopConfig(options: ShopConfigOptions): FnshiftConfig {
  const fn = (name: string) => ({
    url: `${options.functionUrl}/${name}`,
    timeoutMs: 1000,
    ...options.functionSettings,
  });
  const route = (name: string, match: Record<string, unknown>) => ({
    name,
    match,
    function: name,
    weight: options.weightPercent,
    sticky: { header: 'x-user-id' },
  });
  return {
    legacy: { url: options.legacyUrl },
    functions: { recommend: fn('recommend'), item: fn('item'), feedback: fn('feedback') },
    routes: [
      { ...route('recommend', { pathPrefix: '/api/recommend' }), ...options.recommendRoute },
      route('item', { pathPrefix: '/api/item' }),
      route('feedback', { path: '/api/feedback', methods: ['POST'] }),
    ],
    ...options.extra,
  };
}
