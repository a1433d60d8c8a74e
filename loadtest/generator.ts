// The load generator (the load test's one autocannon import): closed loop, or open loop at a rate
// profile, with every response's fnshift target, fallback and µs timings handed to the caller.
import autocannon from 'autocannon';
import { LoadtestError } from './errors.ts';
import { type Arrivals, createArrivals, type PlannedRequest, type RateProfile } from './model.ts';
import type { Completion, LoadFailure } from './recorder.ts';

export interface LoadRun {
  /** e.g. http://127.0.0.1:41234 */
  readonly origin: string;
  readonly durationS: number;
  readonly connections: number;
  /** Open loop at this profile; absent: closed loop, every connection sends as soon as it has an answer. */
  readonly profile?: RateProfile;
  readonly next: () => PlannedRequest;
  /** The shared clock (ms since the run began): Recorder.now. */
  readonly now: () => number;
  readonly onCompletion: (completion: Completion) => void;
  readonly onFailure: (failure: LoadFailure) => void;
  /** autocannon's progress bar; only on a terminal, never in CI. */
  readonly showProgress: boolean;
  readonly title?: string;
  readonly requestTimeoutS?: number;
}

export interface LoadRunSummary {
  readonly requests: number;
  readonly durationS: number;
  readonly requestsPerSec: number;
  /** Arrival slots the schedule had that no connection got round to before the end. */
  readonly slotsMissed: number;
  /** autocannon's own whole-ms percentiles, for comparison with ours. */
  readonly autocannonLatencyMs: { readonly p50: number; readonly p99: number };
}

/** Per connection: the request on the wire (pipelining is 1, so there is at most one); run clock, ms. */
interface InFlight {
  readonly intendedAtMs: number;
  readonly sentAtMs: number;
}

/** autocannon's Client, as far as the pacing needs it (lib/httpClient.js, autocannon 9). */
interface PacedClient {
  _doRequest?: () => void;
  destroyed?: boolean;
  on(event: string, listener: (...args: never[]) => void): void;
}

interface Answer {
  readonly plan?: PlannedRequest;
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[]>>;
}

export function runLoad(run: LoadRun): Promise<LoadRunSummary> {
  const startMs = run.now();
  const arrivals: Arrivals | undefined = run.profile
    ? createArrivals(run.profile, run.durationS * 1000)
    : undefined;
  // onResponse and the client's 'response' event fire back to back for one response (lib/httpClient.js
  // kOnMessageComplete); this carries the status and headers from the first to the second.
  let justAnswered: Answer | undefined;

  const setupClient = (client: PacedClient) => {
    let inFlight: InFlight | undefined;
    let orphan: InFlight | undefined;
    let isScheduled = false;
    const send = client._doRequest;
    if (typeof send !== 'function') {
      throw new LoadtestError(
        'FNSHIFT_LOADTEST_LOAD',
        'autocannon Client has no _doRequest: the pacing needs autocannon 9',
      );
    }
    // Open-loop pacing: autocannon's own `overallRate` lets each connection send its whole per-second
    // quota back to back at the top of every second (a burst, then silence; lib/httpClient.js), so each
    // send takes the next slot of one shared, evenly spaced schedule instead.
    client._doRequest = () => {
      if (client.destroyed || isScheduled) return;
      if (inFlight) {
        // A new send while one is still out: autocannon reconnected after a reset or a timeout.
        orphan = inFlight;
        inFlight = undefined;
        queueMicrotask(() => {
          if (orphan) run.onFailure({ kind: 'reset', sentAtMs: orphan.sentAtMs });
          orphan = undefined;
        });
      }
      const slot = arrivals?.take();
      if (arrivals && slot === undefined) return;
      const intendedAtMs = slot === undefined ? run.now() : startMs + slot;
      const go = () => {
        isScheduled = false;
        if (client.destroyed) return;
        inFlight = { intendedAtMs, sentAtMs: run.now() };
        send.call(client);
      };
      const waitMs = intendedAtMs - run.now();
      if (waitMs > 0.5) {
        isScheduled = true;
        setTimeout(go, waitMs);
      } else go();
    };
    client.on('response', () => {
      const request = inFlight;
      const answer = justAnswered;
      justAnswered = undefined;
      inFlight = undefined;
      if (!request || !answer?.plan) return;
      run.onCompletion({
        intendedAtMs: request.intendedAtMs,
        sentAtMs: request.sentAtMs,
        doneAtMs: run.now(),
        status: answer.status,
        target: header(answer.headers, 'x-fnshift-target'),
        fallback: header(answer.headers, 'x-fnshift-fallback'),
        servedBy: header(answer.headers, 'x-served-by'),
        userId: answer.plan.userId,
        route: answer.plan.route,
      });
    });
    client.on('connError', () => {
      if (inFlight) run.onFailure({ kind: 'connection', sentAtMs: inFlight.sentAtMs });
      inFlight = undefined;
    });
    client.on('timeout', () => {
      const lost = orphan ?? inFlight;
      orphan = undefined;
      inFlight = undefined;
      if (lost) run.onFailure({ kind: 'timeout', sentAtMs: lost.sentAtMs });
    });
  };

  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: run.origin,
        connections: run.connections,
        pipelining: 1,
        duration: run.durationS,
        timeout: run.requestTimeoutS ?? 10,
        setupClient: setupClient as unknown as autocannon.Options['setupClient'],
        requests: [
          {
            setupRequest: ((request: Record<string, unknown>, context: Record<string, unknown>) => {
              const plan = run.next();
              context.plan = plan;
              return {
                ...request,
                method: plan.method,
                path: plan.path,
                headers: { ...plan.headers },
                body: plan.body,
              };
            }) as unknown as autocannon.Request['setupRequest'],
            onResponse: ((
              status: number,
              _body: string,
              context: Record<string, unknown>,
              headers: Record<string, string | string[]>,
            ) => {
              justAnswered = { plan: context.plan as PlannedRequest, status, headers };
            }) as unknown as autocannon.Request['onResponse'],
          },
        ],
      },
      (error, result) => {
        if (error) {
          reject(new LoadtestError('FNSHIFT_LOADTEST_LOAD', String(error), { cause: error }));
          return;
        }
        let slotsMissed = 0;
        if (arrivals) while (arrivals.take() !== undefined) slotsMissed++;
        resolve({
          requests: result.requests.total,
          durationS: result.duration,
          requestsPerSec: result.requests.total / Math.max(result.duration, 1e-3),
          slotsMissed,
          autocannonLatencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
        });
      },
    );
    if (run.showProgress) {
      autocannon.track(instance, {
        renderProgressBar: true,
        renderResultsTable: false,
        renderLatencyTable: false,
        progressBarString: `${run.title ?? 'load'} [:bar] :percent`,
      } as autocannon.TrackingOptions);
    }
  });
}

/** Header names as the server wrote them; autocannon keeps their case. */
function header(headers: Record<string, string | string[]>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}
