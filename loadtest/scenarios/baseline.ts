// baseline: the traffic straight to the legacy app, no fnshift: what every other scenario is read against.
import { createBurstProfile } from '../model.ts';
import { type Scenario, untilRunTime } from '../scenario.ts';
import { summarizePhases } from '../summary.ts';

const PEAK_FACTOR = 4;

export const baseline: Scenario = {
  name: 'baseline',
  title: 'Baseline: straight to the legacy app',
  description:
    `Recommendation-shaped traffic sent directly to the legacy app, without fnshift, at the base rate with a ` +
    `burst of ${PEAK_FACTOR}× the base rate in the middle (a flash sale): the legacy app's own latency and ` +
    'errors, which every other scenario is read against.',
  durationS: { full: 30, short: 3 },
  rateRps: { full: 400, short: 200 },
  async run(ctx) {
    const { settings, recorder } = ctx;
    const legacy = await ctx.startLegacy();
    await ctx.warmUp(legacy.url);
    const durationMs = settings.durationS * 1000;
    const profile = createBurstProfile({ baseRps: settings.rateRps, peakFactor: PEAK_FACTOR, durationMs });
    const peak = profile.peakWindowMs!;
    recorder.mark('base');
    const loadStartMs = recorder.now();
    const loading = ctx.load(legacy.url, { durationS: settings.durationS, profile, title: 'baseline' });
    await untilRunTime(recorder, loadStartMs + peak.startMs);
    recorder.mark('peak');
    await untilRunTime(recorder, loadStartMs + peak.endMs);
    recorder.mark('after');
    const run = await loading;
    const phases = summarizePhases(recorder);
    const base = phases.find((p) => p.name === 'base');
    const top = phases.find((p) => p.name === 'peak');
    return {
      headline: {
        baseP50: {
          label: 'p50 at the base rate',
          value: base!.latency.service.p50Us,
          unit: 'µs',
          better: 'lower',
        },
        baseP99: {
          label: 'p99 at the base rate',
          value: base!.latency.service.p99Us,
          unit: 'µs',
          better: 'lower',
        },
        peakP99: { label: 'p99 at the peak', value: top!.latency.service.p99Us, unit: 'µs', better: 'lower' },
        peakCorrectedP99: {
          label: 'p99 at the peak, from the intended send time',
          value: top!.latency.corrected.p99Us,
          unit: 'µs',
          better: 'lower',
        },
        peakRps: {
          label: 'requests/s reached at the peak',
          value: top!.requestsPerSec,
          unit: 'req/s',
          better: 'higher',
        },
        errors: {
          label: 'client-visible errors (connection, timeout, 5xx)',
          value: phases.reduce((n, p) => n + p.errors.total + p.status5xx, 0),
          unit: 'requests',
          better: 'lower',
        },
      },
      findings: {
        baseRps: profile.baseRps,
        peakRps: profile.peakRps,
        peakWindowS: [peak.startMs / 1000, peak.endMs / 1000],
        slotsMissed: run.slotsMissed,
      },
      notes: [
        `The peak asked for ${profile.peakRps} req/s and got ${top!.requestsPerSec}; ` +
          (run.slotsMissed > 0
            ? `${run.slotsMissed} planned requests were never sent: the generator or the app fell behind.`
            : 'every planned request was sent.'),
      ],
    };
  },
};
