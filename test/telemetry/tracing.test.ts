// Tracing end to end: `fnshift run` as a child process exporting OTLP/protobuf to a receiver here, with
// upstream fixtures that record the traceparent they get.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { isTracingConfigured } from '../../src/telemetry/tracing.ts';
import { type Fixture, refusedUrl, startFixture } from '../helpers/fnshift.ts';
import { type FnshiftProcess, startFnshiftProcess, tempDir } from '../helpers/process.ts';
import { send } from '../helpers/raw.ts';
import { type ReceivedSpan, SPAN_KIND, STATUS_CODE, startOtlpReceiver } from './otlp-receiver.ts';

type Traced = {
  fnshift: FnshiftProcess;
  legacy: Fixture;
  recommend: Fixture;
  broken: Fixture;
  waitForTrace(traceId: string, count: number): Promise<ReceivedSpan[]>;
  allSpans: ReceivedSpan[];
};

/** `fnshift run` on a config written here, with these OTEL_* variables and none inherited. */
async function spawnWithEnv(t: TestContext, config: Record<string, unknown>, env: Record<string, string>) {
  const dir = await tempDir(t);
  const file = join(dir, 'fnshift.json');
  const base = {
    listen: '127.0.0.1:0',
    admin: { listen: '127.0.0.1:0' },
    state: { file: join(dir, 'state.json') },
  };
  await writeFile(file, JSON.stringify({ ...base, ...config }));
  const inherited = Object.keys(process.env).filter((name) => name.startsWith('OTEL_'));
  return startFnshiftProcess(t, file, {
    env: { ...Object.fromEntries(inherited.map((name) => [name, undefined])), ...env },
  });
}

async function startTraced(t: TestContext, env: Record<string, string> = {}): Promise<Traced> {
  const receiver = await startOtlpReceiver(t);
  const legacy = await startFixture(t);
  const recommend = await startFixture(t);
  const broken = await startFixture(t, (_req, res) => {
    res.writeHead(503, { 'content-type': 'text/plain' }).end('function broke');
  });
  const fnshift = await spawnWithEnv(
    t,
    {
      legacy: { url: legacy.url },
      functions: { recommend: { url: recommend.url }, broken: { url: broken.url } },
      routes: [
        { name: 'recommend', match: { pathPrefix: '/api/recommend' }, function: 'recommend', weight: 100 },
        { name: 'items', match: { pathPrefix: '/api/items' }, function: 'broken', weight: 100 },
      ],
    },
    {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '1',
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
      ...env,
    },
  );
  return {
    fnshift,
    legacy,
    recommend,
    broken,
    allSpans: receiver.spans,
    waitForTrace: async (traceId, count) =>
      (await receiver.waitFor((spans) => spans.filter((s) => s.traceId === traceId).length >= count)).filter(
        (s) => s.traceId === traceId,
      ),
  };
}

function newTraceparent(flags = '01') {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, header: `00-${traceId}-${spanId}-${flags}` };
}

function only(spans: ReceivedSpan[], predicate: (s: ReceivedSpan) => boolean): ReceivedSpan {
  const found = spans.filter(predicate);
  assert.equal(found.length, 1, `expected one span, found ${found.length}`);
  return found[0]!;
}

const isServer = (s: ReceivedSpan) => s.kind === SPAN_KIND.server;
const isClient = (s: ReceivedSpan) => s.kind === SPAN_KIND.client;

test('fnshift run traces requests over OTLP/protobuf when an endpoint is configured', async (t) => {
  const traced = await startTraced(t);

  await t.test(
    'makes the caller’s traceparent the parent of one SERVER span with a CLIENT child',
    async () => {
      const caller = newTraceparent();
      const reply = await send(`${traced.fnshift.dataUrl}/api/recommend/items?token=secret-42`, {
        headers: {
          traceparent: caller.header,
          tracestate: 'vendor=abc',
          'x-amzn-trace-id': 'Root=1-5759e988-bd862e3fe1be46a994272793',
        },
      });
      assert.equal(reply.status, 200);
      const spans = await traced.waitForTrace(caller.traceId, 2);
      assert.equal(spans.length, 2);
      const server = only(spans, isServer);
      const client = only(spans, isClient);

      assert.equal(server.name, 'GET recommend');
      assert.equal(server.parentSpanId, caller.spanId);
      assert.equal(server.statusCode, STATUS_CODE.unset);
      assert.deepEqual(
        {
          method: server.attributes['http.request.method'],
          path: server.attributes['url.path'],
          route: server.attributes['http.route'],
          status: server.attributes['http.response.status_code'],
          fnshiftRoute: server.attributes['fnshift.route'],
          target: server.attributes['fnshift.target'],
          decision: server.attributes['fnshift.decision'],
          fallback: server.attributes['fnshift.fallback'],
          errorType: server.attributes['error.type'],
        },
        {
          method: 'GET',
          path: '/api/recommend/items',
          route: '/api/recommend/*',
          status: 200,
          fnshiftRoute: 'recommend',
          target: 'function',
          decision: 'weight',
          fallback: undefined,
          errorType: undefined,
        },
      );

      assert.equal(client.name, 'GET');
      assert.equal(client.parentSpanId, server.spanId);
      assert.equal(client.statusCode, STATUS_CODE.unset);
      assert.deepEqual(
        {
          address: client.attributes['server.address'],
          port: client.attributes['server.port'],
          url: client.attributes['url.full'],
          status: client.attributes['http.response.status_code'],
          target: client.attributes['fnshift.target'],
          resend: client.attributes['http.request.resend_count'],
        },
        {
          address: '127.0.0.1',
          port: traced.recommend.port,
          url: `${traced.recommend.url}/api/recommend/items`,
          status: 200,
          target: 'function',
          resend: undefined,
        },
      );

      const received = traced.recommend.received.at(-1)!;
      assert.equal(received.headers.traceparent, `00-${caller.traceId}-${client.spanId}-01`);
      assert.equal(received.headers.tracestate, 'vendor=abc');
      assert.equal(received.headers['x-amzn-trace-id'], 'Root=1-5759e988-bd862e3fe1be46a994272793');
      assert.equal(server.resource['service.name'], 'fnshift');
      assert.equal(server.resource['deployment.environment.name'], 'test');
      assert.ok(!JSON.stringify(spans).includes('secret-42'), 'the query string reached a span');
    },
  );

  await t.test(
    'adds a second CLIENT span with resend_count 1 when legacy answers after a fallback',
    async () => {
      const caller = newTraceparent();
      const reply = await send(`${traced.fnshift.dataUrl}/api/items/7`, {
        headers: { traceparent: caller.header },
      });
      assert.equal(reply.status, 200);
      assert.equal(reply.headers['x-fnshift-fallback'], 'function_5xx');
      const spans = await traced.waitForTrace(caller.traceId, 3);
      const server = only(spans, isServer);
      const toFunction = only(spans, (s) => isClient(s) && s.attributes['fnshift.target'] === 'function');
      const toLegacy = only(spans, (s) => isClient(s) && s.attributes['fnshift.target'] === 'legacy');

      assert.equal(server.name, 'GET items');
      assert.equal(server.attributes['fnshift.fallback'], 'function_5xx');
      assert.equal(server.attributes['fnshift.target'], 'legacy');
      assert.equal(server.attributes['http.response.status_code'], 200);
      assert.equal(server.statusCode, STATUS_CODE.unset);

      assert.equal(toFunction.parentSpanId, server.spanId);
      assert.equal(toFunction.attributes['http.response.status_code'], 503);
      assert.equal(toFunction.attributes['error.type'], '503');
      assert.equal(toFunction.statusCode, STATUS_CODE.error);
      assert.equal(toFunction.attributes['http.request.resend_count'], undefined);

      assert.equal(toLegacy.parentSpanId, server.spanId);
      assert.equal(toLegacy.attributes['http.request.resend_count'], 1);
      assert.equal(toLegacy.attributes['server.port'], traced.legacy.port);
      assert.equal(toLegacy.statusCode, STATUS_CODE.unset);

      assert.equal(
        traced.broken.received.at(-1)!.headers.traceparent,
        `00-${caller.traceId}-${toFunction.spanId}-01`,
      );
      assert.equal(
        traced.legacy.received.at(-1)!.headers.traceparent,
        `00-${caller.traceId}-${toLegacy.spanId}-01`,
      );
    },
  );

  await t.test('names the SERVER span of an unmatched request by its method alone', async () => {
    const caller = newTraceparent();
    await send(`${traced.fnshift.dataUrl}/orders/8812/lines?session=s3cr3t`, {
      headers: { traceparent: caller.header },
    });
    const spans = await traced.waitForTrace(caller.traceId, 2);
    const server = only(spans, isServer);
    const client = only(spans, isClient);
    assert.equal(server.name, 'GET');
    assert.equal(server.attributes['http.route'], undefined);
    assert.equal(server.attributes['fnshift.decision'], 'unmatched');
    assert.equal(server.attributes['fnshift.target'], 'legacy');
    assert.equal(client.attributes['url.full'], `${traced.legacy.url}/orders/8812/lines`);
    assert.ok(!JSON.stringify(spans).includes('s3cr3t'), 'the query string reached a span');
  });

  await t.test('starts a new trace when the caller sends no traceparent', async () => {
    await send(`${traced.fnshift.dataUrl}/api/recommend/new`);
    const received = traced.recommend.received.at(-1)!.headers.traceparent;
    assert.match(String(received), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const traceId = String(received).split('-')[1]!;
    const spans = await traced.waitForTrace(traceId, 2);
    assert.equal(only(spans, isServer).parentSpanId, '');
  });

  await t.test(
    'starts a new trace, and relays none of it, when the caller’s traceparent is garbage',
    async () => {
      const garbage = [
        'garbage',
        `00-${'0'.repeat(32)}-${'1'.repeat(16)}-01`, // the all-zero trace id W3C forbids
        `00-${'a'.repeat(32)}-${'0'.repeat(16)}-01`, // the all-zero parent id
        `ff-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, // version ff is invalid
        `00-${'A'.repeat(32)}-${'b'.repeat(16)}-01`, // upper-case hex
        `00-${'a'.repeat(31)}-${'b'.repeat(16)}-01`,
        '\u00ff\u00fe-obs-text',
      ];
      for (const traceparent of garbage) {
        const reply = await send(`${traced.fnshift.dataUrl}/api/recommend/odd`, { headers: { traceparent } });
        assert.equal(reply.status, 200, traceparent);
        const received = String(traced.recommend.received.at(-1)!.headers.traceparent);
        assert.match(received, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, traceparent);
        const traceId = received.split('-')[1]!;
        assert.ok(!traceparent.includes(traceId), `the garbage's trace id went on: ${traceparent}`);
        const spans = await traced.waitForTrace(traceId, 2);
        assert.equal(only(spans, isServer).parentSpanId, '', traceparent);
      }
    },
  );

  await t.test('propagates an unsampled caller’s trace without exporting its spans', async () => {
    const unsampled = newTraceparent('00');
    await send(`${traced.fnshift.dataUrl}/api/recommend/quiet`, {
      headers: { traceparent: unsampled.header },
    });
    const forwarded = String(traced.recommend.received.at(-1)!.headers.traceparent);
    assert.match(forwarded, new RegExp(`^00-${unsampled.traceId}-[0-9a-f]{16}-00$`));
    assert.notEqual(forwarded.split('-')[2], unsampled.spanId);
    // Spans end before their export is queued: once a later sampled trace arrives, the unsampled one would have too.
    const sampled = newTraceparent();
    await send(`${traced.fnshift.dataUrl}/api/recommend/loud`, { headers: { traceparent: sampled.header } });
    await traced.waitForTrace(sampled.traceId, 2);
    assert.equal(traced.allSpans.filter((s) => s.traceId === unsampled.traceId).length, 0);
  });
});

test('fnshift run flushes queued spans when it stops on SIGTERM', async (t) => {
  // A schedule far beyond the test: only the shutdown flush can deliver the spans.
  const traced = await startTraced(t, { OTEL_BSP_SCHEDULE_DELAY: '600000' });
  const caller = newTraceparent();
  await send(`${traced.fnshift.dataUrl}/api/recommend/last`, { headers: { traceparent: caller.header } });
  traced.fnshift.child.kill('SIGTERM');
  const spans = await traced.waitForTrace(caller.traceId, 2);
  assert.equal(spans.length, 2);
  assert.equal((await traced.fnshift.exited).code, 0);
});

test('fnshift run exits promptly on SIGTERM when the collector is down', async (t) => {
  // Unbounded, the exporter would retry for OTEL_EXPORTER_OTLP_TIMEOUT (30 s here) before exiting.
  const traced = await startTraced(t, {
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${await refusedUrl()}/v1/traces`,
    OTEL_EXPORTER_OTLP_TIMEOUT: '30000',
    OTEL_BSP_SCHEDULE_DELAY: '600000',
  });
  await send(`${traced.fnshift.dataUrl}/api/recommend/last`);
  const startMs = Date.now();
  traced.fnshift.child.kill('SIGTERM');
  assert.equal((await traced.fnshift.exited).code, 0);
  assert.ok(Date.now() - startMs < 15_000, `took ${Date.now() - startMs} ms`);
});

test('tracing stays off without an exporter, and when the SDK is disabled', () => {
  assert.equal(isTracingConfigured({}), false);
  assert.equal(isTracingConfigured({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' }), false);
  assert.equal(isTracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), true);
  assert.equal(isTracingConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }), true);
  assert.equal(isTracingConfigured({ OTEL_TRACES_EXPORTER: 'console' }), true);
  assert.equal(
    isTracingConfigured({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c' }),
    false,
  );
  assert.equal(
    isTracingConfigured({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c' }),
    false,
  );
});
