// The admin endpoints: health, the route table with where each weight came from, and the operations
// (weights, rollouts, reload). Mutations need JSON, the bearer token when one is set, and valid input;
// an invalid one is a 400 and changes nothing.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Reloader } from '../config/reload.ts';
import type { Store } from '../config/store.ts';
import { FnshiftError } from '../errors.ts';
import { type RolloutAction, type RolloutController, rolloutActions } from '../rollout/controller.ts';
import { stepsOf } from '../rollout/gates.ts';
import { requireToken } from './auth.ts';
import { readJsonBody, requireJsonType } from './body.ts';
import { type AdminTable, sendJson } from './server.ts';

export type AdminContext = {
  store: Store;
  isReady: () => boolean;
  breakerState?: (functionName: string) => string | undefined;
  rollouts?: RolloutController;
  reloader?: Reloader;
  token?: string;
  metrics?: { contentType: string; render(): Promise<string> };
};

const weightBody = z.strictObject({
  weight: z
    .number({ error: 'weight must be a number from 0 to 100' })
    .min(0, 'weight must be from 0 to 100')
    .max(100, 'weight must be from 0 to 100')
    .refine((w) => Math.abs(Math.round(w * 100) - w * 100) < 1e-9, 'weight must be in steps of 0.01'),
});

const rolloutBody = z.strictObject({ action: z.enum(rolloutActions) });

function parseBody<T>(schema: z.ZodType<T>, raw: unknown): T {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) =>
      i.code === 'unrecognized_keys' ? `unknown key ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message,
    );
    throw new FnshiftError('FNSHIFT_BAD_REQUEST', problems.join('; '), { details: { problems } });
  }
  return result.data;
}

export function routeStatus(ctx: AdminContext) {
  const snap = ctx.store.snapshot;
  const state = ctx.store.state;
  const reload = ctx.reloader?.status();
  return {
    routes: snap.config.routes.map((route) => {
      const weight = snap.weights.get(route.name);
      const rollout = state.rollouts[route.name];
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
        rollout: route.rollout
          ? {
              ...(rollout ?? { status: 'idle' }),
              steps: stepsOf(route.rollout),
              intervalMs: route.rollout.intervalMs,
            }
          : null,
      };
    }),
    config: {
      lastReload: reload?.last ?? null,
      lastError: reload?.lastError ?? null,
    },
  };
}

export function createAdminTable(ctx: AdminContext): AdminTable {
  const mutation =
    (handle: (req: IncomingMessage, res: ServerResponse, params: string[], body: unknown) => Promise<void>) =>
    async (req: IncomingMessage, res: ServerResponse, params: string[]) => {
      requireToken(req, ctx.token);
      const body = await readJsonBody(req);
      await handle(req, res, params, body);
    };

  const table: AdminTable = [
    { method: 'GET', pattern: /^\/livez$/, handle: (_req, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      pattern: /^\/readyz$/,
      handle: (_req, res) =>
        ctx.isReady() ? sendJson(res, 200, { status: 'ready' }) : sendJson(res, 503, { status: 'not ready' }),
    },
    { method: 'GET', pattern: /^\/routes$/, handle: (_req, res) => sendJson(res, 200, routeStatus(ctx)) },
    {
      method: 'PUT',
      pattern: /^\/routes\/([^/]+)\/weight$/,
      handle: mutation(async (_req, res, [name], body) => {
        const { weight } = parseBody(weightBody, body);
        sendJson(res, 200, await ctx.store.setWeight(name!, weight));
      }),
    },
    {
      method: 'DELETE',
      pattern: /^\/routes\/([^/]+)\/weight$/,
      handle: async (req, res, [name]) => {
        requireToken(req, ctx.token);
        requireJsonType(req);
        sendJson(res, 200, await ctx.store.clearWeight(name!));
      },
    },
    {
      method: 'POST',
      pattern: /^\/routes\/([^/]+)\/rollout$/,
      handle: mutation(async (_req, res, [name], body) => {
        const { action } = parseBody(rolloutBody, body);
        if (!ctx.rollouts)
          throw new FnshiftError('FNSHIFT_CONFLICT', 'rollouts are not enabled in this process');
        const record = await ctx.rollouts.act(name!, action as RolloutAction);
        sendJson(res, 200, { name, action, rollout: record });
      }),
    },
    {
      method: 'POST',
      pattern: /^\/reload$/,
      handle: async (req, res) => {
        requireToken(req, ctx.token);
        requireJsonType(req);
        req.resume();
        if (!ctx.reloader)
          throw new FnshiftError('FNSHIFT_CONFLICT', 'this process was not started from a config file');
        const outcome = await ctx.reloader.reload('admin');
        if (outcome.result === 'invalid') {
          throw new FnshiftError(
            'FNSHIFT_CONFIG_INVALID',
            'the config file is invalid; the last good config stays',
            {
              details: { problems: outcome.problems ?? [] },
            },
          );
        }
        sendJson(res, 200, outcome);
      },
    },
  ];
  if (ctx.metrics) {
    const metrics = ctx.metrics;
    table.push({
      method: 'GET',
      pattern: /^\/metrics$/,
      handle: async (_req, res) => {
        const text = await metrics.render();
        res.writeHead(200, {
          'content-type': metrics.contentType,
          'content-length': Buffer.byteLength(text),
        });
        res.end(text);
      },
    });
  }
  return table;
}
