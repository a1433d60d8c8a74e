// G4: deadlines belong to one call. A call to the function that times out must not abort another call
// in flight to the same function (opossum's shared AbortController would: #674, #892).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  assertBackToBaseline,
  baseline,
  codeOf,
  exchange,
  startScenario,
  toxics,
  waitUntil,
} from '../helpers/faults.ts';

test('one call timing out does not abort another call in flight to the same function', async (t) => {
  const body = 'b'.repeat(2048);
  const s = await startScenario(t, {
    fn: toxics.byPath(
      {
        '/api/recommend/hang': toxics.hang(),
        // Headers at once, the rest of the body well after the other call's deadline.
        '/api/recommend/slow': (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write(body.slice(0, 1024));
          waitUntil(() => s.fn!.closedConnections() >= 1, 'the hanging call to be aborted', 10_000).then(
            () => res.end(body.slice(1024)),
            () => res.destroy(),
          );
        },
      },
      toxics.respond(),
    ),
    function: { timeoutMs: 300, bodyTimeoutMs: 10_000 },
  });
  const before = baseline(s.app);

  const slow = exchange(s.url('/slow'), { method: 'POST', body: '{}' });
  await waitUntil(() => s.fn!.count() === 1, 'the slow call to start');
  const hanging = await exchange(s.url('/hang'), { method: 'POST', body: '{}' });
  assert.equal(hanging.status, 504);
  assert.equal(codeOf(hanging), 'FNSHIFT_UPSTREAM_TIMEOUT');

  const done = await slow;
  assert.equal(done.status, 200);
  assert.equal(done.isComplete, true, 'the slow call was cut when the other one timed out');
  assert.equal(done.body.toString(), body);
  assert.equal(s.legacy!.count(), 0);
  await assertBackToBaseline(s.app, before);
});
