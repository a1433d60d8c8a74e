// The channels the core publishes on; telemetry subscribes. Publishing costs nothing without subscribers.
import { type Channel, channel } from 'node:diagnostics_channel';
import type { ProxyRequest } from '../forwarding/exchange.ts';
import type { DecisionReason, Target } from '../routing/decide.ts';

export type RequestEvent = {
  /** The caller's request, for telemetry that reads headers (trace context) or the peer. */
  readonly req: ProxyRequest;
  readonly startMs: number;
  /** The matched route, or undefined for unmatched and refused requests. */
  route: string | undefined;
  method: string;
  target: Target | undefined;
  reason: DecisionReason | 'refused';
  /** Set when the function failed and legacy answered instead. */
  fallback: string | undefined;
  statusCode: number;
  /** A stable error code when fnshift answered or the attempt failed. */
  errorCode: string | undefined;
  durationMs: number;
  /**
   * Of `durationMs`, the time spent waiting on upstreams: each attempt's duration less the work fnshift
   * did inside it (writing the request, parsing and relaying the response), summed over a fallback's two.
   * The rest is fnshift's own. Measured while anything listens to `fnshift:request:end` or to the
   * attempt channels; 0 otherwise.
   */
  upstreamWaitMs: number;
};

export type AttemptEvent = {
  readonly request: RequestEvent;
  readonly target: Target;
  /** `legacy` or the function's name. */
  readonly upstreamName: string;
  readonly origin: string;
  readonly method: string;
  /** The path sent, without the query string (it may carry secrets). */
  readonly path: string;
  /** 0 for the first attempt, 1 for the replay on legacy after a fallback. */
  readonly resendCount: number;
  /** The outbound headers as a flat list; `fnshift:attempt:start` subscribers may add trace context. */
  readonly headers: string[];
  startMs: number;
  outcome: 'relayed' | 'diverted' | 'failed' | 'client_gone' | undefined;
  statusCode: number | undefined;
  errorCode: string | undefined;
  durationMs: number;
};

export const channels = {
  requestStart: channel('fnshift:request:start'),
  requestEnd: channel('fnshift:request:end'),
  attemptStart: channel('fnshift:attempt:start'),
  attemptEnd: channel('fnshift:attempt:end'),
} as const;

export function publish(ch: Channel, message: unknown): void {
  if (ch.hasSubscribers) ch.publish(message);
}

export type BreakerEvent = { functionName: string; event: 'open' | 'half_open' | 'close' | 'reject' };

export const breakerChannels = {
  open: channel('fnshift:breaker:open'),
  half_open: channel('fnshift:breaker:half_open'),
  close: channel('fnshift:breaker:close'),
  reject: channel('fnshift:breaker:reject'),
} as const;

export function publishBreaker(event: BreakerEvent): void {
  publish(breakerChannels[event.event], event);
}

/** A config reload attempt: `ok` swapped a new snapshot, `invalid` kept the last good one. */
export type ReloadEvent = { result: 'ok' | 'invalid' | 'unchanged'; trigger: string; problems?: string[] };

export const reloadChannel = channel('fnshift:config:reload');

export function publishReload(event: ReloadEvent): void {
  publish(reloadChannel, event);
}

/** A rollout changed state or step. */
export type RolloutEvent = { route: string; status: string; stepIndex: number; weightPercent: number };

export const rolloutChannel = channel('fnshift:rollout:step');

export function publishRollout(event: RolloutEvent): void {
  publish(rolloutChannel, event);
}

/** Subscribes a typed listener to one channel; returns the call that removes it. */
export function listen<T>(ch: Channel, onMessage: (message: T) => void): () => void {
  const listener = onMessage as (message: unknown) => void;
  ch.subscribe(listener);
  return () => ch.unsubscribe(listener);
}
