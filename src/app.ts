// An fnshift instance: the admin listener, the control plane (store, reload, rollouts), the data plane
// (here, or in worker processes) and the drain. Wiring only; each piece lives in its own stage folder.
import { createAdminTable } from './admin/routes.ts';
import { type AdminTable, createAdminServer } from './admin/server.ts';
import { createReloader, type Reloader } from './config/reload.ts';
import type { Config } from './config/schema.ts';
import type { Snapshot } from './config/snapshot.ts';
import { createStore } from './config/store.ts';
import { createDataPlane, listenOn } from './data-plane.ts';
import { createUpstreamRegistry } from './forwarding/upstreams.ts';
import type { FunctionGate } from './request-path.ts';
import { createBreakerRegistry } from './resilience/breakers.ts';
import { createRolloutController } from './rollout/controller.ts';
import type { State } from './rollout/state.ts';
import { createWindows } from './rollout/window.ts';
import { type Logger, silentLogger } from './telemetry/log.ts';

export type AppOptions = {
  logger?: Logger;
  /** Replaces the breakers (tests). */
  gate?: FunctionGate;
  /** Runtime state loaded from the state file. */
  state?: State;
  /** Persist runtime state here before acknowledging changes; defaults to none (in memory). */
  stateFile?: string;
  /** The config file and the text it was loaded from, to enable reloads. */
  configFile?: { path: string; text: string };
  adminToken?: string;
  metrics?: { contentType: string; render(): Promise<string> };
  /**
   * The data plane runs elsewhere (worker processes, see cluster/primary.ts): this app is the control
   * plane only, and hands every snapshot to `remote`.
   */
  remote?: RemoteDataPlane;
};

/** What the control plane needs of data planes it does not run itself. */
export type RemoteDataPlane = {
  /** Starts them serving the snapshot; resolves with the data address once all listen. */
  start(snapshot: Snapshot): Promise<string>;
  /** A new snapshot (config or weights changed). */
  update(snapshot: Snapshot): void;
  /** The breaker state across them: open if any has it open. */
  breakerState(functionName: string): string | undefined;
  readonly inFlight: number;
  drain(drainMs: number): Promise<boolean>;
};

export type Addresses = { data: string; admin: string; probes?: string };

const PROBE_PATHS = new Set(['/livez', '/readyz', '/metrics']);

/** The read-only subset served on `admin.probesListen`: health and metrics, nothing that changes state. */
function probeTable(table: AdminTable): AdminTable {
  return table.filter(
    (entry) => entry.method === 'GET' && [...PROBE_PATHS].some((path) => entry.pattern.test(path)),
  );
}

export function createApp(initial: Config, options: AppOptions = {}) {
  const logger = options.logger ?? silentLogger();
  const upstreams = createUpstreamRegistry();
  const breakers = createBreakerRegistry(initial.functions);
  const store = createStore({
    config: initial,
    state: options.state,
    stateFile: options.stateFile,
    upstreams,
    logger,
    onSnapshot: (next) => {
      breakers.update(next.config.functions);
      options.remote?.update(next);
    },
  });
  const windows = createWindows();
  const rollouts = createRolloutController({ store, windows, logger });
  let reloader: Reloader | undefined;
  if (options.configFile) {
    reloader = createReloader({
      file: options.configFile.path,
      initialText: options.configFile.text,
      store,
      logger,
      onApplied: () => rollouts.sync(),
    });
  }
  let isReady = false;
  let isDraining = false;
  const onBug = (error: unknown) =>
    logger.error({ err: error }, 'bug: unexpected error in a request handler');
  const remote = options.remote;
  const local = remote
    ? undefined
    : createDataPlane({
        limits: initial.limits,
        snapshot: () => store.snapshot,
        gate: options.gate ?? breakers.gate,
        logger,
      });
  const adminTable = createAdminTable({
    store,
    isReady: () => isReady && !isDraining,
    breakerState: (name) => remote?.breakerState(name) ?? breakers.state(name),
    rollouts,
    reloader,
    token: options.adminToken,
    metrics: options.metrics,
  });
  const admin = createAdminServer(adminTable, onBug);
  const probes = initial.admin.probesListen ? createAdminServer(probeTable(adminTable), onBug) : undefined;

  return {
    logger,
    store,
    upstreams,
    breakers,
    rollouts,
    reloader,
    windows,
    get snapshot(): Snapshot {
      return store.snapshot;
    },
    get inFlight(): number {
      return (local ?? remote)?.inFlight ?? 0;
    },
    async start(): Promise<Addresses> {
      const addresses: Addresses = {
        admin: await listenOn(admin, initial.admin.listen),
        ...(probes && initial.admin.probesListen
          ? { probes: await listenOn(probes, initial.admin.probesListen) }
          : {}),
        data: remote ? await remote.start(store.snapshot) : await local!.listen(initial.listen),
      };
      await rollouts.sync();
      reloader?.watch(initial.reload);
      isReady = true;
      logger.info(
        {
          data: addresses.data,
          admin: addresses.admin,
          probes: addresses.probes,
          routes: initial.routes.length,
        },
        'fnshift is listening',
      );
      return addresses;
    },
    /**
     * Readiness goes 503, the data listener stops accepting, in-flight requests finish until the drain
     * deadline, idle keep-alive sockets are closed as they go idle, and what is left is cut.
     */
    async shutdown(drainMs = store.config.drain.timeoutMs): Promise<{ isClean: boolean }> {
      if (isDraining) return { isClean: true };
      isDraining = true;
      reloader?.stop();
      rollouts.stop();
      const plane = (local ?? remote)!;
      logger.info({ inFlight: plane.inFlight, drainMs }, 'draining');
      const isClean = await plane.drain(drainMs);
      windows.stop();
      breakers.shutdown();
      await upstreams.close();
      for (const server of probes ? [admin, probes] : [admin]) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      logger.info({ isClean, cutRequests: plane.inFlight }, 'drained');
      return { isClean };
    },
  };
}

export type App = ReturnType<typeof createApp>;
