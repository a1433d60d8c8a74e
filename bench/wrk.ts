// wrk as the bench's load generator: C, epoll, several threads. autocannon runs on one Node thread and
// tops out near 20k req/s on this kind of machine, which compresses every ratio toward 1; wrk does not.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BenchError } from './errors.ts';
import { histogramFromQuantiles } from './latency.ts';
import type { LoadGenerator, LoadJob, RoundMeasurement } from './load.ts';
import { isInstalled } from './machine.ts';

export const WRK_PATH = '/usr/bin/wrk';
const RESULT_MARKER = 'FNSHIFT_WRK_RESULT ';
/** Past the round's duration: wrk's own timeout plus time to connect and to print. */
const ROUND_SLACK_MS = 15_000;

/**
 * The quantiles the `done` hook prints: every 0.5% to p99, then finer into the tail, then the max.
 * Enough to rebuild a histogram whose percentiles match wrk's own at these points, so rounds can be merged.
 */
export const quantileGrid: readonly number[] = Object.freeze([
  ...Array.from({ length: 198 }, (_, i) => (i + 1) / 2),
  ...Array.from({ length: 9 }, (_, i) => 99 + (i + 1) / 10),
  ...Array.from({ length: 9 }, (_, i) => 99.9 + (i + 1) / 100),
  100,
]);

export function isWrkInstalled(): boolean {
  return isInstalled(WRK_PATH);
}

export interface WrkResult {
  readonly durationUs: number;
  readonly requests: number;
  readonly bytes: number;
  readonly errors: {
    readonly connect: number;
    readonly read: number;
    readonly write: number;
    readonly status: number;
    readonly timeout: number;
  };
  readonly latencyUs: {
    readonly min: number;
    readonly max: number;
    readonly mean: number;
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly p99_9: number;
  };
  readonly quantiles: readonly (readonly [number, number])[];
}

/** The Lua script of one round: pre-built requests cycled per thread, and a `done` hook printing JSON. */
export function wrkScript(requests: LoadJob['requests']): string {
  const lua = (text: string) => `"${text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;
  const table = requests
    .map((r) => {
      const headers = Object.entries(r.headers)
        .map(([name, value]) => `[${lua(name)}] = ${lua(value)}`)
        .join(', ');
      return `  { path = ${lua(r.path)}, headers = { ${headers} } },`;
    })
    .join('\n');
  return `-- Written by bench/wrk.ts for one bench round.
local requests = {
${table}
}
local built = {}
local counter = 0

function init(args)
  for i, r in ipairs(requests) do
    built[i] = wrk.format("GET", r.path, r.headers)
  end
end

function request()
  counter = counter + 1
  return built[(counter % #built) + 1]
end

local grid = { ${quantileGrid.join(', ')} }

function done(summary, latency, requests)
  local points = {}
  for i, p in ipairs(grid) do
    points[i] = string.format("[%g,%d]", p, latency:percentile(p))
  end
  local e = summary.errors
  io.write(string.format(
    '${RESULT_MARKER}{"durationUs":%d,"requests":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"min":%d,"max":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p99_9":%d},' ..
    '"quantiles":[%s]}\\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.max, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    table.concat(points, ",")))
end
`;
}

export function parseWrkOutput(stdout: string): WrkResult {
  const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARKER));
  if (!line) {
    throw new BenchError('FNSHIFT_BENCH_LOAD_FAILED', `wrk printed no result line: ${stdout.slice(-300)}`);
  }
  return JSON.parse(line.slice(RESULT_MARKER.length)) as WrkResult;
}

export function toMeasurement(result: WrkResult): RoundMeasurement {
  const durationS = result.durationUs / 1e6;
  const { connect, read, write, status, timeout } = result.errors;
  const histogram = histogramFromQuantiles(result.quantiles, result.requests);
  return {
    requestsPerSec: result.requests / Math.max(durationS, 1e-6),
    totalRequests: result.requests,
    durationS,
    non2xx: status,
    errors: connect + read + write + timeout,
    timeouts: timeout,
    // wrk counts statuses above 399 without telling them apart.
    statusCodes: status > 0 ? { '4xx/5xx': status } : {},
    latencyMs: {
      p50: result.latencyUs.p50 / 1000,
      p99: result.latencyUs.p99 / 1000,
      p99_9: result.latencyUs.p99_9 / 1000,
    },
    latencyUs: histogram.percentiles,
    histogramUs: histogram.encoded,
  };
}

export interface WrkOptions {
  readonly threads: number;
}

export function createWrkLoadGenerator(options: WrkOptions): LoadGenerator {
  const dir = mkdtempSync(join(tmpdir(), 'fnshift-bench-wrk-'));
  let round = 0;
  return {
    async run(job) {
      const script = join(dir, `round-${++round}.lua`);
      writeFileSync(script, wrkScript(job.requests));
      const args = [
        '-t',
        String(Math.min(options.threads, job.connections)),
        '-c',
        String(job.connections),
        '-d',
        `${job.durationS}s`,
        '--timeout',
        `${job.requestTimeoutS}s`,
        '-s',
        script,
        `${job.origin}/`,
      ];
      try {
        const { stdout } = await promisify(execFile)(WRK_PATH, args, {
          timeout: job.durationS * 1000 + ROUND_SLACK_MS,
          killSignal: 'SIGKILL',
          maxBuffer: 4 * 1024 * 1024,
        });
        return toMeasurement(parseWrkOutput(stdout));
      } catch (error) {
        if (error instanceof BenchError) throw error;
        throw new BenchError('FNSHIFT_BENCH_LOAD_FAILED', `wrk failed: ${(error as Error).message}`, {
          cause: error,
        });
      }
    },
    async stop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
