// The origin every contender forwards to: node:http, keep-alive, one ~3 KB recommendation list for any path.
import { createServer, type Server } from 'node:http';

const TARGET_BODY_BYTES = 3 * 1024;

/** A deterministic JSON body shaped like what a recommendation endpoint of the legacy app returns. */
export function createRecommendationBody(): Buffer {
  const items: unknown[] = [];
  const document = {
    userId: 'u-bench',
    algorithm: 'collab-filter-v3',
    generatedAt: '2026-01-01T00:00:00.000Z',
    items,
  };
  for (let i = 0; Buffer.byteLength(JSON.stringify(document)) < TARGET_BODY_BYTES; i++) {
    items.push({
      sku: `sku-${100_000 + i * 37}`,
      title: `Item ${i + 1} picked for you`,
      score: Number((0.99 - i * 0.013).toFixed(3)),
      price: { amount: Number((9.99 + i * 3).toFixed(2)), currency: 'EUR' },
      tags: ['bestseller', i % 2 === 0 ? 'in-stock' : 'few-left'],
      imageUrl: `https://cdn.example.com/img/${100_000 + i * 37}.webp`,
    });
  }
  return Buffer.from(JSON.stringify(document));
}

export function createUpstream(): Server {
  const body = createRecommendationBody();
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  // Contenders idle between their rounds for longer than Node's 5 s default; a long idle timeout keeps
  // every proxy from racing the origin closing a pooled socket, which would show up as a bench error.
  server.keepAliveTimeout = 60_000;
  return server;
}

if (import.meta.main) {
  const server = createUpstream();
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    process.send?.({ event: 'ready', port: address.port });
  });
  // The bench talks over IPC; when it goes away (even killed), so does the origin.
  process.on('disconnect', () => process.exit(0));
}
