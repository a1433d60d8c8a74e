// The one source of truth for fnshift.yaml: types, defaults, validation and the editor JSON Schema.
import { z } from 'zod';
import { canonicalTarget } from '../forwarding/guard.ts';

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:8080')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'port must be at most 65535');

// An upstream origin may carry a base path (OpenFaaS `/function/name`), never a query or credentials:
// they would be forwarded on every request and logged nowhere.
const upstreamUrl = z.string().superRefine((value, ctx) => {
  if (!URL.canParse(value)) return void ctx.addIssue({ code: 'custom', message: 'must be an absolute URL' });
  const url = new URL(value);
  if (!/^https?:$/.test(url.protocol))
    ctx.addIssue({ code: 'custom', message: 'must be http:// or https://' });
  if (url.search || url.hash) ctx.addIssue({ code: 'custom', message: 'must not carry a query or fragment' });
  if (url.username || url.password) ctx.addIssue({ code: 'custom', message: 'must not carry credentials' });
});

const ms = (max: number) => z.number().int().min(1).max(max);
const bytes = (max: number) => z.number().int().min(0).max(max);
const KiB = 1024;
const MiB = 1024 * KiB;

const headerName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]*$/i, 'must be an HTTP header name (letters, digits, dashes)')
  .transform((v) => v.toLowerCase());

const pool = z.strictObject({
  /** Sockets kept to this origin; undici's default is unlimited (Envoy's cap is 1024). */
  connections: z.number().int().min(1).max(4096).default(128),
  /** Requests waiting for a socket before new ones get 503 FNSHIFT_OVERLOADED. */
  maxPending: z.number().int().min(0).max(100_000).default(1024),
  connectTimeoutMs: ms(60_000).default(2000),
  /** Kept below the upstream's own idle timeout (Node's default is 5 s) so we never reuse a socket it is closing. */
  keepAliveTimeoutMs: ms(600_000).default(4000),
  maxResponseHeaderBytes: bytes(256 * KiB).default(16 * KiB),
  /** A response body past this is cut and the caller gets a 502 or a reset (undici's default is unlimited). */
  maxResponseBytes: bytes(64 * 1024 * MiB)
    .min(1)
    .default(1024 * MiB),
});

const breaker = z.strictObject({
  enabled: z.boolean().default(true),
  /** Percentage of failed calls in the window that opens the breaker. */
  errorThresholdPercent: z.number().min(1).max(100).default(50),
  /** Calls in the window before the breaker may open (opossum's volumeThreshold; its 0 opens on the first failure). */
  minimumRequests: z.number().int().min(1).max(1_000_000).default(20),
  rollingWindowMs: ms(600_000).default(10_000),
  rollingWindowBuckets: z.number().int().min(1).max(100).default(10),
  /** How long the breaker stays open before one half-open probe. */
  openDurationMs: ms(3_600_000).default(10_000),
  /** Calls in flight at once (a bulkhead). */
  maxConcurrent: z.number().int().min(1).max(100_000).default(256),
});

const functionSpec = z.strictObject({
  url: upstreamUrl,
  /** Deadline for the function's response headers; after it the call is aborted. */
  timeoutMs: ms(900_000).default(5000),
  /** Deadline between two chunks of the function's response body. */
  bodyTimeoutMs: ms(900_000).default(10_000),
  pool: pool.prefault({}),
  breaker: breaker.prefault({}),
});

const legacySpec = z.strictObject({
  url: upstreamUrl,
  timeoutMs: ms(900_000).default(30_000),
  bodyTimeoutMs: ms(900_000).default(30_000),
  pool: pool.prefault({}),
});

const sticky = z.union([
  z.strictObject({ header: headerName, salt: z.string().max(64).optional() }),
  z.strictObject({ cookie: z.string().min(1).max(128), salt: z.string().max(64).optional() }),
  z.strictObject({ query: z.string().min(1).max(128), salt: z.string().max(64).optional() }),
]);

const methods = z
  .array(z.string().regex(/^[A-Z]+$/, 'must be an upper-case HTTP method'))
  .min(1)
  .transform((v) => [...new Set(v)]);

const pathPattern = z
  .string()
  .regex(/^\/[A-Za-z0-9._~!$&'()*+,=:@%/-]*$/, 'must be an absolute path of URL characters')
  .refine((v) => !v.includes('//') && !/(^|\/)\.\.?(\/|$)/.test(v), 'must not contain // or dot segments');

/**
 * A matched path is compared with the request's canonical path (guard.ts), so it must be written in that
 * form itself: `/%7euser` or `/caf%c3%a9` would never match, and all their traffic would go to legacy.
 */
const matchPath = pathPattern.superRefine((value, ctx) => {
  const canonical = canonicalTarget(value);
  if (!canonical.ok) ctx.addIssue({ code: 'custom', message: canonical.error.message });
  else if (canonical.target.path !== value) {
    ctx.addIssue({
      code: 'custom',
      message: `requests are matched in canonical form, so this never matches; write ${canonical.target.path}`,
    });
  }
});

const match = z
  .strictObject({
    pathPrefix: matchPath.optional(),
    path: matchPath.optional(),
    methods: methods.optional(),
  })
  .refine(
    (m) => (m.pathPrefix === undefined) !== (m.path === undefined),
    'set exactly one of pathPrefix or path',
  );

const rewrite = z
  .strictObject({
    /** Remove the matched prefix before the path reaches the function (`/api/recommend/x` → `/x`). */
    stripPrefix: z.boolean().optional(),
    /** Send every matched request to this fixed path on the function. */
    path: pathPattern.optional(),
  })
  .refine((r) => !(r.stripPrefix && r.path), 'set stripPrefix or path, not both');

const percent = z.number().min(0).max(100);

/** Progressive rollout of one route, in Flagger's vocabulary where it fits. */
const rollout = z
  .strictObject({
    /** Weights to walk through, ascending, e.g. [1, 5, 25, 50, 100]. */
    steps: z.array(percent.min(0.01)).min(1).optional(),
    /** Or a fixed increment up to maxWeight. */
    stepWeight: percent.min(0.01).optional(),
    maxWeight: percent.min(0.01).default(100),
    /** Time spent at each step before the gates are checked. */
    intervalMs: ms(86_400_000).default(60_000),
    /** Failed checks (in total) that roll the route back to 0 and mark the rollout failed. */
    threshold: z.number().int().min(1).max(1000).default(3),
    /** Function requests needed in an interval for a verdict; fewer holds the step as inconclusive. */
    minRequests: z.number().int().min(1).max(10_000_000).default(100),
    /** Function success rate (non-5xx, no timeout or reset) required, in percent. */
    minSuccessPercent: percent.default(99),
    /** Function p99 latency ceiling. */
    maxP99Ms: z.number().positive().max(600_000).optional(),
    /** Function p99 at most this many times legacy's p99 over the same interval. */
    maxP99VsLegacy: z.number().positive().max(1000).optional(),
    /** Start the rollout when fnshift starts (otherwise: `fnshift rollout start ROUTE`). */
    autoStart: z.boolean().default(false),
  })
  .superRefine((r, ctx) => {
    if ((r.steps === undefined) === (r.stepWeight === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'set exactly one of steps or stepWeight' });
    }
    if (r.steps?.some((w, i, all) => i > 0 && w <= all[i - 1]!)) {
      ctx.addIssue({ code: 'custom', path: ['steps'], message: 'must be strictly ascending' });
    }
  });

const route = z.strictObject({
  name: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9_-]{0,62}$/,
      'must be lower-case letters, digits, - or _ (max 63), used as a metric label',
    ),
  match,
  function: z.string().min(1),
  /** Percent of requests for the function, 0–100 in steps of 0.01. */
  weight: z
    .number({ error: 'must be a number between 0 and 100' })
    .min(0, 'must be between 0 and 100')
    .max(100, 'must be between 0 and 100')
    .refine((w) => Math.abs(Math.round(w * 100) - w * 100) < 1e-9, 'must be in steps of 0.01'),
  sticky: sticky.optional(),
  /** Whether `x-fnshift-force: function|legacy` is honoured on this route. */
  allowForce: z.boolean().default(true),
  /** `safe`: replay on legacy when that cannot double-execute; `never`: a failed function call is an error. */
  fallback: z.enum(['safe', 'never']).default('safe'),
  rewrite: rewrite.optional(),
  rollout: rollout.optional(),
});

const limits = z.strictObject({
  maxHeaderBytes: bytes(64 * KiB)
    .min(1024)
    .default(16 * KiB),
  maxHeaderCount: z.number().int().min(8).max(1000).default(100),
  /** Whole header section must arrive in this time (slowloris); Node checks it every `connectionsCheckIntervalMs`. */
  headersTimeoutMs: ms(300_000).default(10_000),
  /** Whole request (headers and body) must arrive in this time. */
  requestTimeoutMs: ms(3_600_000).default(30_000),
  /** Longest silence between two chunks of a request body. */
  bodyIdleTimeoutMs: ms(3_600_000).default(10_000),
  maxBodyBytes: bytes(16 * 1024 * MiB).default(10 * MiB),
  /** Bodies up to this size are buffered so an idempotent request can be replayed on legacy. */
  fallbackBufferBytes: bytes(64 * MiB).default(1 * MiB),
  /** Longer than the idle timeout of a load balancer in front (AWS ALB: 60 s). */
  keepAliveTimeoutMs: ms(3_600_000).default(65_000),
  maxRequestsPerSocket: z.number().int().min(0).max(1_000_000).default(10_000),
  maxConnections: z.number().int().min(1).max(1_000_000).default(10_000),
  connectionsCheckIntervalMs: ms(60_000).default(1000),
});

export const configSchema = z
  .strictObject({
    $schema: z.string().optional(),
    listen: hostPort.default('0.0.0.0:8080'),
    /**
     * Data-plane processes. 1 serves everything in one process. Above 1, the primary keeps the control
     * plane (admin API, reloads, rollouts, state file) and forks this many workers that each bind
     * \`listen\` with SO_REUSEPORT (Linux). Set it to the CPUs the sidecar gets.
     */
    workers: z.number().int().min(1).max(64).default(1),
    admin: z
      .strictObject({
        listen: hostPort.default('127.0.0.1:9901'),
        /** Name of the environment variable holding the bearer token for changes. */
        tokenEnv: z
          .string()
          .regex(/^[A-Z_][A-Z0-9_]*$/)
          .default('FNSHIFT_ADMIN_TOKEN'),
        /** A file holding the token (a mounted Secret); wins over tokenEnv. */
        tokenFile: z.string().min(1).optional(),
        /**
         * A second, read-only listener for the probes and /metrics (kubelet and Prometheus reach the pod
         * IP), so `listen`, which takes changes, can stay on loopback (Istio's 15020/15000 split).
         */
        probesListen: hostPort.optional(),
      })
      .prefault({}),
    legacy: legacySpec,
    functions: z.record(
      z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be a lower-case name'),
      functionSpec,
    ),
    routes: z.array(route),
    forwarding: z
      .strictObject({
        /** Peers whose X-Forwarded-* headers are believed; everyone else's are replaced. */
        trustedProxies: z.array(z.string().refine(isIpOrCidr, 'must be an IP address or CIDR')).default([]),
        /** Add x-fnshift-route / -target / -fallback to responses. */
        responseHeaders: z.boolean().default(true),
      })
      .prefault({}),
    limits: limits.prefault({}),
    drain: z.strictObject({ timeoutMs: ms(600_000).default(20_000) }).prefault({}),
    state: z.strictObject({ file: z.string().min(1).default('./fnshift-state.json') }).prefault({}),
    reload: z
      .strictObject({
        /** Watch the config's directory (a ConfigMap's ..data swap, an editor's rename, an in-place write). */
        watch: z.boolean().default(true),
        debounceMs: z.number().int().min(0).max(60_000).default(200),
        /** Re-read the file this often anyway: some filesystems drop inotify events. 0 turns it off. */
        pollIntervalMs: z.number().int().min(0).max(3_600_000).default(30_000),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.routes.forEach((r, i) => {
      if (seen.has(r.name))
        ctx.addIssue({ code: 'custom', path: ['routes', i, 'name'], message: 'must be unique' });
      seen.add(r.name);
      if (!Object.hasOwn(config.functions, r.function)) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i, 'function'],
          message: `must name a function under functions (have: ${Object.keys(config.functions).join(', ') || 'none'})`,
        });
      }
    });
  });

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type RouteConfig = Config['routes'][number];
export type FunctionConfig = Config['functions'][string];
export type LegacyConfig = Config['legacy'];
export type PoolConfig = FunctionConfig['pool'];
export type BreakerConfig = FunctionConfig['breaker'];
export type LimitsConfig = Config['limits'];
export type RolloutConfig = NonNullable<RouteConfig['rollout']>;

function isIpOrCidr(value: string): boolean {
  const [ip, bits, extra] = value.split('/');
  if (extra !== undefined || ip === undefined) return false;
  const v4 = /^(\d{1,3})(\.\d{1,3}){3}$/.test(ip) && ip.split('.').every((o) => Number(o) <= 255);
  const v6 = !v4 && /^[0-9a-fA-F:.]+$/.test(ip) && ip.includes(':');
  if (!v4 && !v6) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (v4 ? 32 : 128);
}

/** The editor schema: input side, so defaulted keys are optional and unknown keys are flagged. */
export function toJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: 'input', target: 'draft-7', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
}
