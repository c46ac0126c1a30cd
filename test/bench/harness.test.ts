import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { timeWindow, warmUp } from '../../src/bench/harness.js';

test('a window records one sample per call, exactly --iterations without a duration', async () => {
  let calls = 0;
  const w = await timeWindow(async () => calls++, { iterations: 25, durationMs: 0 });
  assert.equal(calls, 25);
  assert.equal(w.samplesMs.length, 25);
  assert.ok(w.samplesMs.every((s) => s >= 0));
  assert.ok(w.seconds >= w.samplesMs.reduce((a, b) => a + b, 0) / 1000, 'the window lasts at least as long as its samples');
});

/** A call that takes at least `ms` by the clock (timers may fire early by the loop's cached time). */
const busy = (ms: number) => async () => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

test('a window runs until both the iterations and the duration are reached', async () => {
  const w = await timeWindow(busy(2), { iterations: 3, durationMs: 40 });
  assert.ok(w.samplesMs.length >= 3);
  assert.ok(w.seconds >= 0.04, `lasted ${w.seconds}s`);
  assert.ok(w.samplesMs.every((s) => s >= 2), 'each sample covers the whole call');
  const long = await timeWindow(busy(1), { iterations: 12, durationMs: 1 });
  assert.equal(long.samplesMs.length, 12);
});

test('progress ticks report the fraction done; warm-up runs untimed calls', async () => {
  const fractions: number[] = [];
  const w = await timeWindow(() => sleep(30), { iterations: 12, durationMs: 0 }, (f) => fractions.push(f));
  assert.ok(fractions.length >= 1 && fractions.length <= Math.ceil(w.seconds / 0.25), `${fractions.length} ticks in ${w.seconds}s: at most 4 a second`);
  assert.ok(fractions.every((f, i) => f > 0 && f <= 1 && (i === 0 || f > fractions[i - 1])));
  let calls = 0;
  await warmUp(async () => calls++, 7);
  assert.equal(calls, 7);
});
