// wrk as the bench's load generator: the Lua script it runs, the JSON its done hook prints, and the
// histogram rebuilt from that JSON's quantiles so rounds can be merged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { histogramFromQuantiles, mergeEncodedHistograms } from '../../bench/latency.ts';
import { parseWrkOutput, quantileGrid, toMeasurement, wrkScript } from '../../bench/wrk.ts';

test('writes a Lua script that cycles pre-built requests and prints its result in a done hook', () => {
  const script = wrkScript([
    { path: '/api/recommend?userId=u1', headers: { 'x-user-id': 'u1' } },
    { path: '/api/recommend?q="x"', headers: { 'x-user-id': 'a\\b' } },
  ]);
  assert.match(script, /path = "\/api\/recommend\?userId=u1", headers = \{ \["x-user-id"\] = "u1" \}/);
  assert.match(script, /path = "\/api\/recommend\?q=\\"x\\""/, 'quotes are escaped');
  assert.match(script, /"a\\\\b"/, 'backslashes are escaped');
  assert.match(script, /function done\(summary, latency, requests\)/);
  assert.match(script, /latency:percentile\(99\.9\)/);
  assert.equal(quantileGrid.at(-1), 100);
  assert.ok(
    quantileGrid.every((p, i) => i === 0 || p > quantileGrid[i - 1]!),
    'the grid ascends',
  );
});

function wrkLine(quantiles: [number, number][]): string {
  const result = {
    durationUs: 2_000_000,
    requests: 10_000,
    bytes: 32_000_000,
    errors: { connect: 0, read: 1, write: 0, status: 3, timeout: 2 },
    latencyUs: { min: 100, max: 9000, mean: 800.5, p50: 700, p90: 1500, p99: 4000, p99_9: 8000 },
    quantiles,
  };
  return `Running 2s test @ http://127.0.0.1:1/\nFNSHIFT_WRK_RESULT ${JSON.stringify(result)}\n`;
}

test('reads the done hook JSON into a round: requests/s, errors apart from non-2xx, µs percentiles', () => {
  const quantiles = quantileGrid.map((p): [number, number] => [
    p,
    Math.round(100 + p * 10 + (p > 99 ? (p - 99) * 5000 : 0)),
  ]);
  const measurement = toMeasurement(parseWrkOutput(wrkLine(quantiles)));
  assert.equal(measurement.requestsPerSec, 5000);
  assert.equal(measurement.totalRequests, 10_000);
  assert.equal(measurement.errors, 3, 'read + timeout');
  assert.equal(measurement.timeouts, 2);
  assert.equal(measurement.non2xx, 3);
  assert.deepEqual(measurement.latencyMs, { p50: 0.7, p99: 4, p99_9: 8 });
  // The rebuilt histogram agrees with the quantiles it was built from (within HdrHistogram's 0.1%).
  const close = (actual: number, expected: number) => Math.abs(actual - expected) <= expected * 0.002 + 1;
  assert.ok(close(measurement.latencyUs.p50Us, 600), `p50 ${measurement.latencyUs.p50Us}`);
  assert.ok(close(measurement.latencyUs.p99Us, 1090), `p99 ${measurement.latencyUs.p99Us}`);
  assert.equal(measurement.latencyUs.count, 10_000);
  const merged = mergeEncodedHistograms([measurement.histogramUs, measurement.histogramUs]);
  assert.equal(merged.percentiles.count, 20_000);
  assert.equal(merged.percentiles.p50Us, measurement.latencyUs.p50Us);
});

test('rebuilds a histogram with every request counted once, however the quantiles round', () => {
  const rebuilt = histogramFromQuantiles(
    [
      [33.3, 10],
      [66.6, 20],
      [100, 30],
    ],
    7,
  );
  assert.equal(rebuilt.percentiles.count, 7);
  assert.equal(rebuilt.percentiles.maxUs, 30);
});

test('fails with a clear error when wrk printed no result line', () => {
  assert.throws(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused\n'), {
    code: 'FNSHIFT_BENCH_LOAD_FAILED',
  });
});
