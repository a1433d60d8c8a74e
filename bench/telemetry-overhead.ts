// `node bench/telemetry-overhead.ts`: what tracing costs. Three `fnshift run` children (tracing off, 1%
// and 100% sampled, metrics always on) behind one origin, exporting to a local OTLP receiver that
// counts and discards; autocannon rounds alternate between them so machine noise hits all alike.
// Goal (the Observability issue): 1% keeps ≥ 90% of the requests/s of off, 100% keeps ≥ 60%.
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type BenchChild, forkScript, killAllChildrenNow, spawnCommand, waitForReadyPort } from './child.ts';
import { fnshiftConfigYaml } from './configs.ts';
import { describeError } from './errors.ts';
import { getOnce, pickFreePort, waitUntilAnswering } from './http-probe.ts';
import { createLoadGenerator, type LoadJob, type RoundMeasurement } from './load.ts';
import { describeMachine } from './machine.ts';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const USER_COUNT = 64;

type Variant = { name: string; samplerArg: number | undefined; goalPercent: number | undefined };

const VARIANTS: readonly Variant[] = [
  { name: 'tracing off', samplerArg: undefined, goalPercent: undefined },
  { name: 'tracing 1%', samplerArg: 0.01, goalPercent: 90 },
  { name: 'tracing 100%', samplerArg: 1, goalPercent: 60 },
];

type Running = Variant & {
  child: BenchChild;
  origin: string;
  exported: { requests: number; bytes: number; spans: number };
  rounds: RoundMeasurement[];
  /** fnshift's own CPU time per request served, per round (Linux), in µs. */
  cpuUsPerRequest: number[];
  /** The warm-up round's requests and the probe. */
  warmupRequests: number;
};

function progress(message: string): void {
  process.stderr.write(`telemetry-overhead: ${message}\n`);
}

function readVarint(buf: Buffer, at: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  let i = at;
  for (;;) {
    const byte = buf[i++]!;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, i];
    shift += 7;
  }
}

/**
 * Spans in an ExportTraceServiceRequest, by walking the protobuf wire format (resource_spans = 1 →
 * scope_spans = 2 → spans = 2) without decoding them: cheap enough not to steal CPU from fnshift.
 */
export function countSpans(buf: Buffer, depth = 0, start = 0, end = buf.length): number {
  const wanted = [1, 2, 2][depth]!;
  let count = 0;
  for (let i = start; i < end; ) {
    const [tag, afterTag] = readVarint(buf, i);
    const field = Math.floor(tag / 8);
    switch (tag & 7) {
      case 0:
        i = readVarint(buf, afterTag)[1];
        break;
      case 1:
        i = afterTag + 8;
        break;
      case 5:
        i = afterTag + 4;
        break;
      case 2: {
        const [length, body] = readVarint(buf, afterTag);
        if (field === wanted) count += depth === 2 ? 1 : countSpans(buf, depth + 1, body, body + length);
        i = body + length;
        break;
      }
      default:
        return count;
    }
  }
  return count;
}

/** One receiver, a path per variant, so each variant's exports are counted apart. */
async function startReceiver(variants: Map<string, Running['exported']>) {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const stats = variants.get(req.url ?? '');
      const body = Buffer.concat(chunks);
      if (stats) {
        stats.requests++;
        stats.bytes += body.length;
        stats.spans += countSpans(body);
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 }).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** spawnCommand passes on this process's environment; set the child's OTEL_* for the one synchronous call. */
function spawnWithEnv(name: string, args: string[], cwd: string, env: Record<string, string>): BenchChild {
  const saved = { ...process.env };
  for (const key of Object.keys(process.env)) if (key.startsWith('OTEL_')) delete process.env[key];
  Object.assign(process.env, env);
  try {
    return spawnCommand(name, process.execPath, args, { cwd });
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

async function startVariant(
  variant: Variant,
  index: number,
  context: { upstreamOrigin: string; receiverOrigin: string; workDir: string },
): Promise<Running> {
  const port = await pickFreePort();
  const configPath = join(context.workDir, `fnshift-${index}.yaml`);
  const stateFile = join(context.workDir, `state-${index}.json`);
  writeFileSync(
    configPath,
    fnshiftConfigYaml({ listenPort: port, upstreamOrigin: context.upstreamOrigin, stateFile, workers: 1 }),
  );
  const env: Record<string, string> =
    variant.samplerArg === undefined
      ? {}
      : {
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${context.receiverOrigin}/v${index}`,
          OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
          OTEL_TRACES_SAMPLER_ARG: String(variant.samplerArg),
        };
  const child = spawnWithEnv(
    variant.name,
    [join(repoRoot, 'src/cli/main.ts'), 'run', '-c', configPath],
    context.workDir,
    { ...env, FNSHIFT_LOG_LEVEL: 'info' },
  );
  const origin = `http://127.0.0.1:${port}`;
  await waitUntilAnswering(`${origin}/`, child, 10_000);
  const isTracing = child.outputTail().includes('"msg":"tracing on"');
  if (isTracing !== (variant.samplerArg !== undefined)) {
    await child.stop();
    throw new Error(
      `${variant.name}: fnshift ${isTracing ? 'started' : 'did not start'} tracing — is startTelemetry wired into \`fnshift run\`?`,
    );
  }
  return {
    ...variant,
    child,
    origin,
    exported: { requests: 0, bytes: 0, spans: 0 },
    rounds: [],
    cpuUsPerRequest: [],
    warmupRequests: 0,
  };
}

/** User plus system CPU time of a process, in µs, from /proc (clock ticks of 10 ms); undefined elsewhere. */
function cpuTimeUs(pid: number | undefined): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the command name.
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function report(variants: Running[], settings: Record<string, unknown>) {
  const baseline = median(variants[0]!.rounds.map((r) => r.requestsPerSec));
  const baselineCpu = median(variants[0]!.cpuUsPerRequest);
  const rows = variants.map((v) => {
    const rps = median(v.rounds.map((r) => r.requestsPerSec));
    // Warm-up requests are traced too: spans per request counts them on both sides.
    const served = v.warmupRequests + v.rounds.reduce((sum, r) => sum + r.totalRequests, 0);
    const percentOfOff = (rps / baseline) * 100;
    const cpu = median(v.cpuUsPerRequest);
    // When fnshift is CPU-bound, requests/s scales with 1 / CPU per request: a measure that a busy,
    // shared machine disturbs far less than requests/s.
    const capacityPercentOfOff = v.cpuUsPerRequest.length > 0 ? (baselineCpu / cpu) * 100 : Number.NaN;
    return {
      variant: v.name,
      medianRequestsPerSec: Math.round(rps),
      roundRequestsPerSec: v.rounds.map((r) => Math.round(r.requestsPerSec)),
      percentOfOff: Math.round(percentOfOff * 10) / 10,
      cpuUsPerRequest: Math.round(cpu * 10) / 10,
      capacityPercentOfOff: Math.round(capacityPercentOfOff * 10) / 10,
      p99Ms: median(v.rounds.map((r) => r.latencyMs.p99)),
      p99Us: Math.round(median(v.rounds.map((r) => r.latencyUs.p99Us))),
      errors: v.rounds.reduce((sum, r) => sum + r.errors + r.non2xx, 0),
      spansExported: v.exported.spans,
      spansPerRequest: served > 0 ? Math.round((v.exported.spans / served) * 1000) / 1000 : 0,
      goal:
        v.goalPercent === undefined
          ? ''
          : `≥ ${v.goalPercent}%: ${percentOfOff >= v.goalPercent ? 'met' : 'MISSED'}`,
    };
  });
  const lines = [
    'variant        req/s (median)  % of off  CPU µs/req  capacity % of off  p99 µs  spans/request  goal',
    ...rows.map(
      (r) =>
        `${r.variant.padEnd(14)} ${String(r.medianRequestsPerSec).padStart(14)}  ${`${r.percentOfOff}%`.padStart(8)}  ${String(r.cpuUsPerRequest).padStart(10)}  ${`${r.capacityPercentOfOff}%`.padStart(17)}  ${String(r.p99Us).padStart(6)}  ${String(r.spansPerRequest).padStart(13)}  ${r.goal}`,
    ),
  ];
  process.stdout.write(
    `${lines.join('\n')}\n\n${JSON.stringify({ settings, machine: describeMachine(), rows }, null, 2)}\n`,
  );
  return rows;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'duration-s': { type: 'string', default: '10' },
      'warmup-s': { type: 'string', default: '5' },
      rounds: { type: 'string', default: '5' },
      connections: { type: 'string', default: '32' },
    },
  });
  const settings = {
    durationS: Number(values['duration-s']),
    warmupS: Number(values['warmup-s']),
    rounds: Number(values.rounds),
    connections: Number(values.connections),
  };
  const workDir = mkdtempSync(join(tmpdir(), 'fnshift-telemetry-bench-'));
  const cleanup = () => {
    killAllChildrenNow();
    rmSync(workDir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  process.once('SIGINT', () => process.exit(130));

  const upstream = forkScript('origin', fileURLToPath(new URL('./upstream.ts', import.meta.url)));
  const upstreamOrigin = `http://127.0.0.1:${await waitForReadyPort(upstream, 10_000)}`;
  const exported = new Map<string, Running['exported']>();
  const receiver = await startReceiver(exported);
  const running: Running[] = [];
  for (const [index, variant] of VARIANTS.entries()) {
    const started = await startVariant(variant, index, {
      upstreamOrigin,
      receiverOrigin: receiver.origin,
      workDir,
    });
    exported.set(`/v${index}`, started.exported);
    running.push(started);
    progress(`${variant.name} ready at ${started.origin}`);
  }
  const requests: LoadJob['requests'] = Array.from({ length: USER_COUNT }, (_, i) => {
    const userId = `u${10_000 + i * 7919}`;
    return { path: `/api/recommend?userId=${userId}`, headers: { 'x-user-id': userId } };
  });
  for (const v of running) {
    const probe = await getOnce(`${v.origin}${requests[0]!.path}`, requests[0]!.headers);
    if (probe.status !== 200) throw new Error(`${v.name}: first request answered ${probe.status}`);
  }
  const load = createLoadGenerator();
  const job = (origin: string, durationS: number): LoadJob => ({
    origin,
    durationS,
    connections: settings.connections,
    pipelining: 1,
    requestTimeoutS: 10,
    requests,
  });
  try {
    for (const v of running)
      v.warmupRequests = (await load.run(job(v.origin, settings.warmupS))).totalRequests + 1;
    for (let round = 1; round <= settings.rounds; round++) {
      // Rotate who goes first, so no variant always follows the same one.
      for (let k = 0; k < running.length; k++) {
        const v = running[(k + round) % running.length]!;
        const cpuBefore = cpuTimeUs(v.child.process.pid);
        const measurement = await load.run(job(v.origin, settings.durationS));
        const cpuAfter = cpuTimeUs(v.child.process.pid);
        v.rounds.push(measurement);
        if (cpuBefore !== undefined && cpuAfter !== undefined && measurement.totalRequests > 0)
          v.cpuUsPerRequest.push((cpuAfter - cpuBefore) / measurement.totalRequests);
        progress(
          `round ${round} ${v.name}: ${Math.round(measurement.requestsPerSec)} req/s, ${Math.round(v.cpuUsPerRequest.at(-1) ?? 0)} µs CPU/request`,
        );
      }
    }
  } finally {
    await load.stop();
  }
  // Let the last batches (5 s schedule by default) arrive before counting spans.
  await Promise.all(running.map((v) => v.child.stop()));
  report(running, settings);
  await upstream.stop();
  receiver.server.close();
}

if (import.meta.main) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      progress(`failed: ${describeError(error)}`);
      process.exit(1);
    },
  );
}
