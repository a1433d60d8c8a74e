// The rollout windows a worker ships to the primary: what one process counted, merged into another's,
// gives the same gate inputs as if one process had counted everything.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createWindows } from '../../src/rollout/window.ts';
import { type AttemptEvent, channels } from '../../src/telemetry/events.ts';

function attempt(target: 'function' | 'legacy', statusCode: number, durationMs: number): AttemptEvent {
  return {
    request: { route: 'recommend' } as AttemptEvent['request'],
    target,
    upstreamName: target === 'function' ? 'recommend' : 'legacy',
    origin: 'http://127.0.0.1:1',
    method: 'GET',
    path: '/api/recommend',
    resendCount: 0,
    headers: [],
    startMs: 0,
    outcome: 'relayed',
    statusCode,
    errorCode: undefined,
    durationMs,
  };
}

test('a shipped window merged elsewhere gives the counts and p99 of one window that saw it all', (t) => {
  const worker = createWindows();
  const single = createWindows();
  t.after(() => {
    worker.stop();
    single.stop();
  });
  // Both subscribe to the same channel, so both see every event: `single` is the reference.
  for (let i = 1; i <= 200; i++)
    channels.attemptEnd.publish(attempt('function', i % 20 === 0 ? 503 : 200, i));
  for (let i = 1; i <= 50; i++) channels.attemptEnd.publish(attempt('legacy', 200, i * 2));

  const shipment = worker.ship();
  assert.ok(shipment);
  assert.equal(worker.ship(), undefined, 'a ship starts fresh windows');

  const primary = createWindows();
  t.after(() => primary.stop());
  primary.merge(shipment);
  primary.merge(shipment);
  const merged = primary.take('recommend');
  const reference = single.take('recommend');
  assert.equal(merged.functionRequests, reference.functionRequests * 2);
  assert.equal(merged.functionFailures, 20);
  assert.equal(merged.functionSuccessPercent, reference.functionSuccessPercent);
  assert.equal(merged.legacyRequests, 100);
  // Two copies of the same distribution have the same percentiles.
  assert.equal(merged.functionP99Ms, reference.functionP99Ms);
  assert.equal(merged.legacyP99Ms, reference.legacyP99Ms);
});
