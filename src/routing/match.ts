// Route matching over a canonical path: compiled once per config snapshot, segment-aware, method-aware.
import type { RouteConfig } from '../config/schema.ts';

export type CompiledRoute = Readonly<{
  route: RouteConfig;
  /** The prefix or exact path, without a trailing slash (except the root `/`). */
  path: string;
  isPrefix: boolean;
  methods: ReadonlySet<string> | undefined;
}>;

export type Matcher = (method: string, canonicalPath: string) => CompiledRoute | undefined;

function trimSlash(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** `/api` matches `/api`, `/api/` and `/api/x`, never `/apix`. */
export function matchesPrefix(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47; /* '/' */
}

export function compileRoutes(routes: readonly RouteConfig[]): Matcher {
  // Exact paths first, then prefixes longest first: the most specific route wins, whatever the file order.
  const compiled: CompiledRoute[] = routes
    .map((route) => ({
      route,
      path: trimSlash(route.match.path ?? route.match.pathPrefix ?? '/'),
      isPrefix: route.match.path === undefined,
      methods: route.match.methods ? new Set(route.match.methods) : undefined,
    }))
    .sort((a, b) => Number(a.isPrefix) - Number(b.isPrefix) || b.path.length - a.path.length);

  return (method, canonicalPath) => {
    for (const c of compiled) {
      if (c.methods && !c.methods.has(method)) continue;
      if (c.isPrefix ? matchesPrefix(c.path, canonicalPath) : trimSlash(canonicalPath) === c.path) return c;
    }
    return undefined;
  };
}

/** The path a route sends to its function: unchanged, prefix stripped, or a fixed path. */
export function rewritePath(compiled: CompiledRoute, canonicalPath: string): string {
  const rewrite = compiled.route.rewrite;
  if (!rewrite) return canonicalPath;
  if (rewrite.path) return rewrite.path;
  if (rewrite.stripPrefix && compiled.isPrefix && compiled.path !== '/') {
    const rest = canonicalPath.slice(compiled.path.length);
    return rest.startsWith('/') ? rest : `/${rest}`;
  }
  return canonicalPath;
}
