import assert from 'node:assert/strict';
import { test } from 'node:test';
import { labelModels } from '../../src/bench/bench.js';
import { feedsFor } from '../../src/bench/inputs.js';
import { batchDims, batchOf, benchCases, formatShapes } from '../../src/bench/sweep.js';
import type { TensorInfo } from '../../src/onnx/signature.js';
import { halfToFloat } from '../../src/tensor/tensor.js';

const encoder: TensorInfo[] = [
  { name: 'input_ids', dtype: 'int64', shape: ['batch', 'seq'] },
  { name: 'attention_mask', dtype: 'int64', shape: ['batch', 'seq'] },
];

test('--batch and a --dim list sweep every combination, batch outermost when given first', () => {
  const cases = benchCases(encoder, { shapes: {}, dims: { seq: [16, 32] } }, [1, 8]);
  assert.deepEqual(cases.map((c) => [c.batch, formatShapes(c.shapes)]), [
    [1, 'input_ids:1x16 attention_mask:1x16'],
    [1, 'input_ids:1x32 attention_mask:1x32'],
    [8, 'input_ids:8x16 attention_mask:8x16'],
    [8, 'input_ids:8x32 attention_mask:8x32'],
  ]);
  assert.deepEqual(cases.map((c) => c.defaulted), [[], [], [], []]);
  const plain = benchCases(encoder, { shapes: {}, dims: {} });
  assert.deepEqual(plain.map((c) => [c.batch, c.defaulted]), [[1, ['batch=1', 'seq=16']]]);
});

test('the batch comes from the batch-like dim, also under --shape; 1 without one', () => {
  const cases = benchCases(encoder, { shapes: { input_ids: [4, 10], attention_mask: [4, 10] }, dims: {} });
  assert.equal(cases[0].batch, 4);
  const image: TensorInfo[] = [{ name: 'image', dtype: 'float32', shape: ['N', 3, 32, 32] }];
  assert.deepEqual(batchDims(image), ['N']);
  assert.equal(batchOf(image, { image: [5, 3, 32, 32] }), 5);
  assert.equal(batchOf([{ name: 'x', dtype: 'float32', shape: ['tokens', 8] }], { x: [7, 8] }), 1);
});

test('a batch on a model without a batch-like dim, or together with --dim batch, is a usage error', () => {
  const fixed: TensorInfo[] = [{ name: 'x', dtype: 'float32', shape: ['tokens', 8] }];
  assert.throws(() => benchCases(fixed, { shapes: {}, dims: {} }, [2]), (e: Error & { exitCode?: number; hint?: string }) =>
    e.exitCode === 2 && /no batch-like symbolic dimension/.test(e.message) && e.hint === 'sweep one of its symbolic dims with `dims`, e.g. `dims: tokens=2`');
  assert.throws(() => benchCases(encoder, { shapes: {}, dims: { batch: [2] } }, [2]), /`batch` and `dims: batch` both set/);
});

test('labels: file names, paths where names collide, #n for a model given twice', () => {
  assert.deepEqual(labelModels(['a/model.onnx', 'b/model.onnx', 'm.fp16.onnx', 'a/model.onnx']), ['a/model.onnx', 'b/model.onnx', 'm.fp16.onnx', 'a/model.onnx#2']);
  assert.deepEqual(labelModels(['x.onnx', 'y.onnx'], ['fp32', 'fp16']), ['fp32', 'fp16']);
  assert.throws(() => labelModels(['x.onnx'], ['a', 'b']), /2 label\(s\) for 1 model/);
  assert.throws(() => labelModels(['x.onnx', 'y.onnx'], ['a', 'a']), /'a' is given twice/);
});

test('a float16 model gets the same values as the float32 model, converted', () => {
  const feeds = new Map([['x', { dtype: 'float32' as const, shape: [1, 3], data: Float32Array.from([0.5, -2, 1 / 3]) }]]);
  const fp16 = feedsFor([{ name: 'x', dtype: 'float16', shape: ['batch', 3] }], feeds, 'm.fp16.onnx').get('x')!;
  assert.equal(fp16.dtype, 'float16');
  assert.deepEqual([...(fp16.data as Uint16Array)].map(halfToFloat), [0.5, -2, 0.333251953125]);
  assert.equal(feedsFor([{ name: 'x', dtype: 'float32', shape: ['batch', 3] }], feeds, 'same.onnx').get('x'), feeds.get('x'), 'same dtype: the same tensor');
  assert.throws(() => feedsFor([{ name: 'y', dtype: 'float32', shape: [1] }], feeds, 'other.onnx'), /other\.onnx takes an input 'y' that the first model of the run does not/);
  assert.throws(() => feedsFor([{ name: 'x', dtype: 'int64', shape: [1, 3] }], feeds, 'ints.onnx'), /'x' is float32 but the model expects int64/);
});
