// The split decision for one matched request: which side serves it, and why.
import type { RouteConfig } from '../config/schema.ts';
import { bucketOf, randomBucket, weightToBuckets } from './bucket.ts';

export type Target = 'function' | 'legacy';
export type DecisionReason = 'weight' | 'sticky' | 'forced' | 'breaker_open' | 'unmatched';
export type Decision = Readonly<{ target: Target; reason: DecisionReason; bucket: number }>;

export const FORCE_HEADER = 'x-fnshift-force';

export type DecideInput = {
  route: RouteConfig;
  weightPercent: number;
  /** The sticky key read from the request, if the route has one and the request carries it. */
  stickyKey: string | undefined;
  forceHeader: string | string[] | undefined;
  isBreakerOpen: boolean;
  random?: () => number;
};

function readForce(value: string | string[] | undefined): Target | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === 'function' || v === 'legacy') return v;
  return undefined;
}

export function decide(input: DecideInput): Decision {
  const forced = input.route.allowForce ? readForce(input.forceHeader) : undefined;
  const bucket = input.stickyKey !== undefined ? bucketOf(input.stickyKey) : randomBucket(input.random);
  let target: Target;
  let reason: DecisionReason;
  if (forced) {
    target = forced;
    reason = 'forced';
  } else {
    target = bucket < weightToBuckets(input.weightPercent) ? 'function' : 'legacy';
    reason = input.stickyKey !== undefined ? 'sticky' : 'weight';
  }
  // An open breaker wins over everything, the force header included: a sick function is never
  // hammered on purpose.
  if (target === 'function' && input.isBreakerOpen)
    return { target: 'legacy', reason: 'breaker_open', bucket };
  return { target, reason, bucket };
}
