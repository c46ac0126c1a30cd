import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../../src/errors.js';
import type { TensorInfo } from '../../src/onnx/signature.js';
import { checkInputs, generateInputs, generatedRoles } from '../../src/runtime/inputs.js';
import { resolveShapes, sweep } from '../../src/runtime/shapes.js';

const inputs: TensorInfo[] = [
  { name: 'input_ids', dtype: 'int64', shape: ['batch', 'seq'] },
  { name: 'pixel', dtype: 'float32', shape: [null, 3, 'height', 8] },
];

test('symbolic dims default to 1 when batch-like, else 16, and the defaults are reported', () => {
  const { shapes, defaulted } = resolveShapes(inputs, { shapes: {}, dims: { seq: [32] } });
  assert.deepEqual(shapes.get('input_ids'), [1, 32]);
  assert.deepEqual(shapes.get('pixel'), [1, 3, 16, 8]);
  assert.deepEqual(defaulted, ['batch=1', 'pixel[0]=1', 'height=16']);
});

test('a leading symbolic dim is the batch whatever its name, wherever else it appears', () => {
  const paddle: TensorInfo[] = [
    { name: 'x', dtype: 'float32', shape: ['p2o.DynamicDimension.0', 3, 'p2o.DynamicDimension.1', 'p2o.DynamicDimension.2'] },
    { name: 'mask', dtype: 'float32', shape: [1, 'p2o.DynamicDimension.0'] },
  ];
  const { shapes, defaulted } = resolveShapes(paddle, { shapes: {}, dims: {} });
  assert.deepEqual(shapes.get('x'), [1, 3, 16, 16]);
  assert.deepEqual(shapes.get('mask'), [1, 1]);
  assert.deepEqual(defaulted, ['p2o.DynamicDimension.0=1', 'p2o.DynamicDimension.1=16', 'p2o.DynamicDimension.2=16']);
});

test('--shape fixes one input; --dim applies wherever the name appears; sweeps pick by index', () => {
  const spec = { shapes: { pixel: [4, 3, 10, 8] }, dims: { batch: [1, 8, 32], seq: [128] } };
  assert.deepEqual(resolveShapes(inputs, spec, 2).shapes.get('input_ids'), [32, 128]);
  assert.deepEqual(resolveShapes(inputs, spec, 2).shapes.get('pixel'), [4, 3, 10, 8]);
  assert.deepEqual(sweep(spec).map((s) => s.dims.batch[0]), [1, 8, 32]);
});

test('shape specs that do not fit the model are input errors naming the problem', () => {
  const none = { shapes: {}, dims: {} };
  assert.throws(() => resolveShapes(inputs, { ...none, shapes: { nope: [1] } }), /`shapes` names 'nope', which is not an input/);
  assert.throws(() => resolveShapes(inputs, { ...none, shapes: { input_ids: [1, 2, 3] } }), /rank 3 but the model's input is \[batch, seq\]/);
  assert.throws(() => resolveShapes(inputs, { ...none, shapes: { pixel: [1, 4, 2, 8] } }), /dim 1 is fixed to 3 in the model, not 4/);
  assert.throws(() => resolveShapes(inputs, { ...none, dims: { width: [3] } }), /no symbolic dimension 'width'.*/);
});

test('generated inputs are deterministic, in range and of the right dtype', () => {
  const shapes = new Map([['input_ids', [2, 5]], ['pixel', [1, 3, 2, 8]]]);
  const a = generateInputs(inputs, shapes, { seed: 7, intRange: [10, 20] });
  const b = generateInputs(inputs, shapes, { seed: 7, intRange: [10, 20] });
  const ids = a.get('input_ids')!.data as BigInt64Array;
  assert.equal(ids.length, 10);
  assert.ok(ids.every((v) => v >= 10n && v < 20n));
  assert.deepEqual(Array.from(ids), Array.from(b.get('input_ids')!.data as BigInt64Array));
  const pixel = a.get('pixel')!.data as Float32Array;
  const mean = pixel.reduce((s, v) => s + v, 0) / pixel.length;
  assert.ok(Math.abs(mean) < 0.5 && pixel.some((v) => v < 0) && pixel.some((v) => v > 0));
  checkInputs(inputs, a, 'generated');
  const bytes: TensorInfo[] = [{ name: 'pixels', dtype: 'uint8', shape: [4] }];
  assert.ok((generateInputs(bytes, new Map([['pixels', [4]]]), { intRange: [200, 256] }).get('pixels')!.data as Uint8Array).every((v) => v >= 200));
  assert.throws(() => generateInputs(bytes, new Map([['pixels', [4]]]), { intRange: [0, 1000] }), /`intRange: 0\.\.1000` does not fit uint8 input 'pixels' \(0\.\.256\)/);
  assert.throws(() => generateInputs([{ ...bytes[0], dtype: 'int8' }], new Map([['pixels', [4]]]), { intRange: [-129, 0] }), /does not fit int8 input 'pixels' \(-128\.\.128\)/);
  assert.throws(() => generateInputs(inputs, new Map([['input_ids', [1e11, 16]], ['pixel', [1, 3, 2, 8]]])), (e: Error) => e instanceof InputError && e.message === 'int64 tensor of shape [100000000000, 16] is too large to hold in memory');
});

test('given inputs are checked: missing, wrong dtype, wrong shape, inconsistent symbolic dim', () => {
  const good = generateInputs(inputs, new Map([['input_ids', [2, 5]], ['pixel', [2, 3, 4, 8]]]));
  assert.throws(() => checkInputs(inputs, new Map([['input_ids', good.get('input_ids')!]]), 'x.npz'), /x\.npz has no tensor for input 'pixel'/);
  const wrongDtype = new Map(good).set('input_ids', { dtype: 'int32', shape: [2, 5], data: new Int32Array(10) });
  assert.throws(() => checkInputs(inputs, wrongDtype, 'x.npz'), /'input_ids' is int32 but the model expects int64/);
  const wrongShape = new Map(good).set('pixel', { dtype: 'float32', shape: [2, 4, 4, 8], data: new Float32Array(256) });
  assert.throws(() => checkInputs(inputs, wrongShape, 'x.npz'), /'pixel' has shape \[2, 4, 4, 8\] but the model expects \[\?, 3, height, 8\]/);
  const two = [inputs[0], { name: 'mask', dtype: 'int64', shape: ['batch', 'seq'] } as TensorInfo];
  const mismatch = new Map([['input_ids', good.get('input_ids')!], ['mask', { dtype: 'int64' as const, shape: [2, 6], data: new BigInt64Array(12) }]]);
  assert.throws(() => checkInputs(two, mismatch, 'x.npz'), /dimension 'seq' is 5 in 'input_ids' but 6 in 'mask'/);
});

test('masks, token types and positions are generated as a tokenizer would give them', () => {
  const named: TensorInfo[] = [
    { name: 'attention_mask', dtype: 'int64', shape: [2, 3] },
    { name: 'token_type_ids', dtype: 'int32', shape: [2, 3] },
    { name: 'position_ids', dtype: 'int64', shape: [2, 3] },
  ];
  const shapes = new Map(named.map((n) => [n.name, n.shape as number[]]));
  const out = generateInputs(named, shapes, { seed: 3 });
  assert.deepEqual(Array.from(out.get('attention_mask')!.data as BigInt64Array), [1n, 1n, 1n, 1n, 1n, 1n]);
  assert.deepEqual(Array.from(out.get('token_type_ids')!.data as Int32Array), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(out.get('position_ids')!.data as BigInt64Array), [0n, 1n, 2n, 0n, 1n, 2n]);
  assert.deepEqual(generatedRoles(named), ['attention_mask: ones', 'token_type_ids: zeros', 'position_ids: positions 0..n-1']);
});
