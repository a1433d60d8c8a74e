// The fixtures: recommendation-sized bodies, a cold start, and the outage controls (fail, hang, kill, recover).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startFixture } from '../../loadtest/fixtures.ts';

async function get(
  url: string,
  timeoutMs = 2000,
): Promise<{ status: number; bytes: number; servedBy: string | null }> {
  const response = await fetch(url, {
    signal: AbortSignal.timeout(timeoutMs),
    headers: { connection: 'close' },
  });
  const body = await response.arrayBuffer();
  return { status: response.status, bytes: body.byteLength, servedBy: response.headers.get('x-served-by') };
}

test('answers the shop API with 2–30 KB bodies, behind a function base path too', {
  timeout: 15_000,
}, async (t) => {
  const fixture = await startFixture({ role: 'function', seed: 1, latency: { medianMs: 0, sigma: 0 } });
  t.after(() => fixture.stop());
  for (const size of [6, 10, 20, 40]) {
    const { status, bytes, servedBy } = await get(
      `${fixture.url}/recommend/api/recommend?scene=home&size=${size}`,
    );
    assert.equal(status, 200);
    assert.equal(servedBy, 'function');
    assert.ok(bytes >= 2 * 1024 && bytes <= 30 * 1024, `size ${size}: ${bytes} bytes`);
  }
  const item = await get(`${fixture.url}/api/item/sku-00042`);
  assert.ok(item.bytes >= 3 * 1024 && item.bytes <= 13 * 1024, `item detail: ${item.bytes} bytes`);
  const feedback = await fetch(`${fixture.url}/api/feedback`, { method: 'POST', body: '{"action":"click"}' });
  assert.equal(feedback.status, 202);
});

test('pays a cold start on its first request', { timeout: 15_000 }, async (t) => {
  const fixture = await startFixture({
    role: 'function',
    seed: 1,
    latency: { medianMs: 0, sigma: 0 },
    coldStart: { probability: 0, minMs: 200, maxMs: 250 },
  });
  t.after(() => fixture.stop());
  const started = performance.now();
  await get(`${fixture.url}/api/recommend?size=10`);
  assert.ok(performance.now() - started >= 195, 'the first request waited for the cold start');
  assert.equal((await fixture.counters())?.coldStarts, 1);
});

test('fails with 503, hangs, dies and recovers on command', { timeout: 20_000 }, async (t) => {
  const fixture = await startFixture({ role: 'function', seed: 1, latency: { medianMs: 0, sigma: 0 } });
  t.after(() => fixture.stop());
  const url = `${fixture.url}/api/recommend?size=10`;
  await fixture.fail();
  assert.equal((await get(url)).status, 503);
  await fixture.hang();
  await assert.rejects(get(url, 300), { name: 'TimeoutError' });
  await fixture.recover();
  assert.equal((await get(url)).status, 200);
  await fixture.kill();
  assert.equal(fixture.isAlive(), false);
  await assert.rejects(
    get(url),
    (error: Error) => (error.cause as { code?: string })?.code === 'ECONNREFUSED',
  );
  await fixture.recover();
  assert.equal(fixture.isAlive(), true);
  assert.equal((await get(url)).status, 200, 'a restarted fixture answers on the same port');
});
