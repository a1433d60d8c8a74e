// F1–F3: the caller hangs up mid-upload, mid-download, or while the function is still thinking. The
// upstream call is aborted (the upstream sees its socket close), nothing falls back to legacy, nothing
// crashes, and every pool slot comes back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  abortMidDownload,
  abortMidUpload,
  abortWhilePending,
  assertBackToBaseline,
  baseline,
  exchange,
  openClient,
  startScenario,
  toxics,
  waitUntil,
} from '../helpers/faults.ts';

test('aborts the function call and falls back to nothing when the client hangs up mid-upload', async (t) => {
  const s = await startScenario(t, { fn: toxics.respond(200, 'function') });
  const before = baseline(s.app);

  await abortMidUpload(s.port, '/api/recommend', () => s.fn!.seen[0]?.body.toString() === 'partial-upload');
  await waitUntil(() => s.fn!.closedConnections() === 1, 'the function to see its socket closed');
  assert.equal(s.fn!.seen[0]!.isBodyComplete, false);
  assert.equal(s.legacy!.count(), 0, 'the aborted upload was sent to legacy');
  await assertBackToBaseline(s.app, before);

  // Still serving.
  assert.equal((await exchange(s.url())).body.toString(), 'function');
});

test('sends nothing anywhere when the client hangs up while its replayable PUT body is being buffered', async (t) => {
  const s = await startScenario(t, { fn: toxics.respond(200, 'function') });
  const before = baseline(s.app);

  const client = await openClient(s.port);
  await client.write(
    'PUT /api/recommend/7 HTTP/1.1\r\nHost: fnshift.test\r\nContent-Length: 100\r\n\r\n{"half":',
  );
  await waitUntil(() => s.app.inFlight === 1, 'fnshift to start on the request');
  client.abort();
  await client.closed;
  await assertBackToBaseline(s.app, before);
  assert.equal(s.fn!.count(), 0, 'a half-received body was sent to the function');
  assert.equal(s.legacy!.count(), 0, 'a half-received body was sent to legacy');
});

test('aborts the function call when the client hangs up mid-download', async (t) => {
  const s = await startScenario(t, { fn: toxics.stallAfterFirstChunk('d'.repeat(4096)) });
  const before = baseline(s.app);

  await abortMidDownload(s.port, '/api/recommend', 4096);
  await waitUntil(() => s.fn!.closedConnections() === 1, 'the function to see its socket closed');
  assert.equal(s.fn!.count(), 1);
  assert.equal(s.legacy!.count(), 0);
  await assertBackToBaseline(s.app, before);
});

test('aborts the function call when the client hangs up while the function has not answered', async (t) => {
  const s = await startScenario(t, { fn: toxics.hang(), function: { timeoutMs: 30_000 } });
  const before = baseline(s.app);

  await abortWhilePending(
    s.port,
    'POST /api/recommend HTTP/1.1\r\nHost: fnshift.test\r\nContent-Length: 2\r\n\r\n{}',
    () => s.fn!.seen[0]?.isBodyComplete === true,
  );
  await waitUntil(() => s.fn!.closedConnections() === 1, 'the function to see its socket closed');
  assert.equal(s.legacy!.count(), 0, 'the abandoned request fell back to legacy');
  await assertBackToBaseline(s.app, before);
});

test('aborts the legacy call when the client hangs up while legacy has not answered', async (t) => {
  const s = await startScenario(t, { fn: toxics.respond(200, 'function'), legacy: toxics.hang() });
  const before = baseline(s.app);

  await abortWhilePending(
    s.port,
    'GET /unrouted HTTP/1.1\r\nHost: fnshift.test\r\n\r\n',
    () => s.legacy!.count() === 1,
  );
  await waitUntil(() => s.legacy!.closedConnections() === 1, 'legacy to see its socket closed');
  assert.equal(s.fn!.count(), 0);
  await assertBackToBaseline(s.app, before);
});
