// Test helper: a thin client for the admin API (one connection per call) and the route table it reports.
import { type Reply, send } from '../helpers/raw.ts';

export type RouteView = {
  name: string;
  weight: number;
  weightSource: 'config' | 'admin' | 'rollout';
  configWeight: number;
  rollout: (Record<string, unknown> & { status: string; weightPercent?: number }) | null;
};

export type RoutesView = {
  routes: RouteView[];
  config: { lastReload: unknown; lastError: { at: string; problems: string[] } | null };
};

export function json(reply: Reply): Record<string, unknown> {
  return JSON.parse(reply.body.toString()) as Record<string, unknown>;
}

export async function getRoutes(adminUrl: string): Promise<RoutesView> {
  const reply = await send(`${adminUrl}/routes`);
  if (reply.status !== 200) throw new Error(`GET /routes answered ${reply.status}`);
  return json(reply) as unknown as RoutesView;
}

export async function getRoute(adminUrl: string, name: string): Promise<RouteView> {
  const route = (await getRoutes(adminUrl)).routes.find((r) => r.name === name);
  if (!route) throw new Error(`GET /routes has no route ${name}`);
  return route;
}

/** A JSON mutation with an optional bearer token. */
export function mutate(
  adminUrl: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<Reply> {
  return send(`${adminUrl}${path}`, {
    method,
    headers: {
      ...(method === 'GET' ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}
