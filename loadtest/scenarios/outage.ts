// outage (the resilience chaos test): steady, idempotent traffic at weight 50 while the function is killed,
// then hangs, then recovers. What clients saw per phase, how fast the breaker opened, what the fallback
// cost, and whether the function's share came back.
import { createSteadyProfile } from '../model.ts';
import type { Completion } from '../recorder.ts';
import { firstSampleAt } from '../sampler.ts';
import { type Scenario, untilRunTime } from '../scenario.ts';
import { shopConfig } from '../shop-config.ts';
import { mergeOutcome, type PhaseSummary, round, summarizePhases } from '../summary.ts';

/** Shares of the duration: steady, killed, hanging, recovered. */
const PHASE_SHARES = { steady: 0.22, kill: 0.22, hang: 0.22, recover: 0.34 } as const;

export const outage: Scenario = {
  name: 'outage',
  title: 'Outage: the function killed, hanging, then back',
  description:
    'Steady GET traffic (idempotent, so every failure may fall back) with every route at weight 50. The ' +
    'function process is killed (connections refused), then restarted hanging (accepts, never answers), ' +
    'then recovers. Per phase: errors the clients saw, fallbacks and their latency; when the breaker ' +
    "opened; and how soon the function's share came back.",
  durationS: { full: 45, short: 7 },
  rateRps: { full: 400, short: 300 },
  async run(ctx) {
    const { settings, recorder } = ctx;
    const short = settings.isShort;
    const [legacy, fn] = await Promise.all([ctx.startLegacy(), ctx.startFunction()]);
    const breaker = {
      errorThresholdPercent: 50,
      minimumRequests: short ? 5 : 10,
      rollingWindowMs: short ? 1000 : 5000,
      rollingWindowBuckets: 10,
      openDurationMs: short ? 500 : 3000,
    };
    const timeoutMs = short ? 200 : 300;
    const fnshift = await ctx.startFnshift(
      shopConfig({
        legacyUrl: legacy.url,
        functionUrl: fn.url,
        weightPercent: 50,
        functionSettings: { timeoutMs, breaker },
      }),
    );
    await ctx.warmUp(fnshift.data);
    const sampler = ctx.sample(fnshift.admin, short ? 25 : 50);
    const durationMs = settings.durationS * 1000;
    const at = {
      kill: durationMs * PHASE_SHARES.steady,
      hang: durationMs * (PHASE_SHARES.steady + PHASE_SHARES.kill),
      recover: durationMs * (PHASE_SHARES.steady + PHASE_SHARES.kill + PHASE_SHARES.hang),
    };
    const seen = createFirstSeen();
    recorder.mark('steady');
    const startMs = recorder.now();
    const loading = ctx.load(fnshift.data, {
      durationS: settings.durationS,
      profile: createSteadyProfile(settings.rateRps),
      model: { feedbackShare: 0 },
      title: 'outage',
      observe: seen.observe,
    });
    await untilRunTime(recorder, startMs + at.kill);
    recorder.mark('kill');
    const killedAtMs = recorder.now();
    await fn.kill();
    await untilRunTime(recorder, startMs + at.hang);
    // Each phase starts once the function is in its state: a restart into "hang" takes a few hundred ms.
    await fn.hang();
    recorder.mark('hang');
    await untilRunTime(recorder, startMs + at.recover);
    await fn.recover();
    recorder.mark('recover');
    const recoveredAtMs = recorder.now();
    await loading;
    await sampler.stop();

    const phases = summarizePhases(recorder);
    const byName = (name: string) => phases.find((p) => p.name === name)!;
    const steady = byName('steady');
    const outagePhases = recorder.phases.filter((p) => p.name === 'kill' || p.name === 'hang');
    const fallbackDuringOutage = mergeOutcome(outagePhases, 'fallback').summary();
    const breakerOpenSampledAt = firstSampleAt(sampler.samples, killedAtMs, (s) =>
      Object.values(s.breakers).some((state) => state === 'open'),
    );
    const firstBreakerFallback = seen.first('breaker_open', killedAtMs);
    const firstFunctionAfter = seen.first('function', recoveredAtMs);
    const breakerClosedAt = firstSampleAt(sampler.samples, recoveredAtMs, (s) =>
      Object.values(s.breakers).every((state) => state === 'closed'),
    );
    const recoverShare = tailFunctionShare(recorder, recoveredAtMs, recorder.now());
    const perPhase = Object.fromEntries(phases.map((p) => [p.name, phaseNumbers(p)]));
    const visibleErrors = phases.reduce((n, p) => n + p.errors.total + p.status5xx, 0);
    const sinceKill = (atMs: number | undefined) => (atMs === undefined ? null : round(atMs - killedAtMs, 1));
    const sinceRecover = (atMs: number | undefined) =>
      atMs === undefined ? null : round(atMs - recoveredAtMs, 1);
    return {
      headline: {
        errors: {
          label: 'client-visible errors, all phases',
          value: visibleErrors,
          unit: 'requests',
          better: 'lower',
        },
        breakerOpenMs: {
          label: 'kill → first breaker_open fallback',
          value: sinceKill(firstBreakerFallback),
          unit: 'ms',
          better: 'lower',
        },
        fallbackP99: {
          label: 'p99 of fallbacks during the outage',
          value: fallbackDuringOutage.p99Us,
          unit: 'µs',
          better: 'lower',
        },
        steadyP99: {
          label: 'p99 in the steady phase',
          value: steady.latency.service.p99Us,
          unit: 'µs',
          better: 'lower',
        },
        functionShareAfter: {
          label: 'function share, last half of recovery',
          value: recoverShare === null ? null : round(recoverShare, 4),
          unit: '',
          better: 'higher',
        },
      },
      findings: {
        timeoutMs,
        breaker,
        phases: perPhase,
        breakerOpen: {
          firstBreakerFallbackMs: sinceKill(firstBreakerFallback),
          sampledOpenMs: sinceKill(breakerOpenSampledAt),
        },
        fallbackDuringOutageUs: fallbackDuringOutage,
        steady: {
          allUs: steady.latency.service,
          legacyUs: steady.outcomes.legacy?.service ?? null,
          functionShare: steady.functionShare,
        },
        recovery: {
          firstFunctionResponseMs: sinceRecover(firstFunctionAfter),
          breakerClosedSampledMs: sinceRecover(breakerClosedAt),
          functionShareLastHalf: recoverShare,
          steadyFunctionShare: steady.outcomes.function?.share ?? null,
        },
        adminSampleFailures: sampler.failures,
      },
      notes: [
        `Client-visible errors: ${phases.map((p) => `${p.name} ${p.errors.total + p.status5xx}`).join(', ')}.`,
        `The breaker turned fallbacks into breaker_open ${sinceKill(firstBreakerFallback) ?? 'never'} ms after the kill ` +
          `(GET /routes showed it open after ${sinceKill(breakerOpenSampledAt) ?? 'never'} ms).`,
        `Fallbacks during the outage: p99 ${fallbackDuringOutage.p99Us} µs over ${fallbackDuringOutage.count} requests, ` +
          `against ${steady.latency.service.p99Us} µs for all requests in the steady phase.`,
        `After recovery the function answered again ${sinceRecover(firstFunctionAfter) ?? 'never'} ms later; its ` +
          `share in the last half of the phase was ${recoverShare === null ? 'n/a' : `${(recoverShare * 100).toFixed(1)}%`} ` +
          `(steady: ${((steady.outcomes.function?.share ?? 0) * 100).toFixed(1)}%).`,
      ],
      mainRoute: 'recommend',
    };
  },
};

function phaseNumbers(p: PhaseSummary) {
  return {
    requests: p.requests,
    errors: p.errors.total,
    status5xx: p.status5xx,
    visibleErrors: p.errors.total + p.status5xx,
    fallbackShare: round((p.outcomes.fallback?.count ?? 0) / Math.max(p.requests, 1), 4),
    fallbackReasons: p.fallbackReasons,
    functionShare: round(p.outcomes.function?.share ?? 0, 4),
    p99Us: p.latency.service.p99Us,
    fallbackP99Us: p.outcomes.fallback?.service.p99Us ?? null,
  };
}

/** The earliest send time, at or after a moment, of a response of a kind (a fallback reason, or "function"). */
function createFirstSeen() {
  const times = new Map<string, number[]>();
  return {
    observe(c: Completion) {
      const kind = c.fallback ?? c.target ?? 'direct';
      const list = times.get(kind);
      if (list) list.push(c.sentAtMs);
      else times.set(kind, [c.sentAtMs]);
    },
    first(kind: string, fromMs: number): number | undefined {
      let best: number | undefined;
      for (const t of times.get(kind) ?? []) if (t >= fromMs && (best === undefined || t < best)) best = t;
      return best;
    },
  };
}

/** The function's share of the recovery phase's second half, from the time bins. */
function tailFunctionShare(
  recorder: { bins(): readonly ({ outcomes: Record<string, number> } | undefined)[]; binMs: number },
  fromMs: number,
  toMs: number,
): number | null {
  const startBin = Math.ceil((fromMs + (toMs - fromMs) / 2) / recorder.binMs);
  const endBin = Math.floor(toMs / recorder.binMs);
  let fn = 0;
  let total = 0;
  recorder.bins().forEach((bin, i) => {
    if (!bin || i < startBin || i >= endBin) return;
    fn += bin.outcomes.function ?? 0;
    total += (bin.outcomes.function ?? 0) + (bin.outcomes.legacy ?? 0) + (bin.outcomes.fallback ?? 0);
  });
  return total === 0 ? null : fn / total;
}
