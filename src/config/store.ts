// The control plane's single owner of truth: the config in force, the persisted runtime state, and the
// snapshot built from both. Every change is serialised, persisted before it is acknowledged, logged with
// old → new, and published as one new snapshot.
//
// Weight precedence, per route:
//   1. a rollout that is progressing or paused owns the weight;
//   2. otherwise a runtime weight (admin API, CLI, or a finished rollout) wins over the config, until the
//      config's own weight for that route is edited: the edit is the newer intent and drops the override;
//   3. otherwise the config's weight.
import { FnshiftError } from '../errors.ts';
import type { UpstreamRegistry } from '../forwarding/upstreams.ts';
import type { RolloutRecord, State, WeightOverride } from '../rollout/state.ts';
import { emptyState, writeStateAtomic } from '../rollout/state.ts';
import type { Logger } from '../telemetry/log.ts';
import type { Config } from './schema.ts';
import { createSnapshot, type Snapshot } from './snapshot.ts';

export type StoreOptions = {
  config: Config;
  state?: State;
  upstreams: UpstreamRegistry;
  logger: Logger;
  /** Where state is persisted; undefined keeps it in memory (tests, embedding). */
  stateFile?: string;
  onSnapshot?: (snapshot: Snapshot) => void;
};

export type ReloadOutcome = { result: 'ok' | 'invalid' | 'unchanged'; problems?: string[] };

function overridesOf(state: State): Map<string, { weightPercent: number; source: 'admin' | 'rollout' }> {
  return new Map(
    Object.entries(state.weights).map(([route, o]) => [
      route,
      { weightPercent: o.weightPercent, source: o.source },
    ]),
  );
}

/** Drops what a new config makes stale: overrides of removed or re-weighted routes, rollouts of removed routes. */
export function reconcileState(state: State, config: Config, logger?: Logger): State {
  const routes = new Map(config.routes.map((r) => [r.name, r]));
  const weights: Record<string, WeightOverride> = {};
  for (const [name, override] of Object.entries(state.weights)) {
    const route = routes.get(name);
    if (!route) continue;
    const rollout = state.rollouts[name];
    // A rollout the new config no longer declares owns nothing: its route falls back to the usual rule.
    const isRolloutActive =
      Boolean(route.rollout) && (rollout?.status === 'progressing' || rollout?.status === 'paused');
    if (!isRolloutActive && route.weight !== override.configWeightPercent) {
      logger?.info(
        { route: name, runtimeWeight: override.weightPercent, configWeight: route.weight },
        'config weight edited: it replaces the runtime weight',
      );
      continue;
    }
    // An edit made while a rollout owns the weight is absorbed by the rollout: rebase the override on it,
    // or the first reload after the rollout ends would take it for a new edit and drop the rollout's weight.
    weights[name] =
      isRolloutActive && route.weight !== override.configWeightPercent
        ? { ...override, configWeightPercent: route.weight }
        : override;
  }
  const rollouts: Record<string, RolloutRecord> = {};
  for (const [name, record] of Object.entries(state.rollouts)) {
    if (routes.get(name)?.rollout) rollouts[name] = record;
  }
  return { version: 1, weights, rollouts };
}

export function createStore(options: StoreOptions) {
  const { upstreams, logger } = options;
  let config = options.config;
  let state = reconcileState(options.state ?? emptyState(), config, logger);
  let snapshot = createSnapshot(config, upstreams, overridesOf(state));
  let queue: Promise<unknown> = Promise.resolve();

  /** Runs changes one at a time, in arrival order, whatever their outcome. */
  function serialise<T>(change: () => Promise<T>): Promise<T> {
    const next = queue.then(change, change);
    queue = next.catch(() => {});
    return next;
  }

  async function commit(nextConfig: Config, nextState: State): Promise<void> {
    if (options.stateFile) await writeStateAtomic(options.stateFile, nextState);
    config = nextConfig;
    state = nextState;
    snapshot = createSnapshot(config, upstreams, overridesOf(state));
    options.onSnapshot?.(snapshot);
  }

  function routeOf(name: string) {
    const route = config.routes.find((r) => r.name === name);
    if (!route)
      throw new FnshiftError('FNSHIFT_NOT_FOUND', `no route named "${name}"`, { details: { route: name } });
    return route;
  }

  function refuseWhileRolloutOwns(name: string): void {
    const rollout = state.rollouts[name];
    if (rollout?.status === 'progressing' || rollout?.status === 'paused') {
      throw new FnshiftError(
        'FNSHIFT_CONFLICT',
        `a rollout owns ${name}'s weight: abort or promote it first`,
        {
          details: { route: name, rollout: rollout.status },
        },
      );
    }
  }

  return {
    get snapshot(): Snapshot {
      return snapshot;
    },
    get config(): Config {
      return config;
    },
    get state(): State {
      return state;
    },
    serialise,

    /** An operator's weight for one route; refused while a rollout owns the route. */
    setWeight(name: string, weightPercent: number, source: 'admin' | 'rollout' = 'admin') {
      return serialise(async () => {
        const route = routeOf(name);
        if (source === 'admin') refuseWhileRolloutOwns(name);
        const previous = snapshot.weights.get(name)?.weightPercent ?? route.weight;
        const override: WeightOverride = {
          weightPercent,
          source,
          configWeightPercent: route.weight,
          setAt: new Date().toISOString(),
        };
        await commit(config, { ...state, weights: { ...state.weights, [name]: override } });
        logger.info(
          { route: name, from: previous, to: weightPercent, by: source },
          `weight ${name}: ${previous}% → ${weightPercent}%`,
        );
        return { name, previousWeight: previous, weight: weightPercent };
      });
    },

    /** Back to the config's weight; refused, like setWeight, while a rollout owns the route. */
    clearWeight(name: string) {
      return serialise(async () => {
        const route = routeOf(name);
        refuseWhileRolloutOwns(name);
        const previous = snapshot.weights.get(name)?.weightPercent ?? route.weight;
        const { [name]: _dropped, ...weights } = state.weights;
        await commit(config, { ...state, weights });
        logger.info(
          { route: name, from: previous, to: route.weight, by: 'admin' },
          `weight ${name}: ${previous}% → config ${route.weight}%`,
        );
        return { name, previousWeight: previous, weight: route.weight };
      });
    },

    /**
     * Rollout progress; `weightPercent` (when given) becomes the route's weight in the same write.
     * Unserialised: the rollout controller calls it inside its own `serialise` section, so reading the
     * current record, deciding and writing are one step.
     */
    async writeRollout(
      name: string,
      record: RolloutRecord | undefined,
      weightPercent?: number,
    ): Promise<void> {
      const route = routeOf(name);
      const rollouts = { ...state.rollouts };
      if (record) rollouts[name] = record;
      else delete rollouts[name];
      const weights = { ...state.weights };
      if (weightPercent !== undefined) {
        weights[name] = {
          weightPercent,
          source: 'rollout',
          configWeightPercent: route.weight,
          setAt: new Date().toISOString(),
        };
      }
      await commit(config, { version: 1, weights, rollouts });
    },

    /** Swaps in a new, already validated config; stale runtime state is reconciled away. */
    applyConfig(next: Config) {
      return serialise(async () => {
        await commit(next, reconcileState(state, next, logger));
      });
    },
  };
}

export type Store = ReturnType<typeof createStore>;
