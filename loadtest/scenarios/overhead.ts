// overhead: what fnshift adds to each request at weight 0, at a fixed rate of about half its saturation,
// in alternating rounds (direct, fnshift, direct, fnshift…) so drift on the machine hits both alike.
import { bucketQuantile, histogramBuckets } from '../admin.ts';
import { cpuWaitPercent, sampleCpuWait } from '../cpu-wait.ts';
import { createSteadyProfile } from '../model.ts';
import type { PhaseStats } from '../recorder.ts';
import type { HeadlineValue, Scenario } from '../scenario.ts';
import { shopConfig } from '../shop-config.ts';
import { mergeOutcome, round } from '../summary.ts';

// Five pairs: a burst of noise from elsewhere on the machine lands in one round, and the median of the
// per-round differences is then read past it.
const ROUNDS = { full: 5, short: 1 };
const PROBE_S = { full: 4, short: 1 };
const SETTLE_S = { full: 2, short: 0.5 };

export const overhead: Scenario = {
  name: 'overhead',
  title: 'Overhead: fnshift at weight 0 against the legacy app alone',
  description:
    'The same requests at the same fixed rate, alternately straight to the legacy app and through fnshift ' +
    'with every route at weight 0. The app answers at once (no service time), so the difference is ' +
    "fnshift's own cost in µs. The rate is half of fnshift's saturation, measured first, unless --rate is given.",
  durationS: { full: 40, short: 4 },
  rateRps: { full: 0, short: 0 },
  async run(ctx) {
    const { settings, recorder } = ctx;
    const legacy = await ctx.startLegacy({ latency: { medianMs: 0, sigma: 0 } });
    const fnshift = await ctx.startFnshift(
      shopConfig({ legacyUrl: legacy.url, functionUrl: legacy.url, weightPercent: 0 }),
    );
    await ctx.warmUp(fnshift.data);
    const rounds = settings.isShort ? ROUNDS.short : ROUNDS.full;
    const probeS = settings.isShort ? PROBE_S.short : PROBE_S.full;
    const settleS = settings.isShort ? SETTLE_S.short : SETTLE_S.full;
    const roundS = Math.max(1, Math.floor((settings.durationS - probeS - settleS) / (2 * rounds)));

    recorder.mark('saturation probe', { countsForSlo: false });
    const probe = await ctx.load(fnshift.data, { durationS: probeS, title: 'saturation probe' });
    const saturationRps = probe.requestsPerSec;
    const rateRps = settings.isRateExplicit
      ? settings.rateRps
      : Math.max(50, Math.round((saturationRps * 0.5) / 50) * 50);
    ctx.log(
      `overhead: fnshift saturates near ${Math.round(saturationRps)} req/s; measuring at ${rateRps} req/s`,
    );

    const profile = createSteadyProfile(rateRps);
    // The probe leaves fnshift with a grown heap and pool; let it settle at the fixed rate, uncounted.
    recorder.mark('settle', { countsForSlo: false });
    await ctx.load(fnshift.data, { durationS: settleS, profile, title: 'settle' });
    const direct: PhaseStats[] = [];
    const through: PhaseStats[] = [];
    // Per round, the share of it each process spent runnable but waiting for a CPU (Linux; else null).
    const pids = {
      generator: process.pid,
      legacy: legacy.pid(),
      fnshift: fnshift.child.process.pid,
    };
    const waits: { direct: CpuWaits[]; fnshift: CpuWaits[] } = { direct: [], fnshift: [] };
    const measured = async (into: CpuWaits[], load: () => Promise<unknown>) => {
      const before = Object.entries(pids).map(([name, pid]) => [name, sampleCpuWait(pid)] as const);
      await load();
      const entries = before.map(([name, from]) => {
        const to = sampleCpuWait(pids[name as keyof typeof pids]);
        return [name, cpuWaitPercent(from, to) ?? null];
      });
      into.push(Object.fromEntries(entries) as CpuWaits);
    };
    // fnshift's own time per request over its rounds, from its fnshift_overhead_seconds histogram.
    const ownBefore = histogramBuckets((await fnshift.admin.metrics()) ?? '', OWN_HISTOGRAM);
    for (let round = 1; round <= rounds; round++) {
      recorder.mark(`direct r${round}`);
      direct.push(recorder.phases.at(-1)!);
      await measured(waits.direct, () =>
        ctx.load(legacy.url, { durationS: roundS, profile, title: `direct r${round}` }),
      );
      recorder.mark(`fnshift r${round}`);
      through.push(recorder.phases.at(-1)!);
      await measured(waits.fnshift, () =>
        ctx.load(fnshift.data, { durationS: roundS, profile, title: `fnshift r${round}` }),
      );
    }
    const waitNote = describeWaits(waits.fnshift);
    const ownAfter = histogramBuckets((await fnshift.admin.metrics()) ?? '', OWN_HISTOGRAM);
    const ownUs = (q: number) => {
      const bound = bucketQuantile(ownBefore, ownAfter, q);
      return bound === undefined || !Number.isFinite(bound) ? null : Math.round(bound * 1e6);
    };
    const own = { p50: ownUs(0.5), p99: ownUs(0.99) };

    const d = mergeOutcome(direct, 'all').summary();
    const f = mergeOutcome(through, 'all').summary();
    const dc = mergeOutcome(direct, 'all', 'corrected').summary();
    const fc = mergeOutcome(through, 'all', 'corrected').summary();
    const perRound = direct.map((phase, i) => {
      const [dr, fr] = [phase.all.service.summary(), through[i]!.all.service.summary()];
      return {
        round: i + 1,
        directP99Us: dr.p99Us,
        fnshiftP99Us: fr.p99Us,
        addedP50Us: fr.p50Us - dr.p50Us,
        addedP99Us: fr.p99Us - dr.p99Us,
      };
    });
    const medianAddedP99Us = median(perRound.map((r) => r.addedP99Us));
    const directP99sUs = perRound.map((r) => r.directP99Us);
    const headline: Record<string, HeadlineValue> = {
      addedP50: {
        label: 'added p50 (fnshift − direct)',
        value: f.p50Us - d.p50Us,
        unit: 'µs',
        better: 'lower',
      },
      addedP99: {
        label: 'added p99 (fnshift − direct)',
        value: f.p99Us - d.p99Us,
        unit: 'µs',
        better: 'lower',
      },
      addedP99MedianRound: {
        label: 'added p99, median of the rounds (each fnshift round − the direct round before it)',
        value: medianAddedP99Us,
        unit: 'µs',
        better: 'lower',
      },
      addedP99_9: {
        label: 'added p99.9 (fnshift − direct)',
        value: f.p99_9Us - d.p99_9Us,
        unit: 'µs',
        better: 'lower',
      },
      ownP99: {
        label: "fnshift's own time, p99 (its fnshift_overhead_seconds, ≤ bucket)",
        value: own.p99,
        unit: 'µs',
        better: 'lower',
      },
      rate: { label: 'fixed rate of the rounds', value: rateRps, unit: 'req/s' },
      saturation: {
        label: 'fnshift saturation (closed loop)',
        value: Math.round(saturationRps),
        unit: 'req/s',
        better: 'higher',
      },
    };
    return {
      headline,
      findings: {
        saturationRps: round(saturationRps, 1),
        rateRps,
        rounds,
        roundS,
        direct: d,
        fnshift: f,
        directCorrected: dc,
        fnshiftCorrected: fc,
        addedUs: {
          p50: f.p50Us - d.p50Us,
          p90: f.p90Us - d.p90Us,
          p99: f.p99Us - d.p99Us,
          p99_9: f.p99_9Us - d.p99_9Us,
          correctedP99: fc.p99Us - dc.p99Us,
        },
        perRound,
        medianAddedP99Us,
        cpuWaitPercent: waits,
        /** Upper bounds of fnshift_overhead_seconds buckets, µs; null when the histogram was not readable. */
        fnshiftOwnUs: own,
      },
      notes: [
        `At ${rateRps} req/s (${Math.round((rateRps / saturationRps) * 100)}% of the ${Math.round(saturationRps)} req/s ` +
          `fnshift reached closed-loop here), fnshift added ${f.p50Us - d.p50Us} µs at p50 and ` +
          `${f.p99Us - d.p99Us} µs at p99.`,
        'Generator, fnshift and the app share this machine, so the direct numbers include the same generator ' +
          'cost; the difference is what fnshift adds.',
        `Round by round, the added p99 was ${perRound.map((r) => r.addedP99Us).join(', ')} µs (median ` +
          `${medianAddedP99Us}), while the direct path's own p99 ranged from ${Math.min(...directP99sUs)} to ` +
          `${Math.max(...directP99sUs)} µs between rounds: read the added p99 against that spread, which is ` +
          "the machine's, not fnshift's.",
        ...(own.p50 !== null && own.p99 !== null
          ? [
              `fnshift's own time per request over its rounds (fnshift_overhead_seconds: the request's duration ` +
                `less the time it waited on the app) was at most ${own.p50} µs at p50 and ${own.p99} µs at p99; the ` +
                'rest of what it adds is the extra hop: two more socket round trips and process wake-ups, and any ' +
                'wait for a CPU or a busy event loop before fnshift reads the bytes.',
            ]
          : []),
        ...(waitNote ? [waitNote] : []),
      ],
    };
  },
};

const OWN_HISTOGRAM = 'fnshift_overhead_seconds';

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
}

/** Percent of a round each process waited for a CPU; null where /proc/PID/schedstat is not readable. */
type CpuWaits = Record<'generator' | 'legacy' | 'fnshift', number | null>;

function describeWaits(rounds: readonly CpuWaits[]): string | undefined {
  const mean = (name: keyof CpuWaits) => {
    const values = rounds.map((r) => r[name]).filter((v): v is number => v !== null);
    return values.length === 0 ? undefined : round(values.reduce((a, b) => a + b, 0) / values.length, 1);
  };
  const [generator, legacy, fnshift] = [mean('generator'), mean('legacy'), mean('fnshift')];
  if (generator === undefined || legacy === undefined || fnshift === undefined) return undefined;
  return (
    `In the fnshift rounds the event-loop threads waited for a CPU ${generator}% (generator), ${legacy}% (app) ` +
    `and ${fnshift}% (fnshift) of the time (run-queue delay, /proc/PID/schedstat): each wait of a few ms ` +
    'while a request is in flight lands in its latency, so read the added p99 against these shares.'
  );
}
