import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Window } from '../../src/bench/harness.js';
import { isStable, measureWindows } from '../../src/bench/stability.js';

/** A window of `n` samples all equal to `ms`, lasting `seconds`. */
const window = (ms: number, n = 10, seconds = (ms * n) / 1000): Window => ({ samplesMs: Array(n).fill(ms), seconds });

test('stable when p50 and throughput of the last 3 windows are within the percentage', () => {
  assert.equal(isStable([window(1.0), window(1.05), window(1.09)], 10), true);
  assert.equal(isStable([window(1.0), window(1.05), window(1.11)], 10), false, 'p50 spread 11%');
  assert.equal(isStable([window(1), window(1)], 10), false, 'fewer than 3 windows');
  // same p50, but the third window took twice the wall time: throughput disagrees
  assert.equal(isStable([window(1), window(1), window(1, 10, 0.02)], 10), false);
  assert.equal(isStable([window(5), window(1), window(1), window(1)], 1), true, 'only the last 3 count');
});

test('windows are measured until 3 in a row agree, and the result is made of those 3', async () => {
  const p50s = [3, 1, 2, 1.0, 1.02, 1.01, 9];
  let calls = 0;
  const measured = await measureWindows(async () => window(p50s[calls++]), { percent: 5, maxWindows: 10 });
  assert.equal(measured.stable, true);
  assert.equal(measured.measured, 6);
  assert.deepEqual(measured.windows.map((w) => w.samplesMs[0]), [1.0, 1.02, 1.01]);
});

test('max windows reached: not stable, the last 3 windows reported', async () => {
  let calls = 0;
  const measured = await measureWindows(async () => window(++calls), { percent: 5, maxWindows: 4 });
  assert.equal(measured.stable, false);
  assert.equal(measured.measured, 4);
  assert.deepEqual(measured.windows.map((w) => w.samplesMs[0]), [2, 3, 4]);
});

test('without a criterion, one window', async () => {
  let calls = 0;
  const measured = await measureWindows(async () => window(++calls));
  assert.deepEqual({ stable: measured.stable, measured: measured.measured, n: measured.windows.length }, { stable: true, measured: 1, n: 1 });
});
