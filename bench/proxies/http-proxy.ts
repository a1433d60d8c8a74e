// Contender: http-proxy 1.18.1 behind node:http, with a keep-alive agent so it pools sockets like the others.
import { Agent, createServer } from 'node:http';
import httpProxy from 'http-proxy';

const target = process.argv[2];
if (!target) throw new Error('usage: http-proxy.ts <upstream url>');

// Without an agent http-proxy sends `connection: close` upstream (lib/http-proxy/common.js), which would
// measure TCP handshakes, not the proxy. 128 sockets matches undici's pool default in reply-from.
const agent = new Agent({ keepAlive: true, maxSockets: 128 });
const proxy = httpProxy.createProxyServer({ target, agent });
proxy.on('error', (_error, _req, res) => {
  if ('writeHead' in res && !res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
  res.end('bad gateway');
});

const server = createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  process.send?.({ event: 'ready', port: address.port });
});
process.on('disconnect', () => process.exit(0));
