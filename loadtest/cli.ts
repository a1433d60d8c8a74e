// Entry of `npm run loadtest` and `fnshift loadtest`: parse flags, run the scenarios, print where the
// reports went; exit 0, 1 (the run failed), 2 (usage) or 99 (an SLO was breached).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describeError, LoadtestError } from './errors.ts';
import { parseLoadtestOptions, usage } from './options.ts';
import { killAllChildrenNow } from './processes.ts';
import { formatHeadline } from './report/format.ts';
import { runScenario } from './run.ts';
import { findScenario } from './scenarios/index.ts';
import { SLO_BREACHED_EXIT_CODE } from './slo.ts';

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** autocannon's progress bar: on a terminal only, never in CI. */
  readonly showProgress: boolean;
}

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  showProgress: Boolean(process.stderr.isTTY) && process.env.CI !== 'true',
};

export async function runLoadtest(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  let options: ReturnType<typeof parseLoadtestOptions>;
  try {
    options = parseLoadtestOptions(argv);
  } catch (error) {
    io.err(`${describeError(error)}\n${usage}`);
    return 2;
  }
  if (options.isHelp) {
    io.out(usage);
    return 0;
  }
  if (options.comparePath !== undefined && !existsSync(options.comparePath)) {
    io.err(`FNSHIFT_LOADTEST_USAGE: --compare ${options.comparePath} does not exist`);
    return 2;
  }
  const isMany = options.scenarios.length > 1;
  const stamp = new Date().toISOString().replaceAll(':', '-').slice(0, 19);
  let isBreached = false;
  for (const name of options.scenarios) {
    const scenario = findScenario(name)!;
    const outDir = isMany
      ? join(options.outDir ?? resolve(import.meta.dirname, 'reports', `${stamp}-all`), name)
      : options.outDir;
    try {
      const { result, files } = await runScenario({
        scenario,
        isShort: options.isShort,
        rateRps: options.rateRps,
        durationS: options.durationS,
        connections: options.connections,
        seed: options.seed,
        slo: options.slo,
        outDir,
        comparePath: options.comparePath,
        showProgress: io.showProgress,
        log: io.err,
      });
      io.out(`\n${result.scenario.title}`);
      for (const h of Object.values(result.headline)) io.out(`  ${h.label}: ${formatHeadline(h)}`);
      for (const note of result.notes) io.out(`  - ${note}`);
      for (const d of result.compare?.headline ?? []) {
        if (d.verdict === 'better' || d.verdict === 'worse') io.out(`  vs before: ${d.label} ${d.verdict}`);
      }
      if (result.slo.isBreached) {
        isBreached = true;
        io.out(`  SLO BREACHED: ${result.slo.breaches.join('; ')}`);
      }
      io.out(`  results: ${files.json}\n  summary: ${files.markdown}\n  report:  ${files.html}`);
    } catch (error) {
      io.err(`${name} failed: ${describeError(error)}`);
      if (!(error instanceof LoadtestError) && error instanceof Error && error.stack) io.err(error.stack);
      return error instanceof LoadtestError && error.code === 'FNSHIFT_LOADTEST_COMPARE' ? 2 : 1;
    }
  }
  return isBreached ? SLO_BREACHED_EXIT_CODE : 0;
}

if (import.meta.main) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`loadtest: ${signal}, stopping every child process\n`);
      killAllChildrenNow();
      process.exit(130);
    });
  }
  const code = await runLoadtest(process.argv.slice(2));
  // Timers of the last run (admin sampler, fixture IPC) must not hold the exit.
  process.exit(code);
}
