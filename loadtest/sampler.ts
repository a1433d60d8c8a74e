// Polls GET /routes during a run: the weight in force, each breaker and each rollout over time.
import type { AdminClient } from './admin.ts';

export interface AdminSample {
  readonly atMs: number;
  readonly weights: Readonly<Record<string, number>>;
  readonly breakers: Readonly<Record<string, string>>;
  readonly rollouts: Readonly<Record<string, { readonly status: string; readonly stepIndex?: number }>>;
  /** config.lastReload.at, to count the reloads that were applied. */
  readonly lastReloadAt?: string;
}

export interface Sampler {
  readonly samples: readonly AdminSample[];
  /** Samples that failed (fnshift too busy to answer in time is itself a finding). */
  readonly failures: number;
  stop(): Promise<void>;
}

export function startSampler(admin: AdminClient, now: () => number, intervalMs: number): Sampler {
  const samples: AdminSample[] = [];
  let failures = 0;
  let isStopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();

  const take = async () => {
    try {
      const status = await admin.routes();
      samples.push({
        atMs: now(),
        weights: Object.fromEntries(status.routes.map((r) => [r.name, r.weight])),
        breakers: Object.fromEntries(status.routes.map((r) => [r.name, r.breaker])),
        rollouts: Object.fromEntries(
          status.routes.flatMap((r) =>
            r.rollout ? [[r.name, { status: r.rollout.status, stepIndex: r.rollout.stepIndex }]] : [],
          ),
        ),
        lastReloadAt: status.config.lastReload?.at,
      });
    } catch {
      failures++;
    }
  };
  // One request at a time: a slow answer delays the next sample instead of piling requests up.
  const loop = () => {
    if (isStopped) return;
    current = take().then(() => {
      if (!isStopped) timer = setTimeout(loop, intervalMs);
    });
  };
  loop();
  return {
    samples,
    get failures() {
      return failures;
    },
    async stop() {
      isStopped = true;
      clearTimeout(timer);
      await current;
    },
  };
}

/** When the first sample matching `predicate` was taken at or after `fromMs`. */
export function firstSampleAt(
  samples: readonly AdminSample[],
  fromMs: number,
  predicate: (sample: AdminSample) => boolean,
): number | undefined {
  return samples.find((s) => s.atMs >= fromMs && predicate(s))?.atMs;
}
