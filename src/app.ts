// An fnshift instance: the data listener, the admin listener, the current snapshot and the drain.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdminTable } from './admin/routes.ts';
import { createAdminServer } from './admin/server.ts';
import type { Config } from './config/schema.ts';
import { createSnapshot, type Snapshot } from './config/snapshot.ts';
import { createListener } from './forwarding/listener.ts';
import { handleUpgrade } from './forwarding/upgrade.ts';
import { createUpstreamRegistry } from './forwarding/upstreams.ts';
import { createRequestPath, type FunctionGate } from './request-path.ts';
import { createBreakerRegistry } from './resilience/breakers.ts';
import { type Logger, silentLogger } from './telemetry/log.ts';

export type AppOptions = { logger?: Logger; gate?: FunctionGate };

export type Addresses = { data: string; admin: string };

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
  let snapshot: Snapshot = createSnapshot(initial, upstreams);
  let isReady = false;
  let isDraining = false;
  let inFlight = 0;
  const onBug = (error: unknown) =>
    logger.error({ err: error }, 'bug: unexpected error in a request handler');

  const handle = createRequestPath({ snapshot: () => snapshot, gate: options.gate ?? breakers.gate });
  const data = createListener(
    initial.limits,
    (req, res) => {
      inFlight++;
      res.once('close', () => inFlight--);
      if (isDraining) res.shouldKeepAlive = false;
      return handle(req, res);
    },
    onBug,
  );
  data.on('upgrade', (req, socket, head) => handleUpgrade(snapshot, req, socket, head));
  const admin = createAdminServer(
    createAdminTable({
      snapshot: () => snapshot,
      isReady: () => isReady && !isDraining,
      breakerState: (name) => breakers.state(name) ?? 'closed',
    }),
    onBug,
  );

  return {
    logger,
    upstreams,
    get snapshot(): Snapshot {
      return snapshot;
    },
    /** Swaps in a new snapshot whole; static settings (listeners, limits) keep their values until a restart. */
    swap(next: Snapshot): void {
      breakers.update(next.config.functions);
      snapshot = next;
    },
    breakers,
    get inFlight(): number {
      return inFlight;
    },
    async start(): Promise<Addresses> {
      const addresses = {
        admin: await listen(admin, initial.admin.listen),
        data: await listen(data, initial.listen),
      };
      isReady = true;
      logger.info(
        { data: addresses.data, admin: addresses.admin, routes: initial.routes.length },
        'fnshift is listening',
      );
      return addresses;
    },
    /**
     * Readiness goes 503, the data listener stops accepting, in-flight requests finish until the drain
     * deadline, idle keep-alive sockets are closed as they go idle, and what is left is cut.
     */
    async shutdown(drainMs = snapshot.config.drain.timeoutMs): Promise<{ isClean: boolean }> {
      if (isDraining) return { isClean: true };
      isDraining = true;
      logger.info({ inFlight, drainMs }, 'draining');
      const closed = new Promise<void>((resolve) => data.close(() => resolve()));
      data.closeIdleConnections();
      const deadline = Date.now() + drainMs;
      while (inFlight > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        data.closeIdleConnections();
      }
      const isClean = inFlight === 0;
      data.closeAllConnections();
      await closed;
      breakers.shutdown();
      await upstreams.close();
      admin.closeAllConnections();
      await new Promise<void>((resolve) => admin.close(() => resolve()));
      logger.info({ isClean, cutRequests: inFlight }, 'drained');
      return { isClean };
    },
  };
}

export type App = ReturnType<typeof createApp>;
