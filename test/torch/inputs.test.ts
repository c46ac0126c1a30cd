import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../../src/errors.js';
import { exampleShapes, generateExamples, parseInputSpec, specsFromExamples } from '../../src/torch/inputs.js';
import type { TensorMap } from '../../src/tensor/tensor.js';

test('--input parses names, dtypes, fixed and symbolic dims, and scalars', () => {
  assert.deepEqual(parseInputSpec('input_ids:int64:batch,seq'), { name: 'input_ids', dtype: 'int64', dims: ['batch', 'seq'] });
  assert.deepEqual(parseInputSpec('image:float32:batch,3,224,224'), { name: 'image', dtype: 'float32', dims: ['batch', 3, 224, 224] });
  assert.deepEqual(parseInputSpec('scale:float32:'), { name: 'scale', dtype: 'float32', dims: [] });
});

test('--input refuses what cannot become an ONNX input', () => {
  const cases: [string, RegExp][] = [
    ['input_ids:int64', /expected name:dtype:dims/],
    ['a:b:c:d', /expected name:dtype:dims/],
    ['x:complex64:2', /dtype 'complex64' is not one of float32, float16/],
    ['x:float32:0,3', /dim '0' is neither a positive size nor a symbolic name/],
    ['x:float32:batch,-1', /dim '-1'/],
    ['x:float32:2x3', /dim '2x3'/],
    ['1x:float32:2', /'1x' is not a usable tensor name/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseInputSpec(text), (e: unknown) => e instanceof InputError && e.exitCode === 2 && message.test(e.message), text);
  }
});

test('example shapes: batch-like dims 2, other symbolic dims 16 as in every command, --example-dim wins', () => {
  const specs = ['input_ids:int64:batch,seq', 'pixel:float32:N,3,height,width'].map(parseInputSpec);
  const shapes = exampleShapes(specs, { width: 5 });
  assert.deepEqual(shapes.get('input_ids'), [2, 16]);
  assert.deepEqual(shapes.get('pixel'), [2, 3, 16, 5]);
  assert.throws(() => exampleShapes(specs, { sequence: 4 }), /`exampleDims: sequence`: no `inputs` has a symbolic dim 'sequence'/);
});

test('generated examples are deterministic: integers in 0..99, floats standard normal', () => {
  const specs = ['ids:int64:batch,seq', 'x:float32:batch,1000'].map(parseInputSpec);
  const a = generateExamples(specs, { seq: 50 });
  const b = generateExamples(specs, { seq: 50 });
  assert.deepEqual(a.get('ids')!.shape, [2, 50]);
  assert.deepEqual([...(a.get('ids')!.data as BigInt64Array)], [...(b.get('ids')!.data as BigInt64Array)]);
  const ids = [...(a.get('ids')!.data as BigInt64Array)].map(Number);
  assert.ok(ids.every((v) => v >= 0 && v < 100));
  assert.ok(new Set(ids).size > 30, 'spread over the range');
  const x = [...(a.get('x')!.data as Float32Array)];
  const mean = x.reduce((s, v) => s + v, 0) / x.length;
  const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
  assert.ok(Math.abs(mean) < 0.1 && Math.abs(variance - 1) < 0.1, `mean ${mean}, variance ${variance}`);
});

test('example inputs from a file: checked against --input, or they define the inputs', () => {
  const tensors: TensorMap = new Map([
    ['ids', { dtype: 'int64', shape: [3, 7], data: new BigInt64Array(21) }],
    ['mask', { dtype: 'int64', shape: [3, 7], data: new BigInt64Array(21) }],
  ]);
  const declared = ['ids:int64:batch,seq', 'mask:int64:batch,seq'].map(parseInputSpec);
  assert.equal(specsFromExamples(declared, tensors, 'x.npz'), declared);
  assert.deepEqual(specsFromExamples([], tensors, 'x.npz'), [
    { name: 'ids', dtype: 'int64', dims: [3, 7] },
    { name: 'mask', dtype: 'int64', dims: [3, 7] },
  ]);
  assert.throws(() => specsFromExamples([parseInputSpec('ids:int32:batch,seq')], tensors, 'x.npz'), /'ids' is int64 but the model expects int32/);
  assert.throws(() => specsFromExamples([parseInputSpec('ids:int64:batch,4')], tensors, 'x.npz'), /'ids' has shape \[3, 7\] but the model expects \[batch, 4\]/);
  assert.throws(() => specsFromExamples([parseInputSpec('tokens:int64:batch')], tensors, 'x.npz'), /has no tensor for input 'tokens'/);
});
