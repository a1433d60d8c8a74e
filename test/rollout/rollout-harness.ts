// Test helper: the rollout control plane without listeners (store, windows, controller) on a state file,
// fed by fake attempt events on the core's channel, for tests that drive time with mock timers.
import type { TestContext } from 'node:test';
import type { ConfigInput } from '../../src/config/schema.ts';
import { createStore, type Store } from '../../src/config/store.ts';
import { createUpstreamRegistry } from '../../src/forwarding/upstreams.ts';
import { createRolloutController, type RolloutController } from '../../src/rollout/controller.ts';
import type { State } from '../../src/rollout/state.ts';
import { createWindows, type Windows } from '../../src/rollout/window.ts';
import { type AttemptEvent, channels } from '../../src/telemetry/events.ts';
import { silentLogger } from '../../src/telemetry/log.ts';
import { buildConfig } from '../helpers/fnshift.ts';

export type Harness = { store: Store; windows: Windows; controller: RolloutController; stop(): void };

export type RouteInput = ConfigInput['routes'][number];

/** A config with the given routes (function `fn`, legacy and function on a closed port: nothing is sent). */
export function rolloutConfig(routes: RouteInput[]) {
  return buildConfig({
    legacy: { url: 'http://127.0.0.1:9' },
    functions: { fn: { url: 'http://127.0.0.1:9' } },
    routes,
  });
}

export function startHarness(
  t: TestContext,
  config: ReturnType<typeof rolloutConfig>,
  options: { state?: State; stateFile?: string } = {},
): Harness {
  const upstreams = createUpstreamRegistry();
  const logger = silentLogger();
  const store = createStore({ config, upstreams, logger, ...options });
  const windows = createWindows();
  const controller = createRolloutController({ store, windows, logger });
  let isStopped = false;
  const stop = () => {
    if (isStopped) return;
    isStopped = true;
    controller.stop();
    windows.stop();
    void upstreams.close();
  };
  t.after(stop);
  return { store, windows, controller, stop };
}

/** Waits for every change queued so far (a rollout check fired by a timer included) to finish. */
export function settle(store: Store): Promise<void> {
  return store.serialise(async () => {});
}

/** Publishes `count` function attempts on `route`, the first `failures` of them 5xx. */
export function feedFunction(
  route: string,
  count: number,
  options: { failures?: number; durationMs?: number } = {},
): void {
  for (let i = 0; i < count; i++) {
    const isFailure = i < (options.failures ?? 0);
    const event = {
      request: { route },
      target: 'function',
      upstreamName: 'fn',
      resendCount: 0,
      outcome: 'relayed',
      statusCode: isFailure ? 502 : 200,
      errorCode: undefined,
      durationMs: options.durationMs ?? 12,
    } as unknown as AttemptEvent;
    channels.attemptEnd.publish(event);
  }
}
