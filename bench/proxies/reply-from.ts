// Contender: fastify 5 with @fastify/reply-from, which forwards through an undici Pool.
import replyFrom from '@fastify/reply-from';
import Fastify from 'fastify';

const base = process.argv[2];
if (!base) throw new Error('usage: reply-from.ts <upstream url>');

const app = Fastify({ logger: false, keepAliveTimeout: 60_000 });
// The plugin's documented defaults, spelled out so the comparison is explicit.
await app.register(replyFrom, {
  base,
  undici: { connections: 128, pipelining: 1, keepAliveTimeout: 60_000 },
});
app.all('/*', (request, reply) => reply.from(request.url));

const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.send?.({ event: 'ready', port: Number(new URL(address).port) });
process.on('disconnect', () => process.exit(0));
