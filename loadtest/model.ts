// The traffic model: who asks (Zipf users), what for (scenes, page sizes, feedback events) and how fast
// (a steady rate, or a burst profile with a peak several times the base).
import { createRandom, createZipf, deriveSeed, pickWeighted, type Random, type Zipf } from './random.ts';

export const scenes = ['home', 'item', 'cart'] as const;
export type Scene = (typeof scenes)[number];

/** The fnshift route a request belongs to (the demo shop's API: src/local/legacy-app.ts). */
export type RouteName = 'recommend' | 'item' | 'feedback';

export interface TrafficModelOptions {
  readonly seed: number;
  /** Distinct users; rank 1 is the most active. */
  readonly users: number;
  /** Zipf exponent of user activity: about 1 for web sessions (Breslau et al., INFOCOM 1999). */
  readonly userExponent: number;
  readonly items: number;
  readonly itemExponent: number;
  /** Share of page views per scene; normalised, so weights need not add up to 1. */
  readonly sceneMix: Readonly<Record<Scene, number>>;
  /** Items per page of the home feed, with how often each size is asked for. */
  readonly pageSizes: Readonly<Record<string, number>>;
  /** Share of requests that are POST feedback events (view, click, add_to_cart); 0 for reads only. */
  readonly feedbackShare: number;
}

export const defaultModelOptions: TrafficModelOptions = Object.freeze({
  seed: 20_240_601,
  users: 100_000,
  userExponent: 1.0,
  items: 5_000,
  itemExponent: 0.9,
  sceneMix: Object.freeze({ home: 0.6, item: 0.3, cart: 0.1 }),
  pageSizes: Object.freeze({ '10': 0.5, '20': 0.35, '40': 0.15 }),
  feedbackShare: 0.08,
});

export interface PlannedRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly userId: string;
  readonly scene: Scene;
  readonly route: RouteName;
}

export interface TrafficModel {
  readonly options: TrafficModelOptions;
  next(): PlannedRequest;
}

const feedbackActions = { view: 0.6, click: 0.3, add_to_cart: 0.1 } as const;
/** The home feed's deeper pages are rarer: a geometric fall-off, page 1 about half of the time. */
const PAGE_CONTINUE_PROBABILITY = 0.5;
const MAX_PAGE = 10;
const CART_SUGGESTIONS = 6;
const RELATED_ITEMS = 8;
/** In the item scene, the detail page itself; the rest ask for related items. */
const ITEM_DETAIL_SHARE = 0.7;

export function userIdOf(rank: number): string {
  return `user-${rank}`;
}

export function itemIdOf(rank: number): string {
  return `sku-${String(rank).padStart(5, '0')}`;
}

export function createTrafficModel(overrides: Partial<TrafficModelOptions> = {}): TrafficModel {
  const options: TrafficModelOptions = Object.freeze({ ...defaultModelOptions, ...overrides });
  const users = createZipf(options.users, options.userExponent);
  const items = createZipf(options.items, options.itemExponent);
  const random = createRandom(deriveSeed(options.seed, 'traffic'));
  return {
    options,
    next: () => planRequest(random, options, users, items),
  };
}

function planRequest(random: Random, options: TrafficModelOptions, users: Zipf, items: Zipf): PlannedRequest {
  const userId = userIdOf(users.sample(random));
  const scene = pickWeighted(random, options.sceneMix);
  const headers = { 'x-user-id': userId, accept: 'application/json' };
  if (random() < options.feedbackShare) {
    const body = JSON.stringify({
      userId,
      itemId: itemIdOf(items.sample(random)),
      action: pickWeighted(random, feedbackActions),
      scene,
    });
    return {
      method: 'POST',
      path: '/api/feedback',
      headers: { ...headers, 'content-type': 'application/json' },
      body,
      userId,
      scene,
      route: 'feedback',
    };
  }
  const get = (path: string, route: RouteName): PlannedRequest => ({
    method: 'GET',
    path,
    headers,
    userId,
    scene,
    route,
  });
  switch (scene) {
    case 'home': {
      const size = pickWeighted(random, options.pageSizes);
      return get(`/api/recommend?scene=home&size=${size}&page=${pageNumber(random)}`, 'recommend');
    }
    case 'item':
      return random() < ITEM_DETAIL_SHARE
        ? get(`/api/item/${itemIdOf(items.sample(random))}`, 'item')
        : get(`/api/recommend?scene=item&size=${RELATED_ITEMS}`, 'recommend');
    case 'cart':
      return get(`/api/recommend?scene=cart&size=${CART_SUGGESTIONS}`, 'recommend');
  }
}

function pageNumber(random: Random): number {
  let page = 1;
  while (page < MAX_PAGE && random() < PAGE_CONTINUE_PROBABILITY) page++;
  return page;
}

/** Requests per second as a function of time since the start of the load. */
export interface RateProfile {
  readonly kind: 'steady' | 'burst';
  readonly baseRps: number;
  readonly peakRps: number;
  /** The plateau of a burst, ms since the start. */
  readonly peakWindowMs?: { readonly startMs: number; readonly endMs: number };
  rateAt(elapsedMs: number): number;
}

export function createSteadyProfile(rps: number): RateProfile {
  assertRate(rps);
  return Object.freeze({ kind: 'steady', baseRps: rps, peakRps: rps, rateAt: () => rps });
}

export interface BurstOptions {
  readonly baseRps: number;
  /** The peak is this many times the base rate. */
  readonly peakFactor: number;
  readonly durationMs: number;
  /** Where the ramp up starts, and how long the plateau and each ramp last, as shares of the duration. */
  readonly peakStartShare?: number;
  readonly peakShare?: number;
  readonly rampShare?: number;
}

/** Base rate, a linear ramp to the peak, a plateau, a ramp back down, base rate: a flash sale or a push. */
export function createBurstProfile(options: BurstOptions): RateProfile {
  assertRate(options.baseRps);
  if (!(options.peakFactor >= 1)) throw new RangeError('peakFactor must be ≥ 1');
  const peakRps = options.baseRps * options.peakFactor;
  const rampUpAt = options.durationMs * (options.peakStartShare ?? 0.35);
  const rampMs = options.durationMs * (options.rampShare ?? 0.05);
  const plateauMs = options.durationMs * (options.peakShare ?? 0.2);
  const plateauAt = rampUpAt + rampMs;
  const rampDownAt = plateauAt + plateauMs;
  const baseAgainAt = rampDownAt + rampMs;
  const rateAt = (t: number): number => {
    if (t < rampUpAt || t >= baseAgainAt) return options.baseRps;
    if (t < plateauAt) return options.baseRps + (peakRps - options.baseRps) * ((t - rampUpAt) / rampMs);
    if (t < rampDownAt) return peakRps;
    return peakRps - (peakRps - options.baseRps) * ((t - rampDownAt) / rampMs);
  };
  return Object.freeze({
    kind: 'burst',
    baseRps: options.baseRps,
    peakRps,
    peakWindowMs: Object.freeze({ startMs: plateauAt, endMs: rampDownAt }),
    rateAt,
  });
}

function assertRate(rps: number): void {
  if (!(rps > 0) || !Number.isFinite(rps)) throw new RangeError(`a rate must be > 0, got ${rps}`);
}

export interface Arrivals {
  /** The next intended send time (ms since the start), or undefined once the schedule is over. */
  take(): number | undefined;
}

/**
 * The intended send times of an open-loop load: evenly spaced at the profile's rate. A request is timed
 * from its slot, not from when a connection got round to it, so a stall is not hidden (coordinated
 * omission, Gil Tene; wrk2 does the same).
 */
export function createArrivals(profile: RateProfile, durationMs: number): Arrivals {
  let next = 0;
  return {
    take() {
      if (next >= durationMs) return undefined;
      const slot = next;
      next += 1000 / profile.rateAt(slot);
      return slot;
    },
  };
}
