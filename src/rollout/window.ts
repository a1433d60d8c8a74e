// Per-route measurement windows for the rollout gates: function successes and failures, and HDR latency
// histograms for the function and for legacy, fed by the core's attempt events.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { AttemptEvent } from '../telemetry/events.ts';
import { createMicrosHistogram, decodeHistogram, encodeHistogram, type Histogram } from '../telemetry/hdr.ts';

export type WindowStats = {
  functionRequests: number;
  functionFailures: number;
  /** Percent of function attempts that did not fail (5xx, timeout, reset); 100 when there were none. */
  functionSuccessPercent: number;
  functionP99Ms: number | undefined;
  legacyRequests: number;
  legacyP99Ms: number | undefined;
};

type Counters = {
  fnOk: number;
  fnFail: number;
  fnLatency: Histogram;
  legacyCount: number;
  legacyLatency: Histogram;
};

/** One route's counts as they travel from a worker to the primary: histograms HDR-encoded. */
export type WindowShipment = Record<
  string,
  { fnOk: number; fnFail: number; fnLatency: string; legacyCount: number; legacyLatency: string }
>;

function histogram(): Histogram {
  // Microseconds from 1 µs to 10 min, 3 significant digits: enough for a p99 gate, a few KiB per route.
  return createMicrosHistogram(600_000_000);
}

function counters(): Counters {
  return { fnOk: 0, fnFail: 0, fnLatency: histogram(), legacyCount: 0, legacyLatency: histogram() };
}

function toMs(h: Histogram): number | undefined {
  return h.totalCount === 0 ? undefined : h.getValueAtPercentile(99) / 1000;
}

export function createWindows() {
  const byRoute = new Map<string, Counters>();

  function onAttempt(message: unknown): void {
    const event = message as AttemptEvent;
    const route = event.request.route;
    if (!route || event.outcome === 'client_gone') return;
    let c = byRoute.get(route);
    if (!c) {
      c = counters();
      byRoute.set(route, c);
    }
    const micros = Math.max(1, Math.round(event.durationMs * 1000));
    if (event.target === 'function') {
      const code = event.errorCode;
      // Refusals made before the function was reached (breaker open, pool full) say nothing about it.
      if (code === 'FNSHIFT_BREAKER_OPEN' || code === 'FNSHIFT_OVERLOADED') return;
      if (event.outcome === 'relayed' && (event.statusCode ?? 0) < 500) {
        c.fnOk++;
        c.fnLatency.recordValue(micros);
      } else {
        c.fnFail++;
      }
    } else if (event.resendCount === 0 && event.outcome === 'relayed') {
      c.legacyCount++;
      c.legacyLatency.recordValue(micros);
    }
  }

  subscribe('fnshift:attempt:end', onAttempt);

  return {
    /** The stats since the last take, and a fresh window. */
    take(route: string): WindowStats {
      const c = byRoute.get(route) ?? counters();
      byRoute.delete(route);
      const functionRequests = c.fnOk + c.fnFail;
      return {
        functionRequests,
        functionFailures: c.fnFail,
        functionSuccessPercent: functionRequests === 0 ? 100 : (c.fnOk / functionRequests) * 100,
        functionP99Ms: toMs(c.fnLatency),
        legacyRequests: c.legacyCount,
        legacyP99Ms: toMs(c.legacyLatency),
      };
    },
    reset(route: string): void {
      byRoute.delete(route);
    },
    /** Everything counted since the last ship, encoded for another process; starts fresh windows. */
    ship(): WindowShipment | undefined {
      if (byRoute.size === 0) return undefined;
      const out: WindowShipment = {};
      for (const [route, c] of byRoute) {
        out[route] = {
          fnOk: c.fnOk,
          fnFail: c.fnFail,
          fnLatency: encodeHistogram(c.fnLatency),
          legacyCount: c.legacyCount,
          legacyLatency: encodeHistogram(c.legacyLatency),
        };
      }
      byRoute.clear();
      return out;
    },
    /** Adds a worker's shipment: the gates then judge every worker's traffic together. */
    merge(shipment: WindowShipment): void {
      for (const [route, shipped] of Object.entries(shipment)) {
        let c = byRoute.get(route);
        if (!c) {
          c = counters();
          byRoute.set(route, c);
        }
        c.fnOk += shipped.fnOk;
        c.fnFail += shipped.fnFail;
        c.legacyCount += shipped.legacyCount;
        c.fnLatency.add(decodeHistogram(shipped.fnLatency));
        c.legacyLatency.add(decodeHistogram(shipped.legacyLatency));
      }
    },
    stop(): void {
      unsubscribe('fnshift:attempt:end', onAttempt);
      byRoute.clear();
    },
  };
}

export type Windows = ReturnType<typeof createWindows>;
