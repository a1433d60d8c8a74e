// Starts one of the demo's local servers (legacy app, function host) and gives back its URL and a close.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function listenLocal(
  server: Server,
  options: { host?: string; port?: number },
): Promise<{ url: string; close(): Promise<void> }> {
  await new Promise<void>((ready, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => ready());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
