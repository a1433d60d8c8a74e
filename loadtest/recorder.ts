// What a run saw, per phase and per time bin: counts per target (from x-fnshift-target), fallbacks,
// errors, sticky sides per user, and µs histograms of service and corrected latency.
import { createHistogram, type LatencySummary, type UsHistogram } from './histogram.ts';
import type { RouteName } from './model.ts';

/** Where a response came from: fnshift's header, with fallbacks apart; `direct` when no fnshift answered. */
export type Outcome = 'function' | 'legacy' | 'fallback' | 'direct';
export const outcomes: readonly Outcome[] = ['function', 'legacy', 'fallback', 'direct'];

export interface Completion {
  /** When the request was meant to go (its arrival slot), when it went, and when the response ended. */
  readonly intendedAtMs: number;
  readonly sentAtMs: number;
  readonly doneAtMs: number;
  readonly status: number;
  /** x-fnshift-target, or undefined when fnshift was not in the path. */
  readonly target?: string;
  /** x-fnshift-fallback: why legacy answered a request chosen for the function. */
  readonly fallback?: string;
  /** x-served-by of the fixture that answered. */
  readonly servedBy?: string;
  readonly userId: string;
  readonly route: RouteName;
}

export type LoadErrorKind = 'connection' | 'timeout' | 'reset';

export interface LoadFailure {
  readonly kind: LoadErrorKind;
  readonly sentAtMs: number;
}

interface Tally {
  count: number;
  readonly service: UsHistogram;
  readonly corrected: UsHistogram;
}

const newTally = (): Tally => ({ count: 0, service: createHistogram(), corrected: createHistogram() });

interface PhaseStats {
  readonly name: string;
  readonly startMs: number;
  readonly countsForSlo: boolean;
  requests: number;
  readonly statuses: Record<string, number>;
  readonly errors: Record<LoadErrorKind, number>;
  readonly all: Tally;
  readonly outcomes: Partial<Record<Outcome, Tally>>;
  readonly fallbackReasons: Record<string, number>;
  readonly routes: Partial<Record<RouteName, Partial<Record<Outcome, number>>>>;
  /** Per user: 1 = decided for the function, 2 = decided for legacy (3: both, a sticky violation or a weight change). */
  readonly users: Map<string, number>;
  servedByMismatches: number;
}

interface Bin {
  requests: number;
  readonly outcomes: Record<Outcome, number>;
  errors: number;
  status5xx: number;
  otherNon2xx: number;
  readonly service: UsHistogram;
}

export interface PhaseOptions {
  /** False for phases that are not the steady state being judged (a saturation probe, a warm-up). */
  readonly countsForSlo?: boolean;
}

export interface Recorder {
  /** ms since the recorder was created; every time in a run is on this clock. */
  now(): number;
  /** Starts a phase now; requests are put in the phase in force when they were sent. */
  mark(name: string, options?: PhaseOptions): void;
  /** Something that happened (a kill, a weight change), drawn on the charts. */
  event(label: string): void;
  complete(completion: Completion): void;
  fail(failure: LoadFailure): void;
  readonly phases: readonly PhaseStats[];
  readonly events: readonly { readonly atMs: number; readonly label: string }[];
  bins(): readonly (Bin | undefined)[];
  readonly binMs: number;
  /** Notes that the load stopped: the last phase ends here, not when the report is written. */
  end(): void;
  endMs(): number;
}

export function createRecorder(options: { binMs: number }): Recorder {
  const origin = performance.now();
  const now = () => performance.now() - origin;
  const phases: PhaseStats[] = [];
  const events: { atMs: number; label: string }[] = [];
  const bins: (Bin | undefined)[] = [];
  let endAtMs: number | undefined;

  const phaseAt = (atMs: number): PhaseStats => {
    if (phases.length === 0) mark('run');
    for (let i = phases.length - 1; i > 0; i--) if (phases[i]!.startMs <= atMs) return phases[i]!;
    return phases[0]!;
  };
  const binAt = (atMs: number): Bin => {
    const index = Math.max(0, Math.floor(atMs / options.binMs));
    let bin = bins[index];
    if (!bin) {
      bin = {
        requests: 0,
        outcomes: { function: 0, legacy: 0, fallback: 0, direct: 0 },
        errors: 0,
        status5xx: 0,
        otherNon2xx: 0,
        service: createHistogram(),
      };
      bins[index] = bin;
    }
    return bin;
  };
  function mark(name: string, phaseOptions: PhaseOptions = {}): void {
    phases.push({
      name,
      startMs: now(),
      countsForSlo: phaseOptions.countsForSlo ?? true,
      requests: 0,
      statuses: {},
      errors: { connection: 0, timeout: 0, reset: 0 },
      all: newTally(),
      outcomes: {},
      fallbackReasons: {},
      routes: {},
      users: new Map(),
      servedByMismatches: 0,
    });
    events.push({ atMs: now(), label: name });
    endAtMs = undefined;
  }

  return {
    now,
    mark,
    event: (label) => events.push({ atMs: now(), label }),
    complete(c) {
      const phase = phaseAt(c.sentAtMs);
      const outcome = outcomeOf(c);
      const serviceUs = (c.doneAtMs - c.sentAtMs) * 1000;
      const correctedUs = (c.doneAtMs - Math.min(c.intendedAtMs, c.sentAtMs)) * 1000;
      phase.requests++;
      const statusClass = `${Math.floor(c.status / 100)}xx`;
      phase.statuses[statusClass] = (phase.statuses[statusClass] ?? 0) + 1;
      record(phase.all, serviceUs, correctedUs);
      phase.outcomes[outcome] ??= newTally();
      record(phase.outcomes[outcome], serviceUs, correctedUs);
      if (c.fallback) phase.fallbackReasons[c.fallback] = (phase.fallbackReasons[c.fallback] ?? 0) + 1;
      phase.routes[c.route] ??= {};
      const route = phase.routes[c.route]!;
      route[outcome] = (route[outcome] ?? 0) + 1;
      if (outcome !== 'direct') {
        const side = outcome === 'legacy' ? 2 : 1;
        phase.users.set(c.userId, (phase.users.get(c.userId) ?? 0) | side);
      }
      if (isServedByMismatch(outcome, c.servedBy)) phase.servedByMismatches++;
      const bin = binAt(c.sentAtMs);
      bin.requests++;
      bin.outcomes[outcome]++;
      if (c.status >= 500) bin.status5xx++;
      else if (c.status < 200 || c.status > 299) bin.otherNon2xx++;
      bin.service.recordUs(serviceUs);
    },
    fail(failure) {
      phaseAt(failure.sentAtMs).errors[failure.kind]++;
      binAt(failure.sentAtMs).errors++;
    },
    phases,
    events,
    bins: () => bins,
    binMs: options.binMs,
    end: () => {
      endAtMs = now();
    },
    endMs: () => endAtMs ?? now(),
  };
}

function record(tally: Tally, serviceUs: number, correctedUs: number): void {
  tally.count++;
  tally.service.recordUs(serviceUs);
  tally.corrected.recordUs(correctedUs);
}

export function outcomeOf(c: Pick<Completion, 'target' | 'fallback'>): Outcome {
  if (c.fallback) return 'fallback';
  if (c.target === 'function') return 'function';
  if (c.target === 'legacy') return 'legacy';
  return 'direct';
}

/** fnshift's header and the fixture's own must agree: a fallback is answered by legacy. */
function isServedByMismatch(outcome: Outcome, servedBy: string | undefined): boolean {
  if (servedBy === undefined) return false;
  if (outcome === 'function') return servedBy !== 'function';
  return servedBy !== 'legacy';
}

export type { Bin, LatencySummary, PhaseStats };
