// rollout: the automated progressive rollout of the recommend route, started through the admin API and
// stepping under load; the weight in force is sampled over time against the split actually observed.
import { createSteadyProfile } from '../model.ts';
import type { AdminSample } from '../sampler.ts';
import { type Scenario, untilRunTime } from '../scenario.ts';
import { shopConfig } from '../shop-config.ts';
import { round, summarizePhases } from '../summary.ts';

const STEPS = [10, 25, 50, 100];
/** Share of the traffic the recommend route gets from the model's mix (home, related items, cart). */
const RECOMMEND_SHARE = 0.7;
const FINAL = new Set(['succeeded', 'failed', 'aborted']);

export const rollout: Scenario = {
  name: 'rollout',
  title: 'Rollout: automated steps under load',
  description:
    `The recommend route declares a rollout (steps ${STEPS.join(', ')}; gates: success rate, p99, minimum ` +
    'requests). Under steady load it is started with POST /routes/recommend/rollout {"action":"start"}; ' +
    'the weight in force is sampled from GET /routes while the observed split is counted from responses.',
  durationS: { full: 34, short: 4 },
  rateRps: { full: 400, short: 300 },
  async run(ctx) {
    const { settings, recorder } = ctx;
    const durationMs = settings.durationS * 1000;
    const warmupMs = Math.min(2000, durationMs * 0.1);
    // One interval per step (the last check is at 100), and a tail of 1.5 intervals: the admin call and
    // the checks themselves take time on a busy machine.
    const intervalMs = Math.floor((durationMs - warmupMs) / (STEPS.length + 1.5));
    const expectedAtFirstStep = settings.rateRps * RECOMMEND_SHARE * (STEPS[0]! / 100) * (intervalMs / 1000);
    const minRequests = Math.max(3, Math.floor(expectedAtFirstStep * 0.3));
    const [legacy, fn] = await Promise.all([ctx.startLegacy(), ctx.startFunction()]);
    const gates = { minRequests, minSuccessPercent: 99, maxP99Ms: 1000, threshold: 3 };
    const fnshift = await ctx.startFnshift(
      shopConfig({
        legacyUrl: legacy.url,
        functionUrl: fn.url,
        weightPercent: 0,
        recommendRoute: { rollout: { steps: STEPS, intervalMs, ...gates } },
      }),
    );
    await ctx.warmUp(fnshift.data);
    const sampler = ctx.sample(fnshift.admin);
    recorder.mark('before');
    const startMs = recorder.now();
    const loading = ctx.load(fnshift.data, {
      durationS: settings.durationS,
      profile: createSteadyProfile(settings.rateRps),
      title: 'rollout',
    });
    await untilRunTime(recorder, startMs + warmupMs);
    await fnshift.admin.rollout('recommend', 'start');
    recorder.mark('rolling out');
    const rolloutStartMs = recorder.now();
    const finishedAtMs = await waitForFinalStatus(
      sampler.samples,
      () => recorder.now(),
      startMs + durationMs,
    );
    if (finishedAtMs !== undefined) recorder.mark('after');
    await loading;
    await sampler.stop();

    const weights = weightChanges(sampler.samples, 'recommend');
    const last = sampler.samples.at(-1);
    const status = last?.rollouts.recommend?.status ?? 'unknown';
    const reachedFullAt = weights.find((w) => w.weight === 100)?.atMs;
    const phases = summarizePhases(recorder);
    const during = phases.find((p) => p.name === 'rolling out');
    return {
      headline: {
        finalWeight: { label: 'weight at the end', value: last?.weights.recommend ?? null, unit: '%' },
        timeToFull: {
          label: 'time from start to weight 100',
          value: reachedFullAt === undefined ? null : round((reachedFullAt - rolloutStartMs) / 1000, 2),
          unit: 's',
          better: 'lower',
        },
        errors: {
          label: 'client-visible errors',
          value: phases.reduce((n, p) => n + p.errors.total + p.status5xx, 0),
          unit: 'requests',
          better: 'lower',
        },
      },
      findings: {
        steps: STEPS,
        intervalMs,
        gates,
        status,
        rolloutStartS: round(rolloutStartMs / 1000, 3),
        finishedAtS: finishedAtMs === undefined ? null : round(finishedAtMs / 1000, 3),
        weights: weights.map((w) => ({ atS: round(w.atMs / 1000, 3), weight: w.weight })),
        functionP99UsDuring: during?.outcomes.function?.service.p99Us ?? null,
        adminSampleFailures: sampler.failures,
      },
      notes: [
        `The rollout ended ${status} at weight ${last?.weights.recommend ?? '?'}; the weight went ` +
          `${weights
            .map((w) =>
              w.atMs < rolloutStartMs
                ? `${w.weight} before the start`
                : `${w.weight} at ${round((w.atMs - rolloutStartMs) / 1000, 1)} s`,
            )
            .join(', ')} ` +
          `(interval ${intervalMs} ms, at least ${minRequests} function requests per check).`,
      ],
      mainRoute: 'recommend',
    };
  },
};

function weightChanges(samples: readonly AdminSample[], route: string): { atMs: number; weight: number }[] {
  const changes: { atMs: number; weight: number }[] = [];
  for (const sample of samples) {
    const weight = sample.weights[route];
    if (weight !== undefined && weight !== changes.at(-1)?.weight)
      changes.push({ atMs: sample.atMs, weight });
  }
  return changes;
}

async function waitForFinalStatus(
  samples: readonly AdminSample[],
  now: () => number,
  deadlineMs: number,
): Promise<number | undefined> {
  while (now() < deadlineMs) {
    const last = samples.at(-1);
    if (last && FINAL.has(last.rollouts.recommend?.status ?? '')) return last.atMs;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return undefined;
}
