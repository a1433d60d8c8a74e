// The bench's command-line flags, parsed and checked once into a frozen object.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { type ContenderName, contenderNames } from './contenders.ts';
import { BenchError } from './errors.ts';
import { isWrkInstalled, WRK_PATH } from './wrk.ts';

export const loadgenNames = ['wrk', 'autocannon'] as const;
export type LoadgenName = (typeof loadgenNames)[number];

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
  /** wrk when installed: autocannon (one Node thread) saturates first and compresses every ratio toward 1. */
  readonly loadgen: LoadgenName;
  readonly wrkThreads: number;
}

export const usage = `usage: npm run bench -- [flags]
  --duration-s N      seconds per measured round (default 5)
  --warmup-s N        seconds of the warm-up round per contender (default min(duration, 3))
  --rounds N          measured rounds per contender, interleaved A B C A B C (default 5)
  --connections N     client connections (default 32; pipelining is always 1)
  --loadgen NAME      wrk or autocannon (default: wrk when ${WRK_PATH} exists, else autocannon)
  --wrk-threads N     wrk threads (default 1: on a small machine every core the generator takes is one
                      the contender does not get)
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
        loadgen: { type: 'string' },
        'wrk-threads': { type: 'string' },
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
    rounds: positiveInteger(values.rounds, 5, '--rounds', 100),
    connections: positiveInteger(values.connections, 32, '--connections', 10_000),
    pipelining: 1,
    only: Object.freeze(parseOnly(values.only)),
    outPath: typeof values.out === 'string' ? values.out : 'bench/results/latest.json',
    nativeWorkers: positiveInteger(values['native-workers'], availableParallelism(), '--native-workers', 64),
    startTimeoutMs: 10_000,
    loadgen: parseLoadgen(values.loadgen),
    wrkThreads: positiveInteger(values['wrk-threads'], 1, '--wrk-threads', 64),
  });
}

function parseLoadgen(raw: unknown): LoadgenName {
  if (raw === undefined) return isWrkInstalled() ? 'wrk' : 'autocannon';
  if (raw === 'autocannon') return raw;
  if (raw === 'wrk') {
    if (!isWrkInstalled()) {
      throw new BenchError(
        'FNSHIFT_BENCH_USAGE',
        `--loadgen wrk: ${WRK_PATH} not found (apt-get install -y wrk)`,
      );
    }
    return raw;
  }
  throw new BenchError(
    'FNSHIFT_BENCH_USAGE',
    `--loadgen takes ${loadgenNames.join(' or ')}; got ${String(raw)}`,
  );
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
