// The primary's side of the worker mode (`workers` above 1): it forks the workers (node:cluster), sends
// each the snapshot in force and every later one, merges what they report into the control plane (rollout
// windows, breaker states, requests in flight), gathers their metrics for a scrape, and drains them.
// Each worker binds the data port itself with SO_REUSEPORT, so connections never pass through here.
// A worker that dies is replaced (nginx's master does the same) unless fnshift is draining.
import cluster, { type Worker } from 'node:cluster';
import type { RemoteDataPlane } from '../app.ts';
import type { Snapshot } from '../config/snapshot.ts';
import type { Windows } from '../rollout/window.ts';
import type { Logger } from '../telemetry/log.ts';
import type { MetricsJson } from '../telemetry/metrics.ts';
import { type FromWorker, isFromWorker, type ToWorker } from './messages.ts';

/** A worker that has not answered a metrics request by then is left out of that scrape. */
const METRICS_TIMEOUT_MS = 2000;
/** Replacements for crashed workers wait this long, so a worker that dies at start does not spin. */
const RESPAWN_DELAY_MS = 1000;

export type WorkerPoolOptions = {
  count: number;
  logger: Logger;
  /** The primary's rollout windows; worker reports are merged into them. */
  windows: () => Windows;
  /** Sums metrics of several processes into one (counters and histograms only). */
  sumCounters: (list: MetricsJson[]) => Promise<MetricsJson>;
};

export type WorkerPool = RemoteDataPlane & {
  /** Every worker's metrics as JSON, for the primary's /metrics to sum. */
  metrics(): Promise<MetricsJson[]>;
  readonly size: number;
};

type Member = {
  worker: Worker;
  inFlight: number;
  breakers: Record<string, string>;
  isListening: boolean;
  /** From the worker's last report, once it has drained. */
  isClean: boolean | undefined;
  /** It said hello and was sent a snapshot; before that it serves nothing and is simply stopped. */
  hasSnapshot: boolean;
  /** Its metrics as of the last scrape: kept when it dies, so summed counters never go down. */
  lastMetrics: MetricsJson | undefined;
};

function snapshotMessage(snapshot: Snapshot, listen: string, limits: Snapshot['config']['limits']): ToWorker {
  const overrides: Array<[string, { weightPercent: number; source: 'admin' | 'rollout' }]> = [];
  for (const [route, weight] of snapshot.weights) {
    if (weight.source !== 'config')
      overrides.push([route, { weightPercent: weight.weightPercent, source: weight.source }]);
  }
  return { type: 'fnshift:snapshot', config: snapshot.config, overrides, listen, limits };
}

export function createWorkerPool(options: WorkerPoolOptions): WorkerPool {
  const { logger } = options;
  const members = new Map<number, Member>();
  let current: Snapshot | undefined;
  /** The limits fnshift started with: reloaded ones wait for a restart, in replacement workers too. */
  let startLimits: Snapshot['config']['limits'] | undefined;
  let isDraining = false;
  let nextMetricsId = 1;
  const pendingMetrics = new Map<number, (metrics: MetricsJson) => void>();
  let address: string | undefined;
  /**
   * The counters and histograms of workers that are gone, as of their last scrape, summed: a scrape
   * adds them, or a replaced worker would make every total drop (Prometheus reads that as a reset).
   */
  let retired: Promise<MetricsJson | undefined> = Promise.resolve(undefined);
  /** config.listen, or, when it asks for port 0, the port the first worker got: all must share one. */
  let listen: string | undefined;
  let onFirstListening: (() => void) | undefined;
  let onAllListening: ((address: string) => void) | undefined;

  function inFlightNow(): number {
    let sum = 0;
    for (const member of members.values()) sum += member.inFlight;
    return sum;
  }

  function snapshotFor(snapshot: Snapshot): ToWorker {
    return snapshotMessage(snapshot, listen ?? snapshot.config.listen, startLimits ?? snapshot.config.limits);
  }

  function onMessage(member: Member, message: FromWorker): void {
    if (message.type === 'fnshift:hello') {
      if (isDraining || !current) member.worker.kill();
      else {
        member.hasSnapshot = true;
        member.worker.send(snapshotFor(current));
      }
    } else if (message.type === 'fnshift:listening') {
      member.isListening = true;
      address = message.address;
      listen ??= new URL(message.address).host;
      onFirstListening?.();
      const listening = [...members.values()].filter((m) => m.isListening).length;
      if (listening >= options.count) onAllListening?.(message.address);
    } else if (message.type === 'fnshift:report') {
      member.inFlight = message.inFlight;
      member.breakers = message.breakers;
      if (message.isClean !== undefined) member.isClean = message.isClean;
      if (message.windows) options.windows().merge(message.windows);
    } else if (message.type === 'fnshift:metrics') {
      pendingMetrics.get(message.id)?.(message.metrics);
    }
  }

  function fork(): void {
    const worker = cluster.fork({ FNSHIFT_WORKER: '1' });
    const member: Member = {
      worker,
      inFlight: 0,
      breakers: {},
      isListening: false,
      isClean: undefined,
      hasSnapshot: false,
      lastMetrics: undefined,
    };
    members.set(worker.id, member);
    worker.on('message', (message: unknown) => {
      if (isFromWorker(message)) onMessage(member, message);
    });
    worker.on('exit', (code, signal) => {
      members.delete(worker.id);
      const last = member.lastMetrics;
      if (last) {
        retired = retired.then((sum) => options.sumCounters(sum ? [sum, last] : [last]));
      }
      if (isDraining) return;
      logger.error({ worker: worker.id, code, signal }, 'worker died: starting another');
      setTimeout(() => {
        if (!isDraining) fork();
      }, RESPAWN_DELAY_MS).unref();
    });
  }

  return {
    get size() {
      return members.size;
    },
    get inFlight() {
      return inFlightNow();
    },
    start(snapshot) {
      current = snapshot;
      startLimits = snapshot.config.limits;
      const listening = new Promise<string>((resolve, reject) => {
        onAllListening = resolve;
        // A worker that exits before it listens (port taken, bad address) fails the start.
        cluster.once('exit', (worker, code) => {
          if (!members.get(worker.id)?.isListening && !address) {
            reject(new Error(`worker ${worker.id} exited with code ${code} before it listened`));
          }
        });
      });
      fork();
      // The others start once the first has its port (config.listen may say port 0).
      onFirstListening = () => {
        onFirstListening = undefined;
        for (let i = 1; i < options.count; i++) fork();
      };
      return listening;
    },
    update(snapshot) {
      current = snapshot;
      // Only to workers that asked: one still starting gets the newest snapshot when it says hello.
      for (const member of members.values()) {
        if (member.hasSnapshot && member.worker.isConnected()) member.worker.send(snapshotFor(snapshot));
      }
    },
    breakerState(functionName) {
      const states = [...members.values()].map((m) => m.breakers[functionName]).filter(Boolean);
      if (states.length === 0) return undefined;
      for (const state of ['open', 'half_open', 'closed', 'disabled'])
        if (states.includes(state)) return state;
      return states[0];
    },
    async metrics() {
      const live = [...members.values()].filter((m) => m.worker.isConnected());
      const replies = live.map(
        (member) =>
          new Promise<MetricsJson | undefined>((resolve) => {
            const { worker } = member;
            const id = nextMetricsId++;
            const timer = setTimeout(() => {
              pendingMetrics.delete(id);
              resolve(undefined);
            }, METRICS_TIMEOUT_MS);
            pendingMetrics.set(id, (metrics) => {
              clearTimeout(timer);
              pendingMetrics.delete(id);
              member.lastMetrics = metrics;
              resolve(metrics);
            });
            worker.send({ type: 'fnshift:metrics', id } satisfies ToWorker);
          }),
      );
      const gone = await retired;
      const now = (await Promise.all(replies)).filter((m): m is MetricsJson => m !== undefined);
      return gone ? [...now, gone] : now;
    },
    async drain(drainMs) {
      isDraining = true;
      const draining = [...members.values()];
      const exits = draining.map(
        (member) =>
          new Promise<void>((resolve) => {
            const { worker } = member;
            if (worker.isDead()) return resolve();
            worker.once('exit', () => resolve());
            if (!member.hasSnapshot) {
              // Still starting: nothing in flight, so it stops now (and counts as clean).
              member.isClean = true;
              worker.kill();
            } else {
              worker.send({ type: 'fnshift:drain', drainMs } satisfies ToWorker);
            }
          }),
      );
      // Each worker keeps its own deadline; this one only stops a worker that hangs past it.
      const deadline = setTimeout(() => {
        for (const { worker } of members.values()) worker.kill('SIGKILL');
      }, drainMs + 5000);
      const inFlightBefore = inFlightNow();
      await Promise.all(exits);
      clearTimeout(deadline);
      const isClean = draining.every((m) => m.isClean === true);
      logger.info({ workers: draining.length, inFlightBefore, isClean }, 'workers drained');
      return isClean;
    },
  };
}
