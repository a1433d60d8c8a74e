// overhead: what fnshift adds to each request at weight 0, at a fixed rate of about half its saturation,
// in alternating rounds (direct, fnshift, nginx, direct…) so drift on the machine hits every arm alike.
// nginx, when installed, is the reference hop: the same extra hop made by a proxy with nothing to decide,
// so what the machine adds to any hop is told apart from what fnshift adds.
import { bucketQuantile, histogramBuckets } from '../admin.ts';
import { cpuWaitPercent, sampleCpuWait } from '../cpu-wait.ts';
import { describeError } from '../errors.ts';
import { createSteadyProfile } from '../model.ts';
import type { PhaseStats } from '../recorder.ts';
import type { HeadlineValue, Scenario } from '../scenario.ts';
import { shopConfig } from '../shop-config.ts';
import { describeStallOutcome, probeStallsForReport } from '../stalls.ts';
import { mergeOutcome, round } from '../summary.ts';

// Five rounds per arm: a burst of noise from elsewhere on the machine lands in one round, and the median
// of the per-round differences is then read past it.
const ROUNDS = { full: 5, short: 1 };
const PROBE_S = { full: 4, short: 1 };
const SETTLE_S = { full: 2, short: 0.5 };
// A busy loop per core just before the rounds and just after, with no load: the stalls the machine adds
// to any request whatever serves it, measured in the same run as the rounds.
const STALL_PROBE_MS = { full: 1000, short: 200 };
// Every round is a new generator run that opens all its connections at once, which costs the generator
// and each server far more than requests on open connections (fnshift ~0.25 ms of CPU for a request on a
// new connection, ~0.1 ms on an open one; 64 at once queue the round's first requests for tens of ms).
// Steady traffic keeps its connections, so the first part of each round is a phase of its own, reported
// but not counted in it.
const LEAD_IN_S = { full: 0.5, short: 0.25 };

type ArmName = 'direct' | 'fnshift' | 'nginx';

interface Arm {
  readonly name: ArmName;
  readonly url: string;
  /** The processes whose CPU wait each round samples. */
  readonly pids: Readonly<Record<string, number | undefined>>;
  readonly phases: PhaseStats[];
  /** The first LEAD_IN_S of each round, while the generator's new connections are being set up. */
  readonly leadIns: PhaseStats[];
  readonly waits: CpuWaits[];
}

export const overhead: Scenario = {
  name: 'overhead',
  title: 'Overhead: fnshift at weight 0 against the legacy app alone',
  description:
    'The same requests at the same fixed rate, alternately straight to the legacy app, through fnshift ' +
    'with every route at weight 0 and, when nginx is installed, through nginx as a plain reverse proxy. ' +
    "The app answers at once (no service time), so each difference is that hop's own cost in µs. The rate " +
    "is half of fnshift's saturation, measured first, unless --rate is given.",
  durationS: { full: 55, short: 4 },
  rateRps: { full: 0, short: 0 },
  async run(ctx) {
    const { settings, recorder } = ctx;
    const legacy = await ctx.startLegacy({ latency: { medianMs: 0, sigma: 0 } });
    const fnshift = await ctx.startFnshift(
      shopConfig({ legacyUrl: legacy.url, functionUrl: legacy.url, weightPercent: 0 }),
    );
    // The reference is a yardstick, not the subject: when nginx will not start, the run goes on without it.
    let referenceError: string | undefined;
    const reference = await ctx.startReference(legacy.url).catch((error: unknown) => {
      referenceError = describeError(error);
      ctx.log(`overhead: no reference hop: ${referenceError}`);
      return undefined;
    });
    await ctx.warmUp(fnshift.data);
    if (reference) await ctx.warmUp(reference.url, settings.isShort ? 0.5 : 1);
    const rounds = settings.isShort ? ROUNDS.short : ROUNDS.full;
    const probeS = settings.isShort ? PROBE_S.short : PROBE_S.full;
    const settleS = settings.isShort ? SETTLE_S.short : SETTLE_S.full;
    const generator = process.pid;
    const arms: Arm[] = [
      { name: 'direct' as const, url: legacy.url, pids: { generator, legacy: legacy.pid() } },
      {
        name: 'fnshift' as const,
        url: fnshift.data,
        pids: { generator, legacy: legacy.pid(), fnshift: fnshift.child.process.pid },
      },
      ...(reference
        ? [
            {
              name: 'nginx' as const,
              url: reference.url,
              pids: { generator, legacy: legacy.pid(), nginx: reference.pid },
            },
          ]
        : []),
    ].map((arm): Arm => ({ ...arm, phases: [], leadIns: [], waits: [] }));
    const leadInS = settings.isShort ? LEAD_IN_S.short : LEAD_IN_S.full;
    const roundCount = arms.length * rounds;
    // Whole half seconds, at least one second.
    const roundS = Math.max(
      1,
      Math.floor(((settings.durationS - probeS - settleS) / roundCount - leadInS) * 2) / 2,
    );

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
    const stallProbeMs = settings.isShort ? STALL_PROBE_MS.short : STALL_PROBE_MS.full;
    const stallsBefore = await probeStallsForReport({ durationMs: stallProbeMs });
    // fnshift's own time per request over its rounds, from its fnshift_overhead_seconds histogram.
    const ownBefore = histogramBuckets((await fnshift.admin.metrics()) ?? '', OWN_HISTOGRAM);
    for (let round = 1; round <= rounds; round++) {
      for (const arm of arms) {
        const title = `${arm.name} r${round}`;
        recorder.mark(`${title} lead-in`, { countsForSlo: false });
        arm.leadIns.push(recorder.phases.at(-1)!);
        let before: (readonly [string, ReturnType<typeof sampleCpuWait>])[] = [];
        const startRound = setTimeout(() => {
          recorder.mark(title);
          arm.phases.push(recorder.phases.at(-1)!);
          // Per round, the share of it each process spent runnable but waiting for a CPU (Linux; else null).
          before = Object.entries(arm.pids).map(([name, pid]) => [name, sampleCpuWait(pid)] as const);
        }, leadInS * 1000);
        try {
          await ctx.load(arm.url, { durationS: leadInS + roundS, profile, title });
        } finally {
          clearTimeout(startRound);
        }
        const waits = before.map(([name, from]) => [
          name,
          cpuWaitPercent(from, sampleCpuWait(arm.pids[name])) ?? null,
        ]);
        arm.waits.push(Object.fromEntries(waits) as CpuWaits);
      }
    }
    const ownAfter = histogramBuckets((await fnshift.admin.metrics()) ?? '', OWN_HISTOGRAM);
    const stallsAfter = await probeStallsForReport({ durationMs: stallProbeMs });
    const ownUs = (q: number) => {
      const bound = bucketQuantile(ownBefore, ownAfter, q);
      return bound === undefined || !Number.isFinite(bound) ? null : Math.round(bound * 1e6);
    };
    const own = { p50: ownUs(0.5), p99: ownUs(0.99) };

    const [directArm, fnshiftArm, nginxArm] = arms as [Arm, Arm, Arm | undefined];
    const d = mergeOutcome(directArm.phases, 'all').summary();
    const f = mergeOutcome(fnshiftArm.phases, 'all').summary();
    const n = nginxArm ? mergeOutcome(nginxArm.phases, 'all').summary() : undefined;
    const dc = mergeOutcome(directArm.phases, 'all', 'corrected').summary();
    const fc = mergeOutcome(fnshiftArm.phases, 'all', 'corrected').summary();
    const perRound = directArm.phases.map((phase, i) => {
      const dr = phase.all.service.summary();
      const fr = fnshiftArm.phases[i]!.all.service.summary();
      const nr = nginxArm?.phases[i]?.all.service.summary();
      return {
        round: i + 1,
        directP99Us: dr.p99Us,
        fnshiftP99Us: fr.p99Us,
        addedP50Us: fr.p50Us - dr.p50Us,
        addedP99Us: fr.p99Us - dr.p99Us,
        ...(nr ? { nginxP99Us: nr.p99Us, nginxAddedP99Us: nr.p99Us - dr.p99Us } : {}),
      };
    });
    const medianAddedP99Us = median(perRound.map((r) => r.addedP99Us));
    const directP99sUs = perRound.map((r) => r.directP99Us);
    const nginxFindings =
      n && reference && nginxArm
        ? {
            detail: reference.detail,
            nginx: n,
            addedUs: { p50: n.p50Us - d.p50Us, p99: n.p99Us - d.p99Us, p99_9: n.p99_9Us - d.p99_9Us },
            medianAddedP99Us: median(perRound.map((r) => r.nginxAddedP99Us ?? 0)),
            /** What fnshift added beyond the reference hop, merged rounds, µs. */
            fnshiftBeyondUs: { p50: f.p50Us - n.p50Us, p99: f.p99Us - n.p99Us },
          }
        : undefined;
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
      ...(nginxFindings
        ? {
            nginxAddedP50: {
              label: 'reference hop: nginx added p50 (nginx − direct)',
              value: nginxFindings.addedUs.p50,
              unit: 'µs',
              better: 'lower',
            },
            nginxAddedP99: {
              label: 'reference hop: nginx added p99 (nginx − direct)',
              value: nginxFindings.addedUs.p99,
              unit: 'µs',
              better: 'lower',
            },
            nginxAddedP99MedianRound: {
              label: 'reference hop: nginx added p99, median of the rounds',
              value: nginxFindings.medianAddedP99Us,
              unit: 'µs',
              better: 'lower',
            },
            beyondNginxP99: {
              label: "fnshift's p99 beyond the reference hop's (fnshift − nginx)",
              value: nginxFindings.fnshiftBeyondUs.p99,
              unit: 'µs',
              better: 'lower',
            },
          }
        : {}),
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
    // p99 over each arm's lead-ins, µs: what a burst of new connections costs each path.
    const leadInP99Us = Object.fromEntries(
      arms.map((arm) => [arm.name, mergeOutcome(arm.leadIns, 'all').summary().p99Us]),
    );
    const waitNotes = arms.flatMap((arm) => (arm.name === 'direct' ? [] : (describeWaits(arm) ?? [])));
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
        /** Each round's first seconds (new connections), not counted in the round: their p99 per arm, µs. */
        leadIn: { seconds: leadInS, p99Us: leadInP99Us },
        /** The reference hop's numbers; null when nginx is not installed or did not start. */
        reference: nginxFindings ?? null,
        /** Busy loops on every core with no load, before and after the rounds: the tail's floor here. */
        machineStalls: { beforeRounds: stallsBefore, afterRounds: stallsAfter },
        cpuWaitPercent: Object.fromEntries(arms.map((arm) => [arm.name, arm.waits])),
        /** Upper bounds of fnshift_overhead_seconds buckets, µs; null when the histogram was not readable. */
        fnshiftOwnUs: own,
      },
      notes: [
        `At ${rateRps} req/s (${Math.round((rateRps / saturationRps) * 100)}% of the ${Math.round(saturationRps)} req/s ` +
          `fnshift reached closed-loop here), fnshift added ${f.p50Us - d.p50Us} µs at p50 and ` +
          `${f.p99Us - d.p99Us} µs at p99.`,
        'Generator, fnshift and the app share this machine, so the direct numbers include the same generator ' +
          'cost; the difference is what fnshift adds.',
        nginxFindings
          ? `The reference hop, ${nginxFindings.detail} in front of the same app in the same alternating rounds, ` +
            `added ${nginxFindings.addedUs.p50} µs at p50 and ${nginxFindings.addedUs.p99} µs at p99 (median of the ` +
            `rounds ${nginxFindings.medianAddedP99Us} µs, fnshift's ${medianAddedP99Us} µs): what an extra ` +
            'hop costs on this machine whatever proxy makes it. fnshift added ' +
            `${nginxFindings.fnshiftBeyondUs.p50} µs at p50 and ${nginxFindings.fnshiftBeyondUs.p99} µs at p99 beyond it.`
          : `No reference hop: ${referenceError ? `nginx did not start (${referenceError})` : NO_NGINX}, so this ` +
            'run cannot tell what any extra hop costs here from what fnshift costs.',
        `Each round starts ${settings.connections} new connections; its first ${leadInS} s is not counted in it. ` +
          `Over those lead-ins the p99 was ${arms.map((arm) => `${leadInP99Us[arm.name]} µs ${arm.name}`).join(', ')}: ` +
          'opening connections costs the generator and each server far more than requests on open ones.',
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
        ...waitNotes,
        describeStallOutcome(stallsBefore, 'Before the rounds'),
        describeStallOutcome(stallsAfter, 'After the rounds'),
      ],
    };
  },
};

const OWN_HISTOGRAM = 'fnshift_overhead_seconds';
const NO_NGINX = 'nginx is not installed (apt-get install -y nginx-light)';

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
}

/** Percent of a round each sampled process waited for a CPU; null where /proc/PID/schedstat is not readable. */
type CpuWaits = Record<string, number | null>;

function describeWaits(arm: Arm): string | undefined {
  const means = Object.keys(arm.pids).map((name) => {
    const values = arm.waits.map((r) => r[name]).filter((v): v is number => typeof v === 'number');
    return values.length === 0
      ? undefined
      : `${round(values.reduce((a, b) => a + b, 0) / values.length, 1)}% (${name})`;
  });
  if (means.some((m) => m === undefined)) return undefined;
  return (
    `In the ${arm.name} rounds the event-loop threads waited for a CPU ${means.join(', ')} of the time ` +
    '(run-queue delay, /proc/PID/schedstat): each wait of a few ms while a request is in flight lands in ' +
    'its latency, so read the added p99 against these shares.'
  );
}
