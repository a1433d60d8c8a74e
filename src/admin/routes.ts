// The admin endpoints over the running app: health, readiness and the route table.
import type { Snapshot } from '../config/snapshot.ts';
import type { AdminTable } from './server.ts';
import { sendJson } from './server.ts';

export type AdminContext = {
  snapshot: () => Snapshot;
  isReady: () => boolean;
  breakerState?: (functionName: string) => string;
};

export function routeStatus(ctx: AdminContext) {
  const snap = ctx.snapshot();
  return {
    routes: snap.config.routes.map((route) => {
      const weight = snap.weights.get(route.name);
      return {
        name: route.name,
        function: route.function,
        match: route.match,
        weight: weight?.weightPercent ?? route.weight,
        weightSource: weight?.source ?? 'config',
        configWeight: route.weight,
        sticky: route.sticky ?? null,
        fallback: route.fallback,
        breaker: ctx.breakerState?.(route.function) ?? 'closed',
      };
    }),
  };
}

export function createAdminTable(ctx: AdminContext): AdminTable {
  return [
    { method: 'GET', pattern: /^\/livez$/, handle: (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      pattern: /^\/readyz$/,
      handle: (_req, res) =>
        ctx.isReady() ? sendJson(res, 200, { status: 'ready' }) : sendJson(res, 503, { status: 'not ready' }),
    },
    { method: 'GET', pattern: /^\/routes$/, handle: (_req, res) => sendJson(res, 200, routeStatus(ctx)) },
  ];
}
