// The load test's command-line flags (`npm run loadtest --` and `fnshift loadtest`), parsed once and frozen.
import { parseArgs } from 'node:util';
import { LoadtestError } from './errors.ts';
import { scenarioNames } from './scenarios/index.ts';
import type { SloThresholds } from './slo.ts';

export interface LoadtestOptions {
  /** Scenario names to run, in order. */
  readonly scenarios: readonly string[];
  readonly isShort: boolean;
  readonly rateRps?: number;
  readonly durationS?: number;
  readonly connections: number;
  readonly seed: number;
  /** A directory; undefined: loadtest/reports/<time>-<scenario>/. */
  readonly outDir?: string;
  readonly comparePath?: string;
  readonly slo: SloThresholds;
  readonly isHelp: boolean;
}

export const usage = `usage: npm run loadtest -- --scenario NAME [flags]     (or: fnshift loadtest --scenario NAME [flags])
  --scenario NAME       ${scenarioNames.join(', ')}, or all
  --short               a few seconds per scenario (what the tests run)
  --rate N              requests/s, open loop (default: the scenario's; overhead: half of fnshift's saturation)
  --duration-s N        seconds of load (default: the scenario's, under 60)
  --connections N       client connections (default 64)
  --seed N              traffic model seed (default 20240601); the same seed sends the same requests
  --out DIR             where results.json, report.md and report.html go (default loadtest/reports/<time>-<scenario>)
  --compare FILE        an earlier results.json (or a directory of <scenario>/results.json) to diff against
  --slo-p99-ms N        exit 99 if p99 (from the intended send time) is above N ms
  --slo-error-rate N    exit 99 if the error rate is above N (0.01 or 1%)
exit codes: 0 done, 1 the run failed, 2 usage, 99 an SLO was breached`;

export function parseLoadtestOptions(argv: readonly string[]): LoadtestOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        scenario: { type: 'string' },
        short: { type: 'boolean' },
        rate: { type: 'string' },
        'duration-s': { type: 'string' },
        connections: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        compare: { type: 'string' },
        'slo-p99-ms': { type: 'string' },
        'slo-error-rate': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new LoadtestError('FNSHIFT_LOADTEST_USAGE', (error as Error).message, { cause: error });
  }
  const isHelp = values.help === true;
  const scenario = typeof values.scenario === 'string' ? values.scenario : undefined;
  if (!isHelp && scenario === undefined) throw usageError('--scenario is required');
  const scenarios = scenario === 'all' ? [...scenarioNames] : scenario === undefined ? [] : [scenario];
  for (const name of scenarios) {
    if (!scenarioNames.includes(name)) throw usageError(`unknown scenario "${name}"`);
  }
  return Object.freeze({
    scenarios: Object.freeze(scenarios),
    isShort: values.short === true,
    rateRps: optionalNumber(values.rate, '--rate', 1, 100_000),
    durationS: optionalNumber(values['duration-s'], '--duration-s', 1, 600),
    connections: optionalNumber(values.connections, '--connections', 1, 10_000) ?? 64,
    seed: optionalNumber(values.seed, '--seed', 0, 2 ** 32 - 1) ?? 20_240_601,
    outDir: typeof values.out === 'string' ? values.out : undefined,
    comparePath: typeof values.compare === 'string' ? values.compare : undefined,
    slo: Object.freeze({
      p99Ms: optionalNumber(values['slo-p99-ms'], '--slo-p99-ms', 0, 3_600_000),
      errorRate: parseRate(values['slo-error-rate']),
    }),
    isHelp,
  });
}

function usageError(message: string): LoadtestError {
  return new LoadtestError('FNSHIFT_LOADTEST_USAGE', message);
}

function optionalNumber(raw: unknown, flag: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
    throw usageError(`${flag} must be a number from ${min} to ${max}, got ${String(raw)}`);
  }
  return value;
}

function parseRate(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const text = String(raw).trim();
  const value = text.endsWith('%') ? Number(text.slice(0, -1)) / 100 : Number(text);
  if (text === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw usageError(`--slo-error-rate must be a fraction from 0 to 1 (or a percentage), got ${text}`);
  }
  return value;
}
