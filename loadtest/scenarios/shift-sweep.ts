// shift-sweep: every route's weight stepped 0 → 10 → 50 → 100 through the admin API under steady load;
// per step, the split fnshift made (per user and per request) and each target's latency.
import { createSteadyProfile } from '../model.ts';
import { type Scenario, untilRunTime } from '../scenario.ts';
import { shopConfig, shopRoutes } from '../shop-config.ts';
import { type PhaseSummary, round, summarizePhases } from '../summary.ts';

export const sweepWeights = [0, 10, 50, 100] as const;

export interface SplitCheck {
  readonly weightPercent: number;
  readonly users: number;
  readonly userShare: number | null;
  /** 4σ of a binomial share over `users` users: the bucket hash should land well inside it. */
  readonly bound: number;
  readonly isWithinBound: boolean;
  /** Share of requests: Zipf users make this swing much more than the user share. */
  readonly requestShare: number | null;
  readonly stickyViolations: number;
}

/**
 * Buckets are drawn per user, not per request, so the user share is the binomial one: each user lands on
 * the function with probability w. A few heavy users carry a large part of the requests, so the request
 * share is checked only loosely.
 */
export function checkSplit(phase: PhaseSummary, weightPercent: number): SplitCheck {
  const p = weightPercent / 100;
  const n = phase.users.function + phase.users.legacy;
  const bound = n === 0 ? 1 : 4 * Math.sqrt(Math.max(p * (1 - p), 0.25 / n) / n);
  const share = phase.users.functionShare;
  return {
    weightPercent,
    users: n,
    userShare: share === null ? null : round(share, 4),
    bound: round(bound, 4),
    isWithinBound: share !== null && Math.abs(share - p) <= bound,
    requestShare: phase.functionShare === null ? null : round(phase.functionShare, 4),
    stickyViolations: phase.users.both,
  };
}

export const shiftSweep: Scenario = {
  name: 'shift-sweep',
  title: 'Shift sweep: weights 0, 10, 50, 100 under load',
  description:
    'Steady traffic through fnshift while every route is moved from weight 0 to 10, 50 and 100 through the ' +
    "admin API. Per step: the share of users and of requests fnshift sent to the function, each target's " +
    'latency, and whether any user switched sides within a step (sticky violations).',
  durationS: { full: 40, short: 4 },
  rateRps: { full: 400, short: 300 },
  async run(ctx) {
    const { settings, recorder } = ctx;
    const [legacy, fn] = await Promise.all([ctx.startLegacy(), ctx.startFunction()]);
    const fnshift = await ctx.startFnshift(
      shopConfig({ legacyUrl: legacy.url, functionUrl: fn.url, weightPercent: 0 }),
    );
    await ctx.warmUp(fnshift.data);
    const sampler = ctx.sample(fnshift.admin);
    const stepMs = (settings.durationS * 1000) / sweepWeights.length;
    const profile = createSteadyProfile(settings.rateRps);
    recorder.mark('weight 0');
    const startMs = recorder.now();
    const loading = ctx.load(fnshift.data, { durationS: settings.durationS, profile, title: 'shift-sweep' });
    for (const [i, weight] of sweepWeights.entries()) {
      if (i === 0) continue;
      await untilRunTime(recorder, startMs + i * stepMs);
      // Requests sent while the change is in flight may see either weight: they get a phase of their own.
      recorder.mark(`changing to ${weight}`, { countsForSlo: true });
      await Promise.all(shopRoutes.map((route) => fnshift.admin.setWeight(route, weight)));
      recorder.mark(`weight ${weight}`);
    }
    await loading;
    await sampler.stop();
    const phases = summarizePhases(recorder);
    const steps = sweepWeights.map((weight) => {
      const phase = phases.find((p) => p.name === `weight ${weight}`)!;
      return {
        ...checkSplit(phase, weight),
        requests: phase.requests,
        functionP99Us: phase.outcomes.function?.service.p99Us ?? null,
        legacyP99Us: phase.outcomes.legacy?.service.p99Us ?? null,
        errors: phase.errors.total + phase.status5xx,
        servedByMismatches: phase.servedByMismatches,
      };
    });
    const at50 = steps.find((s) => s.weightPercent === 50)!;
    return {
      headline: {
        userShareAt50: { label: 'user share on the function at weight 50', value: at50.userShare, unit: '' },
        splitErrorAt50: {
          label: '|user share − 0.5| at weight 50',
          value: at50.userShare === null ? null : round(Math.abs(at50.userShare - 0.5), 4),
          unit: '',
          better: 'lower',
        },
        stickyViolations: {
          label: 'users seen on both sides within a step',
          value: steps.reduce((n, s) => n + s.stickyViolations, 0),
          unit: 'users',
          better: 'lower',
        },
        errors: {
          label: 'client-visible errors',
          value: phases.reduce((n, p) => n + p.errors.total + p.status5xx, 0),
          unit: 'requests',
          better: 'lower',
        },
      },
      findings: { steps, adminSampleFailures: sampler.failures },
      notes: steps.map(
        (s) =>
          `weight ${s.weightPercent}: ${s.userShare === null ? 'n/a' : `${(s.userShare * 100).toFixed(1)}%`} of ` +
          `${s.users} users and ${s.requestShare === null ? 'n/a' : `${(s.requestShare * 100).toFixed(1)}%`} of ` +
          `requests went to the function (bound ±${(s.bound * 100).toFixed(1)} points: ` +
          `${s.isWithinBound ? 'within' : 'OUTSIDE'}); ${s.stickyViolations} sticky violations.`,
      ),
      mainRoute: 'recommend',
    };
  },
};
