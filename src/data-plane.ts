// The data plane: the data listener (fast lane in front of Node's server), the request path behind it,
// WebSocket tunnels, and the drain of all of them. One per process: the only one in a single-process
// fnshift, one per worker when `workers` is above 1 (the control plane then runs in the primary).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { LimitsConfig } from './config/schema.ts';
import type { Snapshot } from './config/snapshot.ts';
import type { FastLane } from './forwarding/fast-lane.ts';
import { createListener } from './forwarding/listener.ts';
import { handleUpgrade } from './forwarding/upgrade.ts';
import { createRequestPath, type FunctionGate } from './request-path.ts';
import type { Logger } from './telemetry/log.ts';

export type DataPlaneOptions = {
  limits: LimitsConfig;
  snapshot: () => Snapshot;
  gate: FunctionGate;
  logger: Logger;
};

export type DataPlane = {
  readonly server: Server;
  readonly lane: FastLane;
  /** Requests started and not yet answered. */
  readonly inFlight: number;
  /**
   * Listens on `host:port`. `isShared` binds with SO_REUSEPORT so that every worker owns a socket on the
   * same port and the kernel spreads connections over them (no primary in the path).
   */
  listen(hostPort: string, isShared?: boolean): Promise<string>;
  /**
   * Stops accepting, lets in-flight requests finish until the deadline while closing connections as they
   * go idle, then cuts what is left (WebSocket tunnels included). True when nothing had to be cut.
   */
  drain(drainMs: number): Promise<boolean>;
};

function splitHostPort(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hostPort.slice(i + 1)) };
}

export function listenOn(server: Server, hostPort: string, isShared = false): Promise<string> {
  const { host, port } = splitHostPort(hostPort);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const options = isShared
      ? { host, port, backlog: 511, reusePort: true, exclusive: true }
      : { host, port, backlog: 511 };
    server.listen(options, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve(`http://${shown}:${address.port}`);
    });
  });
}

export function createDataPlane(options: DataPlaneOptions): DataPlane {
  const { logger } = options;
  let isDraining = false;
  let inFlight = 0;
  const onBug = (error: unknown) =>
    logger.error({ err: error }, 'bug: unexpected error in a request handler');

  const handle = createRequestPath({ snapshot: options.snapshot, gate: options.gate });
  const { server, lane } = createListener(
    options.limits,
    (req, res) => {
      inFlight++;
      res.once('close', () => inFlight--);
      if (isDraining) res.shouldKeepAlive = false;
      return handle(req, res);
    },
    onBug,
  );
  // A request whose cut body the fast lane is still reading counts too: a drain waits for it.
  const requestsInFlight = () => inFlight + lane.arriving;
  // Upgraded sockets leave the HTTP server's books, so closeAllConnections() cannot reach them and
  // server.close() would wait for every WebSocket to end: the drain cuts them itself.
  const tunnels = new Set<Duplex>();
  server.on('upgrade', (req, socket, head) => {
    tunnels.add(socket);
    socket.once('close', () => tunnels.delete(socket));
    handleUpgrade(options.snapshot(), req, socket, head);
  });

  return {
    server,
    lane,
    get inFlight(): number {
      return requestsInFlight();
    },
    listen: (hostPort, isShared) => listenOn(server, hostPort, isShared),
    async drain(drainMs: number): Promise<boolean> {
      isDraining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      lane.closeIdle();
      const deadline = Date.now() + drainMs;
      while (requestsInFlight() > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        server.closeIdleConnections();
        lane.closeIdle();
      }
      const isClean = requestsInFlight() === 0;
      server.closeAllConnections();
      lane.closeAll();
      for (const socket of tunnels) socket.destroy();
      await closed;
      return isClean;
    },
  };
}
