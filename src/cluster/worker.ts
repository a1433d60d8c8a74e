// A worker: one data plane (listener, request path, upstream pools, breakers) serving the snapshots the
// primary sends, on the shared data port. It keeps no state file, runs no admin API, reloads nothing
// and steps no rollout: the primary does, and tells it. Once a second it reports what the control plane
// needs from it: the rollout windows' counts, its requests in flight, its breakers' states.
import { configSchema } from '../config/schema.ts';
import { createSnapshot, type Snapshot } from '../config/snapshot.ts';
import { createDataPlane } from '../data-plane.ts';
import { createUpstreamRegistry } from '../forwarding/upstreams.ts';
import { createBreakerRegistry } from '../resilience/breakers.ts';
import { createWindows } from '../rollout/window.ts';
import { startTelemetry } from '../telemetry/index.ts';
import type { Logger } from '../telemetry/log.ts';
import { type FromWorker, isToWorker, type ToWorker, type WeightOverrides } from './messages.ts';

const REPORT_EVERY_MS = 1000;

function send(message: FromWorker, onSent?: () => void): void {
  if (!process.connected) return onSent?.();
  process.send?.(message, undefined, {}, () => onSent?.());
}

/**
 * Asks for the first snapshot once a listener is in place: Node drops IPC messages that arrive before
 * one, and preloads (--import, tracing) can delay this module well past the worker's 'online'.
 */
function firstSnapshot(): Promise<Extract<ToWorker, { type: 'fnshift:snapshot' }>> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (!isToWorker(message)) return;
      if (message.type === 'fnshift:snapshot') {
        process.off('message', onMessage);
        resolve(message);
      } else if (message.type === 'fnshift:drain') {
        // Told to stop before it served anything: nothing to drain.
        process.exit(0);
      }
    };
    process.on('message', onMessage);
    send({ type: 'fnshift:hello' });
  });
}

/** Runs until the primary says drain (or a signal does), then exits 0; a fatal error exits 70. */
export async function runWorker(logger: Logger): Promise<void> {
  const first = await firstSnapshot();
  const upstreams = createUpstreamRegistry();
  // The primary validated it; parsing again here keeps a worker from serving anything the schema refuses.
  const toSnapshot = (config: unknown, overrides: WeightOverrides): Snapshot =>
    createSnapshot(configSchema.parse(config), upstreams, new Map(overrides));
  let snapshot = toSnapshot(first.config, first.overrides);
  const breakers = createBreakerRegistry(snapshot.config.functions);
  const telemetry = startTelemetry({
    logger,
    snapshot: () => snapshot,
    breakerState: (name) => breakers.state(name),
    plane: 'data',
  });
  const windows = createWindows();
  const plane = createDataPlane({
    limits: first.limits,
    snapshot: () => snapshot,
    gate: breakers.gate,
    logger,
  });

  const report = setInterval(() => {
    const states: Record<string, string> = {};
    for (const name of Object.keys(snapshot.config.functions))
      states[name] = breakers.state(name) ?? 'disabled';
    send({ type: 'fnshift:report', windows: windows.ship(), inFlight: plane.inFlight, breakers: states });
  }, REPORT_EVERY_MS);
  report.unref();

  let isDraining = false;
  const drain = async (drainMs: number) => {
    if (isDraining) return;
    isDraining = true;
    clearInterval(report);
    const isClean = await plane.drain(drainMs);
    // Shipped before windows.stop() clears them: the primary's gates miss nothing this worker served.
    const shipment = windows.ship();
    windows.stop();
    breakers.shutdown();
    await upstreams.close();
    await telemetry.shutdown();
    logger.info({ isClean }, 'worker drained');
    logger.flush?.();
    // Exit once the last report is on its way, or it may be lost with the process.
    const last: FromWorker = {
      type: 'fnshift:report',
      windows: shipment,
      inFlight: plane.inFlight,
      breakers: {},
      isClean,
    };
    send(last, () => process.exit(0));
  };

  process.on('message', (message: unknown) => {
    if (!isToWorker(message)) return;
    if (message.type === 'fnshift:snapshot') {
      snapshot = toSnapshot(message.config, message.overrides);
      breakers.update(snapshot.config.functions);
    } else if (message.type === 'fnshift:metrics') {
      telemetry.metrics.json().then(
        (metrics) => send({ type: 'fnshift:metrics', id: message.id, metrics }),
        (error: unknown) => logger.error({ err: error }, 'worker metrics failed'),
      );
    } else if (message.type === 'fnshift:drain') {
      void drain(message.drainMs);
    }
  });
  // A terminal's Ctrl-C reaches the whole process group; SIGTERM may too. Either way: drain, like the primary.
  process.once('SIGTERM', () => void drain(snapshot.config.drain.timeoutMs));
  process.once('SIGINT', () => void drain(snapshot.config.drain.timeoutMs));
  // The primary is gone (killed): nobody will ever say drain, so do it now.
  process.once('disconnect', () => void drain(snapshot.config.drain.timeoutMs));

  const address = await plane.listen(first.listen, true);
  logger.info({ data: address }, 'worker listening');
  send({ type: 'fnshift:listening', address });
}
