// The bench's command-line flags, parsed and checked once into a frozen object.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { type ContenderName, contenderNames } from './contenders.ts';
import { BenchError } from './errors.ts';

export interface BenchOptions {
  readonly durationS: number;
  readonly warmupS: number;
  readonly rounds: number;
  readonly connections: number;
  readonly pipelining: number;
  readonly only: readonly ContenderName[];
  readonly outPath: string;
  /** nginx worker_processes and haproxy nbthread. */
  readonly nativeWorkers: number;
  readonly startTimeoutMs: number;
}

export const usage = `usage: npm run bench -- [flags]
  --duration-s N      seconds per measured round (default 5)
  --warmup-s N        seconds of the warm-up round per contender (default min(duration, 3))
  --rounds N          measured rounds per contender, interleaved A B C A B C (default 3)
  --connections N     autocannon connections (default 32; pipelining is always 1)
  --only a,b          contenders to run: ${contenderNames.join(', ')} (default all)
  --native-workers N  nginx worker_processes and haproxy nbthread (default: cores, ${availableParallelism()} here)
  --out FILE          where the JSON results go (default bench/results/latest.json)`;

export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        'duration-s': { type: 'string' },
        'warmup-s': { type: 'string' },
        rounds: { type: 'string' },
        connections: { type: 'string' },
        only: { type: 'string' },
        'native-workers': { type: 'string' },
        out: { type: 'string' },
        // Handled by run.ts before parsing; listed so that strict mode accepts it.
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new BenchError('FNSHIFT_BENCH_USAGE', (error as Error).message, { cause: error });
  }
  const durationS = positiveInteger(values['duration-s'], 5, '--duration-s', 3600);
  return Object.freeze({
    durationS,
    warmupS: positiveInteger(values['warmup-s'], Math.min(durationS, 3), '--warmup-s', 3600),
    rounds: positiveInteger(values.rounds, 3, '--rounds', 100),
    connections: positiveInteger(values.connections, 32, '--connections', 10_000),
    pipelining: 1,
    only: Object.freeze(parseOnly(values.only)),
    outPath: typeof values.out === 'string' ? values.out : 'bench/results/latest.json',
    nativeWorkers: positiveInteger(values['native-workers'], availableParallelism(), '--native-workers', 64),
    startTimeoutMs: 10_000,
  });
}

function positiveInteger(raw: unknown, fallback: number, flag: string, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new BenchError(
      'FNSHIFT_BENCH_USAGE',
      `${flag} must be an integer from 1 to ${max}, got ${String(raw)}`,
    );
  }
  return value;
}

function parseOnly(raw: unknown): ContenderName[] {
  if (typeof raw !== 'string') return [...contenderNames];
  const names = [
    ...new Set(
      raw
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean),
    ),
  ];
  const unknown = names.filter((n) => !(contenderNames as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) {
    throw new BenchError('FNSHIFT_BENCH_USAGE', `--only takes ${contenderNames.join(', ')}; got ${raw}`);
  }
  return names as ContenderName[];
}
