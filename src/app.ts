// An fnshift instance: the data listener, the admin listener, the control plane (store, reload, rollouts)
// and the drain. Wiring only; each piece lives in its own stage folder.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createAdminTable } from './admin/routes.ts';
import { type AdminTable, createAdminServer } from './admin/server.ts';
import { createReloader, type Reloader } from './config/reload.ts';
import type { Config } from './config/schema.ts';
import type { Snapshot } from './config/snapshot.ts';
import { createStore } from './config/store.ts';
import { createListener } from './forwarding/listener.ts';
import { handleUpgrade } from './forwarding/upgrade.ts';
import { createUpstreamRegistry } from './forwarding/upstreams.ts';
import { createRequestPath, type FunctionGate } from './request-path.ts';
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
};

export type Addresses = { data: string; admin: string; probes?: string };

const PROBE_PATHS = new Set(['/livez', '/readyz', '/metrics']);

/** The read-only subset served on `admin.probesListen`: health and metrics, nothing that changes state. */
function probeTable(table: AdminTable): AdminTable {
  return table.filter(
    (entry) => entry.method === 'GET' && [...PROBE_PATHS].some((path) => entry.pattern.test(path)),
  );
}

function splitHostPort(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hostPort.slice(i + 1)) };
}

function listen(server: Server, hostPort: string): Promise<string> {
  const { host, port } = splitHostPort(hostPort);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 511 }, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve(`http://${shown}:${address.port}`);
    });
  });
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
    onSnapshot: (next) => breakers.update(next.config.functions),
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
  let inFlight = 0;
  const onBug = (error: unknown) =>
    logger.error({ err: error }, 'bug: unexpected error in a request handler');

  const handle = createRequestPath({ snapshot: () => store.snapshot, gate: options.gate ?? breakers.gate });
  const { server: data, lane } = createListener(
    initial.limits,
    (req, res) => {
      inFlight++;
      res.once('close', () => inFlight--);
      if (isDraining) res.shouldKeepAlive = false;
      return handle(req, res);
    },
    onBug,
  );
  // Upgraded sockets leave the HTTP server's books, so closeAllConnections() cannot reach them and
  // server.close() would wait for every WebSocket to end: the drain cuts them itself.
  const tunnels = new Set<Duplex>();
  data.on('upgrade', (req, socket, head) => {
    tunnels.add(socket);
    socket.once('close', () => tunnels.delete(socket));
    handleUpgrade(store.snapshot, req, socket, head);
  });
  const adminTable = createAdminTable({
    store,
    isReady: () => isReady && !isDraining,
    breakerState: (name) => breakers.state(name),
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
    get snapshot(): Snapshot {
      return store.snapshot;
    },
    get inFlight(): number {
      return inFlight;
    },
    async start(): Promise<Addresses> {
      const addresses: Addresses = {
        admin: await listen(admin, initial.admin.listen),
        ...(probes && initial.admin.probesListen
          ? { probes: await listen(probes, initial.admin.probesListen) }
          : {}),
        data: await listen(data, initial.listen),
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
      logger.info({ inFlight, drainMs }, 'draining');
      const closed = new Promise<void>((resolve) => data.close(() => resolve()));
      data.closeIdleConnections();
      lane.closeIdle();
      const deadline = Date.now() + drainMs;
      while (inFlight > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        data.closeIdleConnections();
        lane.closeIdle();
      }
      const isClean = inFlight === 0;
      data.closeAllConnections();
      lane.closeAll();
      for (const socket of tunnels) socket.destroy();
      await closed;
      windows.stop();
      breakers.shutdown();
      await upstreams.close();
      for (const server of probes ? [admin, probes] : [admin]) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      logger.info({ isClean, cutRequests: inFlight }, 'drained');
      return { isClean };
    },
  };
}

export type App = ReturnType<typeof createApp>;
