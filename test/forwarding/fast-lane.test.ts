// The fast lane (src/forwarding/fast-lane.ts, fast-head.ts, fast-exchange.ts) through a running fnshift,
// with raw sockets: bodiless requests and small whole POSTs served by the lane itself, and the hand-off of everything else to
// Node's server on the same socket. Responses are split out of the byte stream strictly, so a stray body
// byte or a broken chunk fails the test instead of being skipped over.
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import fc from 'fast-check';
import {
  assertBackToBaseline,
  baseline,
  openClient,
  type RawClient,
  rawCode,
  rawExchange,
  type Scenario,
  startScenario,
  toxics,
  waitUntil,
} from '../helpers/faults.ts';
import { valuesOf } from '../helpers/raw.ts';

type Response = { status: number; head: string; body: Buffer };

function fail(message: string): never {
  throw new Error(message);
}

/** The end of a chunked body starting at `from` (after its final CRLF), -1 if incomplete; throws on bad framing. */
function chunkedEnd(bytes: Buffer, from: number, body: Buffer[]): number {
  let at = from;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd === -1) return -1;
    const sizeText = bytes.toString('latin1', at, lineEnd);
    if (!/^[0-9a-f]+$/i.test(sizeText)) fail(`bad chunk size line ${JSON.stringify(sizeText)}`);
    const size = Number.parseInt(sizeText, 16);
    const dataEnd = lineEnd + 2 + size;
    if (bytes.length < dataEnd + 2) return -1;
    if (bytes.toString('latin1', dataEnd, dataEnd + 2) !== '\r\n')
      fail(`chunk of ${size} not followed by CRLF`);
    if (size === 0) return dataEnd + 2;
    body.push(bytes.subarray(lineEnd + 2, dataEnd));
    at = dataEnd + 2;
  }
}

/**
 * Splits the bytes a client received into whole responses, one per method in `methods` (HEAD, 204 and
 * 304 have no body). Stops at an incomplete one; `extra` counts the bytes after the last whole response.
 */
function splitResponses(bytes: Buffer, methods: string[]): { responses: Response[]; extra: number } {
  const responses: Response[] = [];
  let at = 0;
  while (at < bytes.length && responses.length < methods.length) {
    const headEnd = bytes.indexOf('\r\n\r\n', at);
    if (headEnd === -1) break;
    const head = bytes.toString('latin1', at, headEnd + 4);
    if (!head.startsWith('HTTP/1.1 ')) fail(`not a response head at byte ${at}: ${JSON.stringify(head)}`);
    const status = Number(head.slice(9, 12));
    const bodyStart = headEnd + 4;
    const length = valuesOf(head, 'content-length');
    const isChunked = valuesOf(head, 'transfer-encoding').some((v) => v.toLowerCase() === 'chunked');
    let end: number;
    const chunks: Buffer[] = [];
    if (methods[responses.length] === 'HEAD' || status === 204 || status === 304) {
      end = bodyStart;
    } else if (isChunked) {
      if (length.length > 0) fail(`both content-length and chunked: ${head}`);
      end = chunkedEnd(bytes, bodyStart, chunks);
    } else if (length.length === 1) {
      end = bodyStart + Number(length[0]);
      if (bytes.length < end) end = -1;
      else chunks.push(bytes.subarray(bodyStart, end));
    } else {
      fail(`a response without framing: ${head}`);
    }
    if (end === -1) break;
    responses.push({ status, head, body: Buffer.concat(chunks) });
    at = end;
  }
  return { responses, extra: bytes.length - at };
}

/** Waits for `methods.length` whole responses on `client` (or for the connection to close first). */
async function responsesOn(client: RawClient, methods: string[], timeoutMs?: number): Promise<Response[]> {
  await waitUntil(
    () => client.isClosed() || splitResponses(client.received(), methods).responses.length === methods.length,
    () => {
      const bytes = client.received();
      const whole = splitResponses(bytes, methods).responses.length;
      return `${methods.length} responses; ${whole} whole ones in ${bytes.length} bytes received, ending ${JSON.stringify(bytes.subarray(-200).toString('latin1'))}`;
    },
    timeoutMs,
  );
  return splitResponses(client.received(), methods).responses;
}

function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: fnshift.test\r\n${extra}\r\n`;
}

/** Hang up and let fnshift see it before the baseline check. */
async function hangUp(client: RawClient): Promise<void> {
  client.abort();
  await client.closed;
}

test('answers several GETs pipelined in one write, in order, on the one connection', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('fn') });
  const before = baseline(s.app);

  const client = await openClient(s.port);
  const paths = [1, 2, 3, 4, 5].map((n) => `/api/recommend/${n}`);
  const methods = paths.map(() => 'GET');
  await client.write(paths.map((p) => get(p)).join(''));
  const responses = await responsesOn(client, methods);

  assert.deepEqual(
    responses.map((r) => `${r.status} ${r.body.toString()}`),
    paths.map((p) => `200 fn GET ${p} `),
  );
  assert.deepEqual(
    responses.map((r) => valuesOf(r.head, 'connection')),
    methods.map(() => ['keep-alive']),
  );
  assert.equal(splitResponses(client.received(), methods).extra, 0, 'bytes after the last response');
  assert.equal(client.isClosed(), false, 'fnshift closed a keep-alive connection');
  await hangUp(client);
  await assertBackToBaseline(s.app, before);
});

/** The lane writes its own connection field in lower case; Node's ServerResponse writes `Connection:`. */
const isLanes = (r: Response) => r.head.includes('\r\nconnection: keep-alive\r\n');

/** A POST body that looks like the end of a head and a request, so a byte parsed twice would show. */
const HEAD_LIKE_BODY = 'line1\r\n\r\nGET /api/recommend/smuggled HTTP/1.1\r\nHost: x\r\n\r\n';

/**
 * The echo function's answers to GET /first, POST /post with HEAD_LIKE_BODY and GET /last on `client`,
 * in order, and which of them the lane served.
 */
async function assertGetPostGet(client: RawClient, servedByLane: boolean[]): Promise<void> {
  const responses = await responsesOn(client, ['GET', 'POST', 'GET']);
  assert.deepEqual(
    responses.map((r) => `${r.status} ${r.body.toString()}`),
    [
      '200 fn GET /api/recommend/first ',
      `200 fn POST /api/recommend/post ${HEAD_LIKE_BODY}`,
      '200 fn GET /api/recommend/last ',
    ],
  );
  assert.deepEqual(responses.map(isLanes), servedByLane, responses.map((r) => r.head).join('\n'));
}

test('a POST whose small Content-Length body arrives with it stays in the lane: GET, POST, GET all answered there', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('fn') });
  const before = baseline(s.app);

  const client = await openClient(s.port);
  await client.write(
    get('/api/recommend/first') +
      `POST /api/recommend/post HTTP/1.1\r\nHost: fnshift.test\r\nContent-Type: text/plain\r\nContent-Length: ${HEAD_LIKE_BODY.length}\r\n\r\n${HEAD_LIKE_BODY}` +
      get('/api/recommend/last'),
  );
  await assertGetPostGet(client, [true, true, true]);
  assert.deepEqual(
    s.fn!.seen.map((r) => `${r.method} ${r.path} ${r.body.toString('latin1')}`),
    ['GET /api/recommend/first ', `POST /api/recommend/post ${HEAD_LIKE_BODY}`, 'GET /api/recommend/last '],
  );
  assert.equal(s.legacy!.count(), 0);
  await hangUp(client);
  await assertBackToBaseline(s.app, before);
});

test('a chunked POST goes to Node mid-connection without losing a byte', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('fn') });
  const before = baseline(s.app);

  const client = await openClient(s.port);
  await client.write(
    get('/api/recommend/first') +
      `POST /api/recommend/post HTTP/1.1\r\nHost: fnshift.test\r\nTransfer-Encoding: chunked\r\n\r\n` +
      `${HEAD_LIKE_BODY.length.toString(16)}\r\n${HEAD_LIKE_BODY}\r\n0\r\n\r\n${get('/api/recommend/last')}`,
  );
  await assertGetPostGet(client, [true, false, false]);
  // Node's server starts a pipelined request before the one ahead of it has its answer (the answers
  // still leave in order), so the function may see the last GET before the POST.
  assert.deepEqual(
    s.fn!.seen.map((r) => `${r.method} ${r.path}`).sort(),
    ['GET /api/recommend/first', 'POST /api/recommend/post', 'GET /api/recommend/last'].sort(),
  );
  await hangUp(client);
  await assertBackToBaseline(s.app, before);
});

/** Writes `pieces` with a pause after each, so every piece arrives in a read of its own. */
async function writeApart(client: RawClient, pieces: readonly string[]): Promise<void> {
  for (const piece of pieces) {
    await client.write(piece);
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
}

test('a GET whose head arrives in two reads stays in the lane, and so does the next GET on the connection', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('fn') });
  const before = baseline(s.app);

  const client = await openClient(s.port);
  // As a 2 KB cookie on a 1,460-byte MSS arrives: the head cut in two segments.
  await writeApart(client, [
    `GET /api/recommend/split HTTP/1.1\r\nHost: fnshift.test\r\nCookie: ${'c'.repeat(1400)}`,
    'c\r\nAccept: text/plain\r\n\r\n',
  ]);
  const [split] = await responsesOn(client, ['GET']);
  assert.equal(split?.status, 200);
  assert.equal(split?.body.toString(), 'fn GET /api/recommend/split ');

  await client.write(get('/api/recommend/after'));
  const [, after] = await responsesOn(client, ['GET', 'GET']);
  assert.equal(after?.body.toString(), 'fn GET /api/recommend/after ');
  assert.deepEqual(
    [split, after].map((r) => r && isLanes(r)),
    [true, true],
    'answered by Node, not the lane',
  );
  assert.equal(s.fn!.seen[0]?.headers.cookie, 'c'.repeat(1401));
  await hangUp(client);
  await assertBackToBaseline(s.app, before);
});

test('a head cut across more reads than the lane waits for goes to Node whole, and is answered', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('fn') });
  const before = baseline(s.app);

  const client = await openClient(s.port);
  const fields = Array.from({ length: 11 }, (_, i) => `X-Part-${i}: ${i}\r\n`);
  await writeApart(client, [
    'GET /api/recommend/trickle HTTP/1.1\r\nHost: fnshift.test\r\n',
    ...fields,
    '\r\n',
  ]);
  const [trickled] = await responsesOn(client, ['GET']);
  assert.equal(trickled?.status, 200);
  assert.equal(trickled && isLanes(trickled), false, 'the lane kept a head of 13 reads');
  assert.equal(s.fn!.seen[0]?.headers['x-part-10'], '10');
  await hangUp(client);
  await assertBackToBaseline(s.app, before);
});

/**
 * fnshift with one deadline (headersTimeoutMs, keepAliveTimeoutMs or bodyIdleTimeoutMs) at 300 ms and the sweep every 50 ms,
 * and one raw client on it: the deadline tests' common opening.
 */
async function openWithDeadline(
  t: TestContext,
  deadline: 'headersTimeoutMs' | 'keepAliveTimeoutMs' | 'bodyIdleTimeoutMs',
) {
  const s = await startScenario(t, {
    fn: toxics.echo('fn'),
    limits: { [deadline]: 300, connectionsCheckIntervalMs: 50 },
  });
  const before = baseline(s.app);
  return { s, before, client: await openClient(s.port) };
}

/**
 * fnshift answered `client` as Node's side answers a request that does not arrive in time (408
 * FNSHIFT_REQUEST_TIMEOUT), so both sides of the lane agree, and forwarded nothing of it.
 */
function assertTimedOut(s: Scenario, client: RawClient): void {
  const text = client.received().toString('latin1');
  assert.match(text, /^HTTP\/1\.1 408 /);
  assert.equal(rawCode(text), 'FNSHIFT_REQUEST_TIMEOUT');
  assert.equal(s.fn!.count() + s.legacy!.count(), 0);
}

test('a cut head that never ends gets 408 at limits.headersTimeoutMs and is not forwarded', async (t) => {
  const { s, before, client } = await openWithDeadline(t, 'headersTimeoutMs');
  await client.write('GET /api/recommend/never HTTP/1.1\r\nHost: fnshift.test\r\nAcc');
  await waitUntil(() => client.isClosed(), 'fnshift to give up on the cut head');
  assertTimedOut(s, client);
  await assertBackToBaseline(s.app, before);
});

test("a cut head with a malformed field goes to Node at once: its 400 does not wait for the head's end", async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('fn'), limits: { headersTimeoutMs: 30_000 } });
  const before = baseline(s.app);

  const client = await openClient(s.port);
  await client.write('GET /api/recommend HTTP/1.1\r\nHost: fnshift.test\r\nX(Bad): 1\r\n');
  await waitUntil(() => client.isClosed(), "Node's parser to answer the malformed field");
  assert.match(client.received().toString('latin1'), /^HTTP\/1\.1 400 /);
  assert.equal(s.fn!.count() + s.legacy!.count(), 0);
  await assertBackToBaseline(s.app, before);
});

test('a POST whose body comes in reads after its head waits in the lane for it, and is forwarded byte for byte', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('fn') });
  const before = baseline(s.app);

  const client = await openClient(s.port);
  const post = `POST /api/recommend/post HTTP/1.1\r\nHost: fnshift.test\r\nContent-Length: ${HEAD_LIKE_BODY.length}\r\n\r\n`;
  // As a body on a 1,460-byte MSS arrives: the head with nothing of it, then the body in pieces, the
  // last one with the next request.
  await writeApart(client, [
    get('/api/recommend/first') + post,
    HEAD_LIKE_BODY.slice(0, 7),
    HEAD_LIKE_BODY.slice(7, 30),
    HEAD_LIKE_BODY.slice(30) + get('/api/recommend/last'),
  ]);
  await assertGetPostGet(client, [true, true, true]);
  assert.deepEqual(
    s.fn!.seen.map((r) => `${r.method} ${r.path}`),
    ['GET /api/recommend/first', 'POST /api/recommend/post', 'GET /api/recommend/last'],
  );
  await hangUp(client);
  await assertBackToBaseline(s.app, before);
});

test('a body trickled over more reads than the lane keeps goes on to Node whole, and is answered', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('fn') });
  const before = baseline(s.app);

  const client = await openClient(s.port);
  const body = 'abcdefghijklmnopqrstuvwxyz0123456789';
  await writeApart(client, [
    `POST /api/recommend/trickle HTTP/1.1\r\nHost: fnshift.test\r\nContent-Length: ${body.length}\r\n\r\n`,
    ...body,
  ]);
  const [trickled] = await responsesOn(client, ['POST']);
  assert.equal(trickled?.status, 200);
  assert.equal(trickled?.body.toString(), `fn POST /api/recommend/trickle ${body}`);
  assert.equal(trickled && isLanes(trickled), false, 'the lane kept a body of 37 reads');
  await hangUp(client);
  await assertBackToBaseline(s.app, before);
});

test('however pipelined requests are cut across up to seven writes, the lane answers each once, in order, byte for byte', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('fn') });
  const before = baseline(s.app);
  // ASCII bodies with the bytes that frame HTTP: the echo answers in UTF-8.
  const bodyText = fc.array(fc.constantFrom('a', 'Z', '0', ' ', ':', '\r', '\n', '{', '"'), {
    maxLength: 3000,
  });
  const requests = fc.array(
    fc.option(
      bodyText.map((chars) => chars.join('')),
      { nil: undefined },
    ),
    {
      minLength: 1,
      maxLength: 4,
    },
  );
  const cuts = fc.uniqueArray(fc.nat(), { maxLength: 6 });
  let run = 0;
  await fc.assert(
    fc.asyncProperty(requests, cuts, async (bodies, at) => {
      run++;
      const paths = bodies.map((_, i) => `/api/recommend/r${run}-${i}`);
      const bytes = bodies
        .map((body, i) =>
          body === undefined
            ? get(paths[i]!)
            : `POST ${paths[i]} HTTP/1.1\r\nHost: fnshift.test\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        )
        .join('');
      const ends = [...new Set(at.map((n) => 1 + (n % (bytes.length - 1))))].sort((a, b) => a - b);
      const pieces = [0, ...ends].map((start, i) => bytes.slice(start, ends[i] ?? bytes.length));
      const client = await openClient(s.port);
      client.socket.setNoDelay(true);
      for (const piece of pieces) {
        await client.write(piece);
        await new Promise((resolve) => setImmediate(resolve));
      }
      const methods = bodies.map((body) => (body === undefined ? 'GET' : 'POST'));
      const responses = await responsesOn(client, methods);
      assert.deepEqual(
        responses.map((r) => `${r.status} ${r.body.toString()}`),
        bodies.map((body, i) => `200 fn ${methods[i]} ${paths[i]} ${body ?? ''}`),
      );
      // Seven reads at most: no head (8) or body (32) outgrows what the lane waits for.
      assert.deepEqual(
        responses.map(isLanes),
        bodies.map(() => true),
      );
      assert.deepEqual(
        s.fn!.seen.slice(-bodies.length).map((r) => `${r.method} ${r.path} ${r.body.toString('latin1')}`),
        bodies.map((body, i) => `${methods[i]} ${paths[i]} ${body ?? ''}`),
      );
      await hangUp(client);
    }),
    { numRuns: 40 },
  );
  await assertBackToBaseline(s.app, before);
});

test('a cut body that stops gets 408 at limits.bodyIdleTimeoutMs, and nothing of it is forwarded', async (t) => {
  const { s, before, client } = await openWithDeadline(t, 'bodyIdleTimeoutMs');
  await client.write(
    'POST /api/recommend/never HTTP/1.1\r\nHost: fnshift.test\r\nContent-Length: 100\r\n\r\n{"half":',
  );
  await waitUntil(() => client.isClosed(), 'fnshift to give up on the cut body');
  assertTimedOut(s, client);
  await assertBackToBaseline(s.app, before);
});

test('a body that trickles past limits.requestTimeoutMs gets 408 though no gap reaches bodyIdleTimeoutMs', async (t) => {
  const s = await startScenario(t, {
    fn: toxics.echo('fn'),
    limits: {
      headersTimeoutMs: 300,
      requestTimeoutMs: 300,
      bodyIdleTimeoutMs: 60_000,
      connectionsCheckIntervalMs: 50,
    },
  });
  const before = baseline(s.app);
  const client = await openClient(s.port);
  await client.write(
    'POST /api/recommend/slow HTTP/1.1\r\nHost: fnshift.test\r\nContent-Length: 1000\r\n\r\n',
  );
  // A byte every 20 ms keeps the body idle deadline away; 1,000 of them would take 20 s, and the test
  // gives up after 10.
  for (let i = 0; i < 500 && !client.isClosed(); i++) {
    await client.write('x').catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.ok(client.isClosed(), 'fnshift still reading the trickle after 10 s');
  assertTimedOut(s, client);
  await assertBackToBaseline(s.app, before);
});

/**
 * A client that sent a POST with 5 of its 10 body bytes, once the lane holds it as a request in flight
 * (the data plane counts it, so the wait depends on no timing).
 */
async function openWithHalfABody(s: Scenario, path: string): Promise<RawClient> {
  const client = await openClient(s.port);
  await client.write(`POST ${path} HTTP/1.1\r\nHost: fnshift.test\r\nContent-Length: 10\r\n\r\n12345`);
  await waitUntil(() => s.app.inFlight === 1, 'the lane to hold the cut body as a request in flight');
  return client;
}

test('a caller that hangs up while the lane waits for its body: nothing is forwarded, nothing is left', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('fn') });
  const before = baseline(s.app);
  const client = await openWithHalfABody(s, '/api/recommend/gone');
  await hangUp(client);
  await assertBackToBaseline(s.app, before);
  assert.equal(s.fn!.count() + s.legacy!.count(), 0);
});

test('a drain waits for a body the lane is still reading, and the request is answered', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('fn') });
  const client = await openWithHalfABody(s, '/api/recommend/draining');
  const drained = s.app.shutdown(10_000);
  await client.write('67890');
  const [response] = await responsesOn(client, ['POST']);
  assert.equal(response?.status, 200);
  assert.equal(response?.body.toString(), 'fn POST /api/recommend/draining 1234567890');
  assert.match(response?.head ?? '', /^connection: close\r$/im);
  assert.deepEqual(await drained, { isClean: true });
});

test('Connection: close gets connection: close, and the socket closes after the response', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('fn') });
  const before = baseline(s.app);

  // A GET pipelined after the closing one must not be served.
  const out = await rawExchange(
    s.port,
    get('/api/recommend/bye', 'Connection: close\r\n') + get('/api/recommend/never'),
  );
  assert.equal(out.isClosed, true, 'the connection was left open');
  const { responses, extra } = splitResponses(Buffer.from(out.text, 'latin1'), ['GET', 'GET']);
  assert.equal(responses.length, 1, out.text);
  assert.equal(extra, 0, out.text);
  assert.equal(responses[0]?.body.toString(), 'fn GET /api/recommend/bye ');
  assert.deepEqual(valuesOf(out.text, 'connection'), ['close']);
  assert.deepEqual(valuesOf(out.text, 'keep-alive'), []);
  assert.deepEqual(
    s.fn!.seen.map((r) => r.path),
    ['/api/recommend/bye'],
  );
  await assertBackToBaseline(s.app, before);
});

test("answers HEAD with the upstream's headers and not one body byte", async (t) => {
  const s = await startScenario(t, {
    fn: (_req, res, seen) => {
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-length': '123',
        etag: '"v1"',
        'x-upstream': seen.method,
      });
      res.end(seen.method === 'HEAD' ? undefined : 'x'.repeat(123));
    },
  });
  const before = baseline(s.app);

  // The GET after the HEAD must start right where the HEAD's header section ends.
  const client = await openClient(s.port);
  await client.write(
    `HEAD /api/recommend/h HTTP/1.1\r\nHost: fnshift.test\r\n\r\n${get('/api/recommend/g')}`,
  );
  const [head, next] = await responsesOn(client, ['HEAD', 'GET']);
  assert.equal(head?.status, 200);
  assert.deepEqual(valuesOf(head!.head, 'content-length'), ['123']);
  assert.deepEqual(valuesOf(head!.head, 'etag'), ['"v1"']);
  assert.deepEqual(valuesOf(head!.head, 'x-upstream'), ['HEAD']);
  assert.deepEqual(valuesOf(head!.head, 'transfer-encoding'), []);
  assert.equal(next?.status, 200);
  assert.equal(next?.body.toString(), 'x'.repeat(123));
  assert.deepEqual(
    s.fn!.seen.map((r) => r.method),
    ['HEAD', 'GET'],
  );
  await hangUp(client);
  await assertBackToBaseline(s.app, before);
});

test("relays an upstream's chunked response (no content-length) as valid chunked framing with the whole body", async (t) => {
  const pieces = ['alpha-', 'beta-', 'gamma-', 'omega'];
  const s = await startScenario(t, {
    fn: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      // Separate writes a tick apart, so fnshift relays several chunks, not one.
      let i = 0;
      const timer = setInterval(() => {
        if (i < pieces.length - 1) res.write(pieces[i++]);
        else {
          clearInterval(timer);
          res.end(pieces[i]);
        }
      }, 10);
      res.once('close', () => clearInterval(timer));
    },
  });
  const before = baseline(s.app);

  const client = await openClient(s.port);
  await client.write(get('/api/recommend/stream') + get('/api/recommend/stream'));
  const responses = await responsesOn(client, ['GET', 'GET']);
  assert.equal(responses.length, 2);
  for (const r of responses) {
    assert.equal(r.status, 200);
    assert.deepEqual(valuesOf(r.head, 'transfer-encoding'), ['chunked']);
    assert.deepEqual(valuesOf(r.head, 'content-length'), []);
    assert.equal(r.body.toString(), pieces.join(''));
  }
  assert.equal(splitResponses(client.received(), ['GET', 'GET']).extra, 0);
  await hangUp(client);
  await assertBackToBaseline(s.app, before);
});

test('an upstream 204 reaches the client with no body and no chunked framing', async (t) => {
  const s = await startScenario(t, {
    fn: toxics.byPath(
      { '/api/recommend/empty': (_req, res) => res.writeHead(204, { 'x-upstream': 'empty' }).end() },
      toxics.echo('fn'),
    ),
  });
  const before = baseline(s.app);

  const client = await openClient(s.port);
  await client.write(get('/api/recommend/empty') + get('/api/recommend/next'));
  const [empty, next] = await responsesOn(client, ['GET', 'GET']);
  assert.equal(empty?.status, 204);
  assert.deepEqual(valuesOf(empty!.head, 'x-upstream'), ['empty']);
  assert.deepEqual(valuesOf(empty!.head, 'transfer-encoding'), []);
  assert.deepEqual(valuesOf(empty!.head, 'content-length'), []);
  // Had the 204 carried so much as a chunked terminator, the next response would not parse.
  assert.equal(next?.body.toString(), 'fn GET /api/recommend/next ');
  await hangUp(client);
  await assertBackToBaseline(s.app, before);
});

test("a caller's FIN while its GET waits on a hanging function aborts the function call", async (t) => {
  const s = await startScenario(t, { fn: toxics.hang(), function: { timeoutMs: 30_000 } });
  const before = baseline(s.app);

  const client = await openClient(s.port);
  await client.write(get('/api/recommend/wait'));
  await waitUntil(() => s.fn!.count() === 1, 'the function to have the GET');
  client.socket.end();
  await client.closed;
  await waitUntil(() => s.fn!.closedConnections() === 1, 'the function call to be aborted');
  assert.equal(s.fn!.count(), 1);
  assert.equal(s.legacy!.count(), 0, 'the abandoned GET was replayed on legacy');
  assert.equal(client.received().length, 0);
  await assertBackToBaseline(s.app, before);
});

test('closes an idle keep-alive connection after limits.keepAliveTimeoutMs', async (t) => {
  const { s, before, client } = await openWithDeadline(t, 'keepAliveTimeoutMs');
  await client.write(get('/api/recommend/once'));
  const [response] = await responsesOn(client, ['GET']);
  assert.equal(response?.status, 200);
  assert.deepEqual(valuesOf(response!.head, 'connection'), ['keep-alive']);
  await waitUntil(() => client.isClosed(), 'fnshift to close the idle connection');
  assert.equal(splitResponses(client.received(), ['GET']).extra, 0, 'bytes after the response');
  await assertBackToBaseline(s.app, before);
});

test('closes a connection that never sends a byte after limits.headersTimeoutMs', async (t) => {
  const { s, before, client } = await openWithDeadline(t, 'headersTimeoutMs');
  await waitUntil(() => client.isClosed(), 'fnshift to close the silent connection');
  assert.equal(client.received().length, 0);
  assert.equal(s.fn!.count() + s.legacy!.count(), 0);
  await assertBackToBaseline(s.app, before);
});

test('limits.maxRequestsPerSocket: the last allowed response says connection: close, and no more is served', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('fn'), limits: { maxRequestsPerSocket: 2 } });
  const before = baseline(s.app);

  const client = await openClient(s.port);
  await client.write(get('/api/recommend/1') + get('/api/recommend/2') + get('/api/recommend/3'));
  await client.closed;
  const { responses, extra } = splitResponses(client.received(), ['GET', 'GET', 'GET']);
  assert.deepEqual(
    responses.map((r) => [r.body.toString(), valuesOf(r.head, 'connection')]),
    [
      ['fn GET /api/recommend/1 ', ['keep-alive']],
      ['fn GET /api/recommend/2 ', ['close']],
    ],
  );
  assert.equal(extra, 0);
  assert.equal(s.fn!.count(), 2);
  await assertBackToBaseline(s.app, before);
});

test('garbage right after a good pipelined GET: the GET is answered, then a 400 problem+json and a close', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('fn') });
  const before = baseline(s.app);

  const out = await rawExchange(s.port, `${get('/api/recommend/good')}\x00\x01not http at all\r\n\r\n`);
  assert.equal(out.isClosed, true, 'the connection was left open');
  const bytes = Buffer.from(out.text, 'latin1');
  const { responses, extra } = splitResponses(bytes, ['GET', 'GET']);
  assert.equal(responses.length, 2, out.text);
  assert.equal(extra, 0);
  const [good, bad] = responses;
  assert.equal(good?.status, 200);
  assert.equal(good?.body.toString(), 'fn GET /api/recommend/good ');
  assert.equal(bad?.status, 400);
  assert.deepEqual(valuesOf(bad!.head, 'content-type'), ['application/problem+json']);
  assert.deepEqual(valuesOf(bad!.head, 'connection'), ['close']);
  assert.equal(rawCode(bad!.head + bad!.body.toString('latin1')), 'FNSHIFT_BAD_REQUEST');
  assert.deepEqual(
    s.fn!.seen.map((r) => r.path),
    ['/api/recommend/good'],
  );
  await assertBackToBaseline(s.app, before);
});

test('every pipelined response reaches a caller that reads late, with a response left waiting in the socket', async (t) => {
  // Each response (head and body) stays under the socket's 64 KiB highWaterMark, so writing it returns true.
  const body = 'b'.repeat(60_000);
  const s = await startScenario(t, {
    fn: toxics.respond(200, body, { 'content-length': String(body.length) }),
  });
  const before = baseline(s.app);
  const serverSockets: Socket[] = [];
  const onServerSocket = (message: unknown) => serverSockets.push((message as { socket: Socket }).socket);
  subscribe('net.server.socket', onServerSocket);
  t.after(() => unsubscribe('net.server.socket', onServerSocket));

  const client = await openClient(s.port);
  client.socket.pause();
  // 24 MB: far more than loopback's socket buffers take from a caller that reads nothing (a few MiB),
  // so fnshift's writes must back up.
  const count = 400;
  await client.write(get('/api/recommend/blob').repeat(count));
  const isOurs = (socket: Socket) =>
    socket.localPort === s.port && socket.remotePort === client.socket.localPort;
  await waitUntil(() => serverSockets.some(isOurs), 'fnshift to accept the connection');
  const fnshiftSide = serverSockets.find(isOurs)!;
  // The kernel's buffers are full: a response's bytes now wait in fnshift's socket for the caller to read.
  await waitUntil(() => fnshiftSide.writableLength > 0, 'a response write to wait on the caller');
  client.socket.resume();

  // 24 MB relayed and re-parsed on every poll: about a second alone, several on a loaded CI machine.
  const responses = await responsesOn(
    client,
    Array.from({ length: count }, () => 'GET'),
    30_000,
  );
  assert.equal(responses.length, count);
  assert.ok(responses.every((r) => r.status === 200 && r.body.length === body.length));
  assert.equal(s.fn!.count(), count);
  await hangUp(client);
  await assertBackToBaseline(s.app, before);
});

test('requests the lane served before a hand-off count towards limits.maxRequestsPerSocket', async (t) => {
  const s = await startScenario(t, { fn: toxics.echo('fn'), limits: { maxRequestsPerSocket: 2 } });
  const before = baseline(s.app);

  // The lane serves the GET; the POST is Node's, and it is the second request on this socket.
  const client = await openClient(s.port);
  await client.write(
    get('/api/recommend/1') +
      'POST /api/recommend/2 HTTP/1.1\r\nHost: fnshift.test\r\nContent-Length: 2\r\n\r\n{}' +
      get('/api/recommend/3'),
  );
  const responses = await responsesOn(client, ['GET', 'POST']);
  assert.deepEqual(
    responses.map((r) => [r.body.toString(), valuesOf(r.head, 'connection')]),
    [
      ['fn GET /api/recommend/1 ', ['keep-alive']],
      ['fn POST /api/recommend/2 {}', ['close']],
    ],
  );
  await hangUp(client);
  await assertBackToBaseline(s.app, before);
});

test('pipelined GETs find the upstream slot their predecessor has just given back', async (t) => {
  // connections 1 and maxPending 0: one call to the function at a time. The lane answers pipelined
  // requests one after the other, so each must find the slot free once the previous one is answered
  // (found in review: ending a response started the next request before the slot was released).
  const s = await startScenario(t, {
    fn: toxics.echo('fn'),
    function: { pool: { connections: 1, maxPending: 0 } },
    route: { fallback: 'never' },
  });
  const before = baseline(s.app);
  const client = await openClient(s.port);
  await client.write(get('/api/recommend/1') + get('/api/recommend/2') + get('/api/recommend/3'));
  const responses = await responsesOn(client, ['GET', 'GET', 'GET']);
  assert.deepEqual(
    responses.map((r) => r.status),
    [200, 200, 200],
  );
  assert.equal(s.fn!.count(), 3);
  await hangUp(client);
  await assertBackToBaseline(s.app, before);
});
