// What the primary (control plane) and its workers (data planes) say to each other over the IPC channel
// node:cluster opens. Plain JSON: a config is data, a histogram travels HDR-encoded.
import type { Config } from '../config/schema.ts';
import type { WindowShipment } from '../rollout/window.ts';
import type { MetricsJson } from '../telemetry/metrics.ts';

export type WeightOverrides = Array<[route: string, { weightPercent: number; source: 'admin' | 'rollout' }]>;

export type ToWorker =
  /** The snapshot to serve: the first one starts the worker, every later one replaces it whole. */
  | {
      type: 'fnshift:snapshot';
      config: Config;
      overrides: WeightOverrides;
      /** Where to listen (config.listen with port 0 resolved to the port the first worker got). */
      listen: string;
      /**
       * The parser limits fnshift started with: like `listen`, they take effect only at a restart, so a
       * worker started later (a replacement) must not pick up reloaded ones.
       */
      limits: Config['limits'];
    }
  | { type: 'fnshift:metrics'; id: number }
  | { type: 'fnshift:drain'; drainMs: number };

export type FromWorker =
  /** The worker listens for messages now: its first snapshot, please (sent on 'online' it could be lost). */
  | { type: 'fnshift:hello' }
  | { type: 'fnshift:listening'; address: string }
  | { type: 'fnshift:metrics'; id: number; metrics: MetricsJson }
  /** Every second: the rollout windows' counts, the requests in flight, and each breaker's state. */
  | {
      type: 'fnshift:report';
      windows: WindowShipment | undefined;
      inFlight: number;
      breakers: Record<string, string>;
      /** Set on the last report, after the drain: whether it finished without cutting requests. */
      isClean?: boolean;
    };

export function isFromWorker(message: unknown): message is FromWorker {
  const type = (message as { type?: unknown } | null)?.type;
  return typeof type === 'string' && type.startsWith('fnshift:');
}

export function isToWorker(message: unknown): message is ToWorker {
  return isFromWorker(message);
}
