// The bench's side of the load generator: one long-lived child (warm JIT), one round at a time, each bounded.
import { fileURLToPath } from 'node:url';
import { awaitMessage, type BenchChild, forkScript, waitForReadyMessage } from './child.ts';
import { BenchError } from './errors.ts';
import type { LatencyPercentilesUs } from './latency.ts';

const WORKER_PATH = fileURLToPath(new URL('./load-worker.ts', import.meta.url));
const WORKER_START_TIMEOUT_MS = 10_000;
/** Past the round's duration: autocannon's own per-request timeout plus time to tear down. */
const ROUND_SLACK_MS = 15_000;

export interface LoadJob {
  readonly origin: string;
  readonly durationS: number;
  readonly connections: number;
  readonly pipelining: number;
  /** Per-request timeout inside the generator, in seconds. */
  readonly requestTimeoutS: number;
  readonly requests: readonly { readonly path: string; readonly headers: Readonly<Record<string, string>> }[];
}

export interface RoundMeasurement {
  readonly requestsPerSec: number;
  readonly totalRequests: number;
  readonly durationS: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly statusCodes: Readonly<Record<string, number>>;
  /** The generator's own percentiles in ms: whole ms from autocannon, µs resolution from wrk. */
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly p99_9: number };
  readonly latencyUs: LatencyPercentilesUs;
  /** The round's µs histogram, compressed base64, to merge rounds. */
  readonly histogramUs: string;
}

export type WorkerRequest = { readonly type: 'run'; readonly id: number; readonly job: LoadJob };
export type WorkerReply =
  | { readonly type: 'result'; readonly id: number; readonly measurement: RoundMeasurement }
  | { readonly type: 'error'; readonly id: number; readonly message: string };

export interface LoadGenerator {
  run(job: LoadJob): Promise<RoundMeasurement>;
  stop(): Promise<void>;
}

export function createLoadGenerator(): LoadGenerator {
  let worker: BenchChild | undefined;
  let nextId = 1;

  const ensureWorker = async (): Promise<BenchChild> => {
    if (worker && !worker.hasExited()) return worker;
    worker = forkScript('load generator', WORKER_PATH);
    await waitForReadyMessage(worker, WORKER_START_TIMEOUT_MS);
    return worker;
  };

  const run = async (job: LoadJob): Promise<RoundMeasurement> => {
    const child = await ensureWorker();
    const id = nextId++;
    try {
      return await exchange(child, { type: 'run', id, job }, job.durationS * 1000 + ROUND_SLACK_MS);
    } catch (error) {
      // A worker that missed its deadline may still be firing requests into the next contender's round.
      if (error instanceof BenchError && error.code === 'FNSHIFT_BENCH_ROUND_TIMEOUT') await child.stop();
      throw error;
    }
  };

  return { run, stop: async () => worker?.stop() };
}

function exchange(child: BenchChild, request: WorkerRequest, timeoutMs: number): Promise<RoundMeasurement> {
  const answer = awaitMessage(
    child,
    (message) => {
      const reply = message as WorkerReply | null;
      if (typeof reply !== 'object' || reply === null || reply.id !== request.id) return undefined;
      if (reply.type === 'result') return reply.measurement;
      throw new BenchError('FNSHIFT_BENCH_LOAD_FAILED', reply.message);
    },
    timeoutMs,
    () =>
      new BenchError('FNSHIFT_BENCH_ROUND_TIMEOUT', `no result from the load generator in ${timeoutMs} ms`),
  );
  child.process.send(request);
  return answer;
}
