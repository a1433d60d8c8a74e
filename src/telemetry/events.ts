// The channels the core publishes on; telemetry subscribes. Publishing costs nothing without subscribers.
import { channel } from 'node:diagnostics_channel';
import type { DecisionReason, Target } from '../routing/decide.ts';

export type RequestEvent = {
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
  /** Duration of the function attempt, when one was made. */
  functionDurationMs: number | undefined;
  functionStatusCode: number | undefined;
};

export const requestChannel = channel('fnshift:request:end');

export function publishRequest(event: RequestEvent): void {
  if (requestChannel.hasSubscribers) requestChannel.publish(event);
}

export type BreakerEvent = { functionName: string; event: 'open' | 'half_open' | 'close' | 'reject' };

export const breakerChannels = {
  open: channel('fnshift:breaker:open'),
  half_open: channel('fnshift:breaker:half_open'),
  close: channel('fnshift:breaker:close'),
  reject: channel('fnshift:breaker:reject'),
} as const;

export function publishBreaker(event: BreakerEvent): void {
  const ch = breakerChannels[event.event];
  if (ch.hasSubscribers) ch.publish(event);
}
