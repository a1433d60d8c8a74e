// Automated progressive rollout per route: walk the steps, check the gates every interval, advance on a
// pass, hold when inconclusive, and roll back to 0 when failed checks reach the threshold.
import type { RolloutConfig } from '../config/schema.ts';
import type { Store } from '../config/store.ts';
import { FnshiftError } from '../errors.ts';
import { publishRollout } from '../telemetry/events.ts';
import type { Logger } from '../telemetry/log.ts';
import { evaluateGates, stepsOf } from './gates.ts';
import type { RolloutRecord } from './state.ts';
import type { Windows } from './window.ts';

export const rolloutActions = ['start', 'pause', 'resume', 'abort', 'promote'] as const;
export type RolloutAction = (typeof rolloutActions)[number];

export type ControllerOptions = { store: Store; windows: Windows; logger: Logger; now?: () => number };

export function createRolloutController(options: ControllerOptions) {
  const { store, windows, logger } = options;
  const now = options.now ?? Date.now;
  const timers = new Map<string, NodeJS.Timeout>();

  function configOf(route: string): RolloutConfig {
    const r = store.config.routes.find((x) => x.name === route);
    if (!r) throw new FnshiftError('FNSHIFT_NOT_FOUND', `no route named "${route}"`, { details: { route } });
    if (!r.rollout)
      throw new FnshiftError('FNSHIFT_CONFLICT', `route ${route} declares no rollout in the config`, {
        details: { route },
      });
    return r.rollout;
  }

  function schedule(route: string, delayMs: number): void {
    clearTimeout(timers.get(route));
    const timer = setTimeout(
      () => {
        timers.delete(route);
        store
          .serialise(() => check(route))
          .catch((error: unknown) => logger.error({ err: error, route }, 'rollout check failed'));
      },
      Math.max(0, delayMs),
    );
    timer.unref();
    timers.set(route, timer);
  }

  function cancel(route: string): void {
    clearTimeout(timers.get(route));
    timers.delete(route);
  }

  async function save(route: string, record: RolloutRecord, weightPercent?: number): Promise<void> {
    await store.writeRollout(route, record, weightPercent);
    publishRollout({
      route,
      status: record.status,
      stepIndex: record.stepIndex,
      weightPercent: record.weightPercent,
    });
  }

  async function check(route: string): Promise<void> {
    const record = store.state.rollouts[route];
    if (record?.status !== 'progressing') return;
    const config = configOf(route);
    const steps = stepsOf(config);
    const verdict = evaluateGates(config, windows.take(route));
    const at = new Date(now()).toISOString();
    const next: RolloutRecord = { ...record, stepStartedAt: at, lastCheck: { at, ...verdict } };
    let weight: number | undefined;
    if (verdict.result === 'pass') {
      if (record.stepIndex + 1 >= steps.length) {
        next.status = 'succeeded';
      } else {
        next.stepIndex = record.stepIndex + 1;
        next.weightPercent = steps[next.stepIndex]!;
        weight = next.weightPercent;
      }
    } else if (verdict.result === 'fail') {
      next.failedChecks = record.failedChecks + 1;
      if (next.failedChecks >= config.threshold) {
        next.status = 'failed';
        next.weightPercent = 0;
        weight = 0;
      }
    }
    await save(route, next, weight);
    const log = {
      route,
      verdict: verdict.result,
      detail: verdict.detail,
      weight: next.weightPercent,
      status: next.status,
    };
    if (next.status === 'failed') logger.warn(log, `rollout ${route} failed: rolled back to 0%`);
    else
      logger.info(
        log,
        `rollout ${route}: ${verdict.result} at ${record.weightPercent}% → ${next.weightPercent}%`,
      );
    if (next.status === 'progressing') schedule(route, config.intervalMs);
  }

  async function act(route: string, action: RolloutAction): Promise<RolloutRecord> {
    const config = configOf(route);
    const steps = stepsOf(config);
    const current = store.state.rollouts[route];
    const at = new Date(now()).toISOString();
    const isActive = current?.status === 'progressing' || current?.status === 'paused';
    let next: RolloutRecord;
    let weight: number | undefined;
    switch (action) {
      case 'start':
        if (isActive)
          throw new FnshiftError('FNSHIFT_CONFLICT', `rollout ${route} is already ${current.status}`);
        next = {
          status: 'progressing',
          stepIndex: 0,
          weightPercent: steps[0]!,
          failedChecks: 0,
          stepStartedAt: at,
        };
        weight = next.weightPercent;
        windows.reset(route);
        break;
      case 'pause':
        if (current?.status !== 'progressing')
          throw new FnshiftError('FNSHIFT_CONFLICT', `rollout ${route} is not progressing`);
        next = { ...current, status: 'paused' };
        break;
      case 'resume':
        if (current?.status !== 'paused')
          throw new FnshiftError('FNSHIFT_CONFLICT', `rollout ${route} is not paused`);
        next = { ...current, status: 'progressing', stepStartedAt: at };
        windows.reset(route);
        break;
      case 'abort':
        if (!isActive) throw new FnshiftError('FNSHIFT_CONFLICT', `rollout ${route} is not running`);
        next = { ...current, status: 'aborted', weightPercent: 0 };
        weight = 0;
        break;
      case 'promote':
        next = {
          status: 'succeeded',
          stepIndex: steps.length - 1,
          weightPercent: steps[steps.length - 1]!,
          failedChecks: current?.failedChecks ?? 0,
          stepStartedAt: at,
        };
        weight = next.weightPercent;
        break;
    }
    await save(route, next, weight);
    logger.info(
      { route, action, from: current?.status ?? 'idle', to: next.status, weight: next.weightPercent },
      `rollout ${route}: ${action}`,
    );
    if (next.status === 'progressing') schedule(route, config.intervalMs);
    else cancel(route);
    return next;
  }

  return {
    /** Serialised with every other change, so an admin call never races a scheduled check. */
    act: (route: string, action: RolloutAction) => store.serialise(() => act(route, action)),

    /** After a start or a reload: resume progressing rollouts where they were, auto-start declared ones. */
    async sync(): Promise<void> {
      for (const route of [...timers.keys()]) {
        if (!store.config.routes.some((r) => r.name === route && r.rollout)) cancel(route);
      }
      for (const r of store.config.routes) {
        if (!r.rollout) continue;
        const record = store.state.rollouts[r.name];
        if (record?.status === 'progressing' && !timers.has(r.name)) {
          const elapsedMs = now() - Date.parse(record.stepStartedAt);
          schedule(r.name, r.rollout.intervalMs - (Number.isFinite(elapsedMs) ? elapsedMs : 0));
        } else if (!record && r.rollout.autoStart) {
          await store.serialise(() => act(r.name, 'start'));
        }
      }
    },

    stop(): void {
      for (const route of [...timers.keys()]) cancel(route);
    },
  };
}

export type RolloutController = ReturnType<typeof createRolloutController>;
