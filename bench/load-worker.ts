// The load generator child (the one autocannon import): runs a round per message, replies with measurements.
import autocannon from 'autocannon';
import { createLatencyRecorder } from './latency.ts';
import type { LoadJob, RoundMeasurement, WorkerReply, WorkerRequest } from './load.ts';

function runRound(job: LoadJob): Promise<RoundMeasurement> {
  const recorder = createLatencyRecorder();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: job.origin,
        connections: job.connections,
        pipelining: job.pipelining,
        duration: job.durationS,
        timeout: job.requestTimeoutS,
        // Pre-built requests (no setupRequest), so the generator does not rebuild a request per send.
        requests: job.requests.map((r) => ({
          method: 'GET' as const,
          path: r.path,
          headers: { ...r.headers },
        })),
      },
      (error, result) => {
        if (error) {
          recorder.destroy();
          reject(error);
          return;
        }
        resolve({
          requestsPerSec: result.requests.average,
          totalRequests: result.requests.total,
          durationS: result.duration,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          statusCodes: Object.fromEntries(
            Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, stat.count ?? 0]),
          ),
          latencyMs: { p50: result.latency.p50, p99: result.latency.p99, p99_9: result.latency.p99_9 },
          latencyUs: recorder.percentiles(),
          histogramUs: recorder.encode(),
        });
        recorder.destroy();
      },
    );
    // responseTime is a float in ms from process.hrtime (lib/pipelinedRequestsQueue.js), unlike its histogram.
    instance.on('response', (_client, _statusCode, _resBytes, responseTimeMs) =>
      recorder.recordMs(responseTimeMs),
    );
  });
}

process.on('message', async (request: WorkerRequest) => {
  if (request.type !== 'run') return;
  let reply: WorkerReply;
  try {
    reply = { type: 'result', id: request.id, measurement: await runRound(request.job) };
  } catch (error) {
    reply = {
      type: 'error',
      id: request.id,
      message: error instanceof Error ? error.message : String(error),
    };
  }
  process.send?.(reply);
});
process.on('disconnect', () => process.exit(0));
process.send?.({ event: 'ready' });
