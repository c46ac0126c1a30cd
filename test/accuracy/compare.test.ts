import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type GateOptions, combineSets, compareTensors } from '../../src/accuracy/compare.js';
import { cosineSimilarity, quantileInPlace } from '../../src/accuracy/metrics.js';
import { Random } from '../../src/tensor/random.js';
import type { Dtype } from '../../src/tensor/dtype.js';
import { type Tensor, floatToHalf, halfToFloat } from '../../src/tensor/tensor.js';

const gate: GateOptions = { atol: 1e-5, rtol: 1e-3 };
const f64 = (values: number[], shape = [values.length]): Tensor => ({ dtype: 'float64', shape, data: Float64Array.from(values) });
const f32 = (values: number[], shape = [values.length]): Tensor => ({ dtype: 'float32', shape, data: Float32Array.from(values) });
const tensor = (dtype: Dtype, data: Tensor['data'], shape = [data.length]): Tensor => ({ dtype, shape, data });

test('an element passes when |a-e| <= atol + rtol*|e|, and fails just beyond', () => {
  // allowed: 1e-5 + 1e-3*100 = 0.10001 for the second element, 1e-5 for the zero
  const expected = f64([0, 100, -3]);
  const inside = compareTensors('y', expected, f64([1e-5, 100.1, -3]), gate);
  assert.equal(inside.passed, true);
  assert.equal(inside.mismatches, 0);
  assert.ok(Math.abs(inside.maxAbsError - 0.1) < 1e-12);
  assert.ok(Math.abs(inside.maxRelError - 0.001) < 1e-12);

  const beyond = compareTensors('y', expected, f64([2e-5, 100.2, -3]), gate);
  assert.equal(beyond.passed, false);
  assert.equal(beyond.mismatches, 2);
  assert.deepEqual(beyond.failures, ['2 of 3 elements beyond atol 1e-5 + rtol 1e-3·|expected|']);
  // the zero element is 2x its tolerance, the 100 one ~2x: both listed, the furthest out first
  assert.deepEqual(beyond.worst.map((w) => w.index), [[0], [1]]);
  assert.ok(Math.abs(beyond.meanAbsError - (2e-5 + 0.2) / 3) < 1e-12);
});

test("atol as a share of the range: the output's range, or its |value| when it has one value (a 1-element probability)", () => {
  const share: GateOptions = { atol: { ofRange: 0.01 }, rtol: 0.01 };
  // range 0.4: atol 0.004, plus 1 % of |e|
  assert.equal(compareTensors('p', f64([0.1, 0.5]), f64([0.1, 0.5 + 0.0089]), share).atol, 0.004);
  // one value 0.5: atol 0.005 (it was 0: only rtol judged it), so 0.5 -> 0.509 passes and 0.5 -> 0.511 fails
  const one = compareTensors('p', f64([0.5], [1, 1]), f64([0.509], [1, 1]), share);
  assert.deepEqual([one.atol, one.passed], [0.005, true]);
  assert.equal(compareTensors('p', f64([0.5], [1, 1]), f64([0.511], [1, 1]), share).passed, false);
  assert.equal(compareTensors('p', f64([-2, -2, NaN]), f64([-2.03, -2, NaN]), share).atol, 0.02, 'all finite values equal, a NaN aside');
});

test('NaN equals NaN and an infinity itself; either against anything else fails', () => {
  const expected = f32([NaN, Infinity, -Infinity, 1]);
  const same = compareTensors('y', expected, f32([NaN, Infinity, -Infinity, 1]), gate);
  assert.equal(same.passed, true);
  assert.equal(same.maxAbsError, 0);

  const differ = compareTensors('y', expected, f32([1, -Infinity, -Infinity, NaN]), gate);
  assert.equal(differ.passed, false);
  assert.equal(differ.mismatches, 3);
  assert.equal(differ.maxAbsError, Infinity);
  assert.equal(differ.maxRelError, Infinity);
  assert.match(differ.failures[0], /^3 of 4 elements beyond .*\(3 NaN or infinite against a different value\)$/);
  assert.deepEqual(differ.worst.map((w) => w.index[0]).sort(), [0, 1, 3]);
});

test('fp16 outputs arrive as Uint16Array bits and are compared as their values', () => {
  const bits = Uint16Array.from([1, 2.001, -0.5], floatToHalf);
  const result = compareTensors('y', f32([1, 2, -0.5]), tensor('float16', bits), gate);
  // fp16 steps by 2^-9 near 2: 2.001 is stored as 2.001953125, within 1e-5 + 1e-3*2
  assert.equal(halfToFloat(bits[1]), 2.001953125);
  assert.equal(result.dtype, 'float16');
  assert.equal(result.maxAbsError, 0.001953125);
  assert.equal(result.passed, true);
  assert.deepEqual(result.worst, [{ index: [1], expected: 2, actual: 2.001953125 }]);
});

test('integers compare exactly, beyond 2^53 too, whatever the tolerance', () => {
  const big = 2n ** 53n;
  const result = compareTensors('ids', tensor('int64', BigInt64Array.from([big, 7n])), tensor('int64', BigInt64Array.from([big + 1n, 7n])), { atol: 10, rtol: 1 });
  assert.equal(result.passed, false);
  assert.equal(result.exact, true);
  assert.deepEqual([result.atol, result.rtol], [0, 0]);
  assert.equal(result.mismatches, 1);
  assert.deepEqual(result.worst, [{ index: [0], expected: '9007199254740992', actual: '9007199254740993' }]);
  assert.deepEqual(result.failures, ['1 of 2 elements differ (compared exactly)']);
  // int32 against int64 holding the same values is equal
  assert.equal(compareTensors('ids', tensor('int32', Int32Array.from([3, -4])), tensor('int64', BigInt64Array.from([3n, -4n])), gate).passed, true);
});

test('booleans and strings compare exactly and have no cosine', () => {
  const bools = compareTensors('mask', tensor('bool', Uint8Array.from([1, 0, 1])), tensor('bool', Uint8Array.from([1, 1, 1])), gate);
  assert.deepEqual([bools.passed, bools.mismatches, bools.cosine, bools.maxAbsError], [false, 1, null, 1]);
  const strings = compareTensors('y', tensor('string', ['monday', 'tuesday']), tensor('string', ['monday', 'Tuesday']), gate);
  assert.deepEqual([strings.passed, strings.mismatches, strings.cosine], [false, 1, null]);
  assert.deepEqual(strings.worst, [{ index: [1], expected: 'tuesday', actual: 'Tuesday' }]);
  assert.equal(compareTensors('y', tensor('string', ['a']), tensor('string', ['a']), gate).passed, true);
});

test('cosine of the flattened tensors, and --min-cosine fails an output below it', () => {
  assert.equal(cosineSimilarity(Float64Array.from([1, 0]), Float64Array.from([0, 1])), 0);
  assert.equal(cosineSimilarity(Float64Array.from([0, 0]), Float64Array.from([0, 0])), 1);
  assert.ok(Math.abs(cosineSimilarity(Float64Array.from([1, 2, 3]), Float64Array.from([2, 4, 6])) - 1) < 1e-15);
  // [1, 1] against [1, 1.2]: cos = 2.2 / (sqrt(2) * sqrt(2.44)) = 0.995893...
  const result = compareTensors('emb', f64([1, 1]), f64([1, 1.2]), { atol: 1, rtol: 0, minCosine: 0.999 });
  assert.ok(Math.abs(result.cosine! - 2.2 / Math.sqrt(2 * 2.44)) < 1e-15);
  assert.deepEqual(result.failures, ['cosine 0.99589 < 0.999']);
});

test('cosine is scale-free: float64 values whose squares overflow or underflow', () => {
  // [1e200, 2e200]: squares overflow to Infinity, Infinity/Infinity was NaN and failed --min-cosine
  const huge = f64([1e200, 2e200]);
  assert.equal(cosineSimilarity(huge.data as Float64Array, huge.data as Float64Array), 1);
  const same = compareTensors('y', huge, f64([1e200, 2e200]), { atol: 0, rtol: 0, minCosine: 0.999 });
  assert.deepEqual([same.cosine, same.passed, same.failures], [1, true, []]);
  // opposite second elements, squares below 1e-308 underflowed to 0 and the cosine read 1:
  // (0.5·0.5 - 1·1) / (0.5² + 1²) = -0.6 on the values divided by their largest magnitude
  const tiny = compareTensors('y', f64([1e-200, 2e-200]), f64([1e-200, -2e-200]), { atol: 1, rtol: 0, minCosine: 0.999 });
  assert.equal(tiny.cosine, -0.6);
  assert.deepEqual([tiny.mismatches, tiny.passed, tiny.failures], [0, false, ['cosine -0.6 < 0.999']]);
});

test('top-1 and top-k agreement on class axes, gated by --min-top1', () => {
  // two rows of 4 classes: row 0 keeps its order, row 1 swaps its top two
  const expected = f32([0.1, 0.7, 0.15, 0.05, 0.5, 0.3, 0.1, 0.1], [2, 4]);
  const actual = f32([0.1, 0.7, 0.15, 0.05, 0.3, 0.5, 0.1, 0.1], [2, 4]);
  const result = compareTensors('logits', expected, actual, { atol: 1, rtol: 0, topK: 2, minTop1: 0.9 });
  assert.equal(result.top1Agreement, 0.5);
  assert.equal(result.topKAgreement, 1); // the same two classes lead both rows
  assert.deepEqual(result.failures, ['top-1 agreement 0.5 < 0.9']);
  const top3 = compareTensors('logits', expected, f32([0.1, 0.7, 0.05, 0.15, 0.5, 0.3, 0.1, 0.1], [2, 4]), { ...gate, topK: 3 });
  // row 0's top 3 go from {1, 2, 0} to {1, 3, 0}: 2 of 3 kept; row 1 is unchanged
  assert.equal(top3.top1Agreement, 1);
  assert.ok(Math.abs(top3.topKAgreement! - (2 / 3 + 1) / 2) < 1e-12);
  // hidden states [batch, seq, features] are not a class axis; a name like logits makes rank 3 one
  assert.equal(compareTensors('hidden', f32([1, 2, 3, 4], [1, 2, 2]), f32([1, 2, 3, 4], [1, 2, 2]), gate).top1Agreement, null);
  assert.equal(compareTensors('token_logits', f32([1, 2, 3, 4], [1, 2, 2]), f32([1, 2, 3, 4], [1, 2, 2]), gate).top1Agreement, 1);
});

test('the error quantile is nearest-rank over |a-e|', () => {
  const expected = f64(Array.from({ length: 100 }, () => 0));
  const actual = f64(Array.from({ length: 100 }, (_, i) => i + 1));
  assert.equal(compareTensors('y', expected, actual, { ...gate, quantile: 0.99 }).quantileError, 99);
  assert.equal(compareTensors('y', expected, actual, { ...gate, quantile: 0.5 }).quantileError, 50);
  assert.equal(compareTensors('y', expected, actual, { ...gate, quantile: 1 }).quantileError, 100);
});

test('the quantile selection agrees with a full sort, duplicates and odd sizes included', () => {
  const random = new Random(7);
  for (const size of [1, 2, 3, 10, 101, 1000]) {
    for (const q of [0, 0.25, 0.5, 0.99, 1]) {
      const values = Float64Array.from({ length: size }, () => random.int(0, 20));
      const sorted = Float64Array.from(values).sort();
      const rank = Math.min(size - 1, Math.max(0, Math.ceil(q * size) - 1));
      assert.equal(quantileInPlace(values, q), sorted[rank], `size ${size}, q ${q}`);
    }
  }
});

test('per-output tolerances override the global ones', () => {
  const result = compareTensors('logits', f64([1]), f64([1.01]), { ...gate, perOutput: { logits: { atol: 0.02 } } });
  assert.deepEqual([result.passed, result.atol, result.rtol], [true, 0.02, 1e-3]);
});

test('shapes and dtype kinds that disagree are input errors naming the output', () => {
  assert.throws(() => compareTensors('logits', f32([1, 2]), f32([1, 2], [1, 2]), gate), {
    kind: 'shape-mismatch', message: "output 'logits': expected shape [2] but the model produced [1, 2]",
  });
  assert.throws(() => compareTensors('ids', tensor('int64', BigInt64Array.from([1n])), f32([1]), gate), {
    kind: 'dtype-mismatch', message: "output 'ids': expected int64 but the model produced float32",
  });
  assert.throws(() => compareTensors('q', tensor('int4', Uint8Array.from([1])), tensor('int4', Uint8Array.from([1])), gate), {
    kind: 'unsupported-type', message: "output 'q' is int4, which tdeploy cannot compare",
  });
});

test('empty outputs pass with zero errors', () => {
  const result = compareTensors('y', f32([], [0, 3]), f32([], [0, 3]), gate);
  assert.deepEqual([result.passed, result.maxAbsError, result.meanAbsError, result.quantileError, result.cosine], [true, 0, 0, 0, 1]);
});

test('several input sets combine into the worst of each metric', () => {
  const a = compareTensors('y', f64([1, 2]), f64([1, 2.5]), gate);
  const b = compareTensors('y', f64([1, 2]), f64([1.001, 2]), gate);
  const both = combineSets([a, b]);
  assert.equal(both.maxAbsError, 0.5);
  assert.equal(both.meanAbsError, 0.25);
  assert.equal(both.mismatches, 1 + 0); // 0.001 <= 1e-5 + 1e-3 passes
  assert.equal(both.elements, 4);
  assert.equal(both.passed, false);
  assert.deepEqual(both.failures, ['set 0: 1 of 2 elements beyond atol 1e-5 + rtol 1e-3·|expected|']);
  assert.deepEqual(both.worst.map((w) => [w.set, w.index[0]]), [[0, 1], [1, 0]]);
});

test("a one-value output (a probability) is judged on the relative error its cosine gate allows, not on its sign", () => {
  const int8: GateOptions = { atol: Infinity, rtol: 0, minCosine: 0.99 };
  // √(2 × 0.01) = 0.1414: 0.5 → 0.57 is 14 % off and passes, 0.5 → 0.71 (the wake-word model's INT8 move) fails
  const near = compareTensors('p', f32([0.5], [1, 1]), f32([0.57], [1, 1]), int8);
  assert.deepEqual([near.cosine, near.passed], [1, true]);
  const far = compareTensors('p', f32([0.5], [1, 1]), f32([0.71], [1, 1]), int8);
  assert.deepEqual([far.cosine, far.passed], [1, false]);
  assert.deepEqual(far.failures, ['one value: relative error 0.42 > 0.1414, what cosine ≥ 0.99 allows']);
  // a sign flip was already a cosine of -1; two values are a direction the cosine judges
  assert.deepEqual(compareTensors('p', f32([0.5]), f32([-0.5]), int8).failures, ['cosine -1 < 0.99']);
  assert.equal(compareTensors('p', f32([0.5, 0.5]), f32([0.71, 0.71]), int8).passed, true);
});
