import assert from 'node:assert/strict';
import { test } from 'node:test';
import { median, percentile, summarize } from '../../src/bench/stats.js';
import { python, skipWithoutPython } from '../helpers.js';

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} != ${expected}`);

test('four samples: interpolated percentiles, sample standard deviation', () => {
  const s = summarize([4, 1, 3, 2]);
  assert.equal(s.mean, 2.5);
  close(s.std, Math.sqrt(5 / 3), 'std');
  assert.equal(s.min, 1);
  assert.equal(s.max, 4);
  close(s.p50, 2.5, 'p50');
  close(s.p90, 3.7, 'p90');
  close(s.p95, 3.85, 'p95');
  close(s.p99, 3.97, 'p99');
});

test('1..100: the percentiles numpy.percentile gives', () => {
  const s = summarize(Array.from({ length: 100 }, (_, i) => 100 - i));
  close(s.p50, 50.5, 'p50');
  close(s.p90, 90.1, 'p90');
  close(s.p95, 95.05, 'p95');
  close(s.p99, 99.01, 'p99');
  close(s.mean, 50.5, 'mean');
  close(s.std, Math.sqrt((100 * 101) / 12), 'std');
});

test('one sample: every statistic is that sample, std 0', () => {
  assert.deepEqual(summarize([7.25]), { mean: 7.25, std: 0, min: 7.25, p50: 7.25, p90: 7.25, p95: 7.25, p99: 7.25, max: 7.25 });
});

test('percentile ends are min and max; no samples is an error', () => {
  assert.equal(percentile([1, 5, 9], 0), 1);
  assert.equal(percentile([1, 5, 9], 100), 9);
  assert.equal(percentile([1, 5, 9], 25), 3);
  assert.throws(() => summarize([]), RangeError);
});

test('median: samples in any order, the middle two averaged for an even count', () => {
  const samples = [4, 1, 3, 2];
  assert.equal(median(samples), 2.5);
  assert.deepEqual(samples, [4, 1, 3, 2], 'the samples are left in their order');
  assert.equal(median([9, 1, 5]), 5);
});

test('a skewed latency distribution agrees with numpy', { skip: skipWithoutPython(['numpy']) }, () => {
  const samples = Array.from({ length: 999 }, (_, i) => 0.08 + ((i * 7919) % 997) / 10000 + (i % 50 === 0 ? 5 : 0));
  const numpy = JSON.parse(python(['numpy'], [
    'import json, sys, numpy',
    'x = numpy.array(json.loads(sys.argv[1]))',
    'print(json.dumps([x.mean(), x.std(ddof=1), *numpy.percentile(x, [50, 90, 95, 99])]))',
  ].join('\n'), [JSON.stringify(samples)]));
  const s = summarize(samples);
  [s.mean, s.std, s.p50, s.p90, s.p95, s.p99].forEach((v, i) => close(v, numpy[i], ['mean', 'std', 'p50', 'p90', 'p95', 'p99'][i]));
});
