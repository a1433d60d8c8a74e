// The HTTP server behind a fixture: the shop's API with lognormal service times, an occasional cold start,
// recommendation-sized JSON bodies (2–30 KB), and modes the outage scenario switches at run time.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRandom, deriveSeed, lognormal } from './random.ts';

export type FixtureRole = 'legacy' | 'function';
export type FixtureMode = 'normal' | 'hang' | 'fail';

export interface LatencySpec {
  /** 0 answers at once (the overhead scenario, so the proxy's own µs are not lost in the noise). */
  readonly medianMs: number;
  readonly sigma: number;
}

export interface ColdStartSpec {
  /** Share of requests that pay a cold start (a new function instance); the first one always does. */
  readonly probability: number;
  readonly minMs: number;
  readonly maxMs: number;
}

export interface FixtureServerOptions {
  readonly role: FixtureRole;
  readonly seed: number;
  readonly latency: LatencySpec;
  readonly coldStart?: ColdStartSpec;
  readonly mode?: FixtureMode;
  readonly failStatus?: number;
}

export interface FixtureCounters {
  received: number;
  answered: number;
  failed: number;
  hung: number;
  coldStarts: number;
}

export interface FixtureServer {
  readonly server: Server;
  readonly counters: FixtureCounters;
  setMode(mode: FixtureMode, failStatus?: number): void;
}

const FEEDBACK_LIMIT_BYTES = 64 * 1024;
const ITEM_DETAIL_MIN_BYTES = 3 * 1024;
const ITEM_DETAIL_MAX_BYTES = 12 * 1024;
const MAX_LIST_SIZE = 45;

export function createFixtureServer(options: FixtureServerOptions): FixtureServer {
  const random = createRandom(deriveSeed(options.seed, `fixture:${options.role}`));
  const counters: FixtureCounters = { received: 0, answered: 0, failed: 0, hung: 0, coldStarts: 0 };
  let mode: FixtureMode = options.mode ?? 'normal';
  let failStatus = options.failStatus ?? 503;
  let isFirstRequest = true;
  const hung = new Set<ServerResponse>();
  const bodies = createBodyCache(options.role);

  const serviceTimeMs = (): number => {
    let ms =
      options.latency.medianMs > 0 ? lognormal(random, options.latency.medianMs, options.latency.sigma) : 0;
    const cold = options.coldStart;
    if (cold && (isFirstRequest || random() < cold.probability)) {
      counters.coldStarts++;
      ms += cold.minMs + random() * (cold.maxMs - cold.minMs);
    }
    isFirstRequest = false;
    return ms;
  };

  const server = createServer((req, res) => {
    counters.received++;
    if (mode === 'hang') {
      // Accepts and reads, never answers: a wedged instance behind a live socket.
      counters.hung++;
      hung.add(res);
      res.once('close', () => hung.delete(res));
      req.resume();
      return;
    }
    if (mode === 'fail') {
      req.resume();
      counters.failed++;
      sendJson(res, failStatus, { error: 'unavailable', role: options.role }, options.role);
      return;
    }
    readBody(req, (body) => {
      const answer = () => respond(req, res, body, bodies, options.role, counters);
      const delayMs = serviceTimeMs();
      if (delayMs < 0.5) answer();
      else setTimeout(answer, delayMs);
    });
  });
  // Longer than a run: neither the generator nor fnshift's pool should race an idle close.
  server.keepAliveTimeout = 65_000;
  return {
    server,
    counters,
    setMode(next, status) {
      mode = next;
      if (status !== undefined) failStatus = status;
      if (next !== 'hang') {
        // The wedged requests of a hang are cut when it ends, as a restarted instance would.
        for (const res of hung) res.destroy();
        hung.clear();
      }
    },
  };
}

function readBody(req: IncomingMessage, done: (body: Buffer) => void): void {
  if (req.method === 'GET' || req.method === 'HEAD') {
    req.resume();
    req.once('end', () => done(Buffer.alloc(0)));
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= FEEDBACK_LIMIT_BYTES) chunks.push(chunk);
  });
  req.once('end', () => done(Buffer.concat(chunks)));
}

function respond(
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  bodies: BodyCache,
  role: FixtureRole,
  counters: FixtureCounters,
): void {
  counters.answered++;
  // A function URL may carry a base path (/recommend/api/recommend…); the shop's path starts at /api/.
  const url = req.url ?? '/';
  const apiAt = url.indexOf('/api/');
  const target = new URL(apiAt === -1 ? url : url.slice(apiAt), 'http://fixture');
  if (req.method === 'POST' && target.pathname === '/api/feedback') {
    sendJson(res, 202, { accepted: true, bytes: body.length, servedBy: role }, role);
    return;
  }
  const item = /^\/api\/item\/([A-Za-z0-9_-]{1,64})$/.exec(target.pathname);
  if (item) {
    sendBuffer(res, 200, bodies.item(item[1]!), role);
    return;
  }
  if (target.pathname === '/api/recommend') {
    const size = Number(target.searchParams.get('size') ?? 10);
    sendBuffer(res, 200, bodies.list(Number.isInteger(size) ? size : 10), role);
    return;
  }
  sendJson(res, 404, { error: 'not_found', path: target.pathname }, role);
}

function sendJson(res: ServerResponse, status: number, value: unknown, role: FixtureRole): void {
  sendBuffer(res, status, Buffer.from(JSON.stringify(value)), role);
}

function sendBuffer(res: ServerResponse, status: number, body: Buffer, role: FixtureRole): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': body.length,
    'x-served-by': role,
  });
  res.end(body);
}

interface BodyCache {
  list(size: number): Buffer;
  item(id: string): Buffer;
}

/** Bodies are built once per size: the fixture's CPU should go to serving, as a real app's cache would. */
function createBodyCache(role: FixtureRole): BodyCache {
  const lists = new Map<number, Buffer>();
  const details = new Map<number, Buffer>();
  return {
    list(size) {
      const n = Math.min(Math.max(size, 1), MAX_LIST_SIZE);
      let body = lists.get(n);
      if (!body) {
        body = Buffer.from(JSON.stringify({ servedBy: role, size: n, items: listItems(n) }));
        lists.set(n, body);
      }
      return body;
    },
    item(id) {
      // Ten size classes between 3 and 12 KB, chosen by the id: a long description, specs and reviews.
      const sizeClass = hashOf(id) % 10;
      let body = details.get(sizeClass);
      if (!body) {
        const bytes =
          ITEM_DETAIL_MIN_BYTES + ((ITEM_DETAIL_MAX_BYTES - ITEM_DETAIL_MIN_BYTES) * sizeClass) / 9;
        body = Buffer.from(JSON.stringify(itemDetail(role, bytes)));
        details.set(sizeClass, body);
      }
      return body;
    },
  };
}

/** About 640 bytes per item, so a page of 10 is ~6.5 KB and one of 40 ~26 KB. */
function listItems(count: number): unknown[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `sku-${String(1000 + i * 37).padStart(5, '0')}`,
    title: `Recommended item ${i + 1}: a product picked for this shopper's recent views`,
    category: ['books', 'electronics', 'home', 'kitchen', 'outdoors', 'sports'][i % 6],
    price: Number((9.99 + i * 3.5).toFixed(2)),
    currency: 'CNY',
    score: Number((0.99 - i * 0.011).toFixed(3)),
    rating: 4 + (i % 10) / 10,
    reviewCount: 120 + i * 17,
    stock: 3 + ((i * 7) % 40),
    imageUrl: `https://img.example.com/catalog/${1000 + i * 37}/main-800x800.webp`,
    tags: ['free-shipping', i % 2 === 0 ? 'in-stock' : 'few-left', 'recommended'],
    reason: 'Because you viewed similar items in the last 7 days and shoppers like you bought it',
  }));
}

function itemDetail(role: FixtureRole, targetBytes: number): unknown {
  const detail = {
    servedBy: role,
    item: listItems(1)[0],
    description: '',
    specs: {} as Record<string, string>,
    reviews: [] as unknown[],
  };
  const sentence = 'Durable, light and easy to clean; ships from a local warehouse within 24 hours. ';
  for (let i = 0; JSON.stringify(detail).length < targetBytes; i++) {
    if (i % 3 === 0) detail.description += sentence;
    else if (i % 3 === 1) detail.specs[`spec${i}`] = `value ${i} (${sentence.length} chars)`;
    else detail.reviews.push({ rating: 5 - (i % 3), text: sentence, helpful: i });
  }
  return detail;
}

function hashOf(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}
