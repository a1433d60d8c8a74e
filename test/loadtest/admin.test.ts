// Reading fnshift's /metrics text in the load test: histogram buckets summed over series, the quantile
// bucket between two scrapes, and lines that are not what they should be.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bucketQuantile, histogramBuckets, metricValue } from '../../loadtest/admin.ts';

const scrape = (fast: number[], slow: number[]) =>
  [
    '# HELP fnshift_overhead_seconds Time fnshift itself spent on a request.',
    '# TYPE fnshift_overhead_seconds histogram',
    `fnshift_overhead_seconds_bucket{le="0.00001",route="a",target="legacy"} ${fast[0]}`,
    `fnshift_overhead_seconds_bucket{le="0.0001",route="a",target="legacy"} ${fast[1]}`,
    `fnshift_overhead_seconds_bucket{le="+Inf",route="a",target="legacy"} ${fast[2]}`,
    `fnshift_overhead_seconds_sum{route="a",target="legacy"} 0.01`,
    `fnshift_overhead_seconds_count{route="a",target="legacy"} ${fast[2]}`,
    `fnshift_overhead_seconds_bucket{le="0.00001",route="b",target="function"} ${slow[0]}`,
    `fnshift_overhead_seconds_bucket{le="0.0001",route="b",target="function"} ${slow[1]}`,
    `fnshift_overhead_seconds_bucket{le="+Inf",route="b",target="function"} ${slow[2]}`,
    'fnshift_overhead_seconds_bucket_extra{le="0.5"} 99',
    'http_server_request_duration_seconds_bucket{le="0.005",route="a"} 1000',
  ].join('\n');

test('sums a histogram’s buckets over its series, sorted by bound, +Inf last', () => {
  assert.deepEqual(histogramBuckets(scrape([1, 5, 6], [0, 2, 4]), 'fnshift_overhead_seconds'), [
    { le: 0.00001, count: 1 },
    { le: 0.0001, count: 7 },
    { le: Number.POSITIVE_INFINITY, count: 10 },
  ]);
});

test('finds the bucket of a quantile among the observations between two scrapes', () => {
  const before = histogramBuckets(scrape([1, 5, 6], [0, 2, 4]), 'fnshift_overhead_seconds');
  // 100 new observations: 90 at most 10 µs, 9 more by 100 µs, one above.
  const after = histogramBuckets(scrape([91, 104, 106], [0, 2, 4]), 'fnshift_overhead_seconds');
  assert.equal(bucketQuantile(before, after, 0.5), 0.00001);
  assert.equal(bucketQuantile(before, after, 0.99), 0.0001);
  assert.equal(bucketQuantile(before, after, 1), Number.POSITIVE_INFINITY);
  assert.equal(bucketQuantile(after, after, 0.5), undefined, 'nothing observed in between');
  assert.equal(bucketQuantile([], after, 0.5), 0.00001, 'a first scrape counts from zero');
});

test('skips garbage instead of throwing or counting it', () => {
  const garbage = [
    'fnshift_overhead_seconds_bucket{le="abc",route="a"} 5',
    'fnshift_overhead_seconds_bucket{le="0.001",route="a"} not-a-number',
    'fnshift_overhead_seconds_bucket{route="a"} 3',
    'fnshift_overhead_seconds_bucket{le="0.001"',
    '\u0000\uffff{}{}',
    '',
    'fnshift_overhead_seconds_bucket{le="0.001",route="a"} 2',
  ].join('\n');
  assert.deepEqual(histogramBuckets(garbage, 'fnshift_overhead_seconds'), [{ le: 0.001, count: 2 }]);
  assert.deepEqual(histogramBuckets('', 'fnshift_overhead_seconds'), []);
  assert.equal(bucketQuantile([], [], 0.99), undefined);
  assert.equal(metricValue(garbage, 'fnshift_overhead_seconds_bucket', { le: '0.001' }), 2);
});
