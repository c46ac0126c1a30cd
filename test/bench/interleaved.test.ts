import assert from 'node:assert/strict';
import { test } from 'node:test';
import { interleaved } from '../../src/bench/interleaved.js';

test('interleaved runs each model once a round, the order rotated every round, after untimed warm-up runs', async () => {
  const order: number[] = [];
  const runs = [0, 1, 2].map((k) => async () => { order.push(k); });
  const { wall, cpu } = await interleaved(runs, { warmup: 2, rounds: 3 });
  assert.deepEqual(order, [0, 0, 1, 1, 2, 2, 0, 1, 2, 1, 2, 0, 2, 0, 1]);
  assert.deepEqual([wall.map((w) => w.length), cpu.map((c) => c.length)], [[3, 3, 3], [3, 3, 3]]);
  assert.ok(wall.flat().every((ms) => ms >= 0) && cpu.flat().every((ms) => ms >= 0));
});

test('with a budget it goes on past its rounds until the budget is spent, never past maxRounds', async () => {
  const sleep = () => new Promise((resolve) => setTimeout(resolve, 5));
  const budgeted = await interleaved([sleep, sleep], { warmup: 0, rounds: 2, budgetMs: 60, maxRounds: 100 });
  assert.ok(budgeted.wall[0].length > 2 && budgeted.wall[0].length < 100, `${budgeted.wall[0].length} rounds`);
  assert.ok(budgeted.wall[0].every((ms) => ms >= 4), 'each run timed on its own');
  const capped = await interleaved([sleep], { warmup: 0, rounds: 2, budgetMs: 10_000, maxRounds: 4 });
  assert.equal(capped.wall[0].length, 4);
});
