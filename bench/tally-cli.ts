// `npm run bench:tally -- a.json b.json ...`: the goals over several bench runs (see tally.ts).
import { describeError } from './errors.ts';
import { formatTally, readBenchReport, tallyRuns } from './tally.ts';

export const usage = `usage: npm run bench:tally -- RESULT.json [RESULT.json ...]
  Reads the JSON that \`npm run bench -- --out FILE\` wrote, once per run, and prints each run's goal
  ratios, how many runs met each goal, and each goal over every round of every run.`;

export interface TallyIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** Exit code: 0 printed, 2 for a usage error or a file that is not a bench result. */
export async function runTally(argv: readonly string[], io: TallyIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(usage);
    return 0;
  }
  const flags = argv.filter((a) => a.startsWith('-'));
  if (flags.length > 0 || argv.length === 0) {
    io.err(`FNSHIFT_BENCH_USAGE: ${flags.length > 0 ? `unknown flag ${flags[0]}` : 'no result files'}`);
    io.err(usage);
    return 2;
  }
  try {
    const files = await Promise.all(argv.map(readBenchReport));
    io.out(formatTally(tallyRuns(files)));
    return 0;
  } catch (error) {
    io.err(describeError(error));
    return 2;
  }
}

if (import.meta.main) {
  process.exitCode = await runTally(process.argv.slice(2), {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  });
}
