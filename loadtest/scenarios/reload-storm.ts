// reload-storm: the config file replaced by rename ten times a second under load; every reload swaps the
// whole snapshot. Counts 5xx and errors, reloads applied, and users who switched sides (there must be none).
import { metricValue } from '../admin.ts';
import { createSteadyProfile } from '../model.ts';
import { type Scenario, untilRunTime } from '../scenario.ts';
import { shopConfig } from '../shop-config.ts';
import { summarizePhases } from '../summary.ts';

const WRITES_PER_SECOND = 10;
const PHASE_SHARES = { before: 0.2, storm: 0.6 } as const;

export const reloadStorm: Scenario = {
  name: 'reload-storm',
  title: 'Reload storm: the config rewritten 10×/s under load',
  description:
    `Steady traffic at weight 50 while the config file is replaced by rename ${WRITES_PER_SECOND} times a ` +
    'second (a new file renamed over the old, as editors and ConfigMap updates do). Each write changes the ' +
    "functions' timeouts, so every reload builds and swaps a new snapshot, while the split stays the same: " +
    'no request should fail and no user should change sides.',
  durationS: { full: 25, short: 4 },
  rateRps: { full: 400, short: 300 },
  async run(ctx) {
    const { settings, recorder } = ctx;
    const [legacy, fn] = await Promise.all([ctx.startLegacy(), ctx.startFunction()]);
    // A short debounce: with the default 200 ms, writes 100 ms apart would keep postponing the reload.
    const reload = { watch: true, debounceMs: 20, pollIntervalMs: 0 };
    const configFor = (revision: number) =>
      shopConfig({
        legacyUrl: legacy.url,
        functionUrl: fn.url,
        weightPercent: 50,
        functionSettings: { timeoutMs: 1000 + (revision % 2) },
        extra: { reload },
      });
    const fnshift = await ctx.startFnshift(configFor(0));
    await ctx.warmUp(fnshift.data);
    const sampler = ctx.sample(fnshift.admin);
    const durationMs = settings.durationS * 1000;
    recorder.mark('before');
    const startMs = recorder.now();
    const loading = ctx.load(fnshift.data, {
      durationS: settings.durationS,
      profile: createSteadyProfile(settings.rateRps),
      title: 'reload-storm',
    });
    await untilRunTime(recorder, startMs + durationMs * PHASE_SHARES.before);
    recorder.mark('storm');
    const metricsBefore = await fnshift.admin.metrics();
    const stormEndMs = startMs + durationMs * (PHASE_SHARES.before + PHASE_SHARES.storm);
    let writes = 0;
    let writeFailures = 0;
    while (recorder.now() < stormEndMs) {
      const nextAtMs = recorder.now() + 1000 / WRITES_PER_SECOND;
      writes++;
      await fnshift.writeConfig(configFor(writes)).catch(() => {
        writeFailures++;
      });
      await untilRunTime(recorder, nextAtMs);
    }
    recorder.mark('after');
    await loading;
    await sampler.stop();
    const metricsAfter = await fnshift.admin.metrics();

    const phases = summarizePhases(recorder);
    const storm = phases.find((p) => p.name === 'storm')!;
    const before = phases.find((p) => p.name === 'before')!;
    const reloadsSampled = new Set(sampler.samples.map((s) => s.lastReloadAt).filter(Boolean)).size;
    const reloadsByMetric = (result: string) =>
      metricsBefore === undefined || metricsAfter === undefined
        ? null
        : metricValue(metricsAfter, 'fnshift_config_reloads_total', { result }) -
          metricValue(metricsBefore, 'fnshift_config_reloads_total', { result });
    const reloadsApplied = reloadsByMetric('ok');
    const status5xx = phases.reduce((n, p) => n + p.status5xx, 0);
    const errors = phases.reduce((n, p) => n + p.errors.total, 0);
    const stickyViolations = phases.reduce((n, p) => n + p.users.both, 0);
    return {
      headline: {
        status5xx: { label: '5xx responses', value: status5xx, unit: 'requests', better: 'lower' },
        errors: { label: 'connection errors and timeouts', value: errors, unit: 'requests', better: 'lower' },
        stickyViolations: {
          label: 'users seen on both sides within a phase',
          value: stickyViolations,
          unit: 'users',
          better: 'lower',
        },
        stormP99: {
          label: 'p99 during the storm',
          value: storm.latency.service.p99Us,
          unit: 'µs',
          better: 'lower',
        },
        beforeP99: {
          label: 'p99 before the storm',
          value: before.latency.service.p99Us,
          unit: 'µs',
          better: 'lower',
        },
        reloads: {
          label: 'reloads applied during the storm',
          value: reloadsApplied ?? reloadsSampled,
          unit: 'reloads',
          better: 'higher',
        },
      },
      findings: {
        writes,
        writeFailures,
        writesPerSecond: WRITES_PER_SECOND,
        reload,
        reloadsAppliedByMetric: reloadsApplied,
        reloadsInvalidByMetric: reloadsByMetric('invalid'),
        distinctReloadsSampled: reloadsSampled,
        stormRequests: storm.requests,
        adminSampleFailures: sampler.failures,
      },
      notes: [
        `${writes} config writes during the storm; ${reloadsApplied ?? `at least ${reloadsSampled}`} reloads applied ` +
          `(${reloadsApplied === null ? 'distinct lastReload times seen in GET /routes; /metrics unavailable' : 'fnshift_config_reloads_total'}).`,
        `${status5xx} responses were 5xx and ${errors} requests failed at the connection level; ` +
          `${stickyViolations} users switched sides.`,
      ],
      mainRoute: 'recommend',
    };
  },
};
