import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadModel } from '../../src/onnx/model.js';
import { signature } from '../../src/onnx/signature.js';
import { writeTensorPb } from '../../src/tensor/files.js';
import { readCalibration } from '../../src/quantize/calibration/data.js';
import { calibratedRange } from '../../src/quantize/calibration/methods.js';
import { HISTOGRAM_BINS, accumulate, emptyStats } from '../../src/quantize/calibration/stats.js';
import { writeNpz } from '../../src/tensor/npz.js';
import { Random } from '../../src/tensor/random.js';
import type { Tensor, TensorMap } from '../../src/tensor/tensor.js';
import { check } from '../../src/accuracy/check.js';
import { attr, makeNode } from '../../src/quantize/graph.js';
import { quantize } from '../../src/quantize/quantize.js';
import { fixture, tempDir } from '../helpers.js';
import { floats, value, writeModel } from './helpers.js';

const normal = (n: number, seed: number, scale = 1) => {
  const random = new Random(seed);
  return Float32Array.from({ length: n }, () => random.normal() * scale);
};

test('statistics folded batch by batch equal the statistics of all values at once, in fixed memory', () => {
  const batches = [normal(5000, 1, 0.5), normal(5000, 2, 2), normal(5000, 3, 8)];
  const stepwise = emptyStats(true);
  for (const batch of batches) accumulate(stepwise, batch);
  const whole = emptyStats(true);
  const all = new Float32Array(15000);
  batches.forEach((b, i) => all.set(b, i * 5000));
  accumulate(whole, all);
  assert.equal(stepwise.bins!.length, HISTOGRAM_BINS);
  assert.deepEqual([stepwise.min, stepwise.max, stepwise.count], [whole.min, whole.max, whole.count]);
  assert.equal(stepwise.top, whole.top, 'the histogram range grew by doubling to the same top');
  assert.deepEqual(Array.from(stepwise.bins!), Array.from(whole.bins!), 'merged bins hold the same counts');
  assert.equal(stepwise.bins!.reduce((a, b) => a + b, 0), 15000);
});

test('minmax keeps the observed range; percentile and entropy clip outliers', () => {
  const values = normal(100000, 7);
  values[0] = 60;
  values[1] = -45;
  const stats = emptyStats(true);
  accumulate(stats, values);
  assert.deepEqual(calibratedRange(stats, 'minmax', { percentile: 99.99 }), { min: -45, max: 60 });
  const p = calibratedRange(stats, 'percentile', { percentile: 99 });
  // 99 % of |x| for a standard normal lies below 2.576.
  assert.ok(Math.abs(p.max - 2.576) < 0.05 && p.min === -p.max, JSON.stringify(p));
  const e = calibratedRange(stats, 'entropy', { percentile: 99.99 });
  assert.ok(e.max > 2 && e.max < 10 && e.min === -e.max, `entropy threshold ${e.max}`);
});

test('entropy picks the threshold TensorRT picks, also when the bins past the bulk are empty', () => {
  // Bin k (1/32 wide) of the bulk holds round(1000·exp(-(k/40)²)) values, k < 100; two outliers
  // at 60 and -45 set the histogram's top to 64. TensorRT's algorithm (smoothed KL, 128 levels
  // of ⌊edge/128⌋ bins, every 8th edge) in numpy on the same histogram gives 7.75. Every edge
  // past the bulk is an empty bin holding only the outliers; refusing those left only the full
  // range, 60.
  const values: number[] = [60, -45];
  for (let k = 0; k < 100; k++) for (let n = Math.round(1000 * Math.exp(-((k / 40) ** 2))); n > 0; n--) values.push((k + 0.5) / 32);
  const stats = emptyStats(true);
  accumulate(stats, Float32Array.from(values));
  assert.equal(stats.top, 64);
  assert.deepEqual(calibratedRange(stats, 'entropy', { percentile: 99.99 }), { min: -7.75, max: 7.75 });
});

test('infinities and NaN do not widen the range (a -inf mask fill is not an activation range)', () => {
  const stats = emptyStats(true);
  accumulate(stats, Float32Array.of(-Infinity, 1, -2, NaN, Infinity, 0.5));
  assert.deepEqual(calibratedRange(stats, 'minmax', { percentile: 99.99 }), { min: -2, max: 1 });
  assert.equal(stats.bins!.reduce((a, b) => a + b, 0), 3);
});

test('a first batch without finite values (an empty or fully masked tensor) leaves the range empty instead of hanging', () => {
  for (const first of [new Float32Array(0), Float32Array.of(-Infinity, NaN, -Infinity)]) {
    const stats = emptyStats(true);
    accumulate(stats, first);
    assert.deepEqual([stats.count, stats.top], [0, 0]);
    for (const method of ['minmax', 'percentile', 'entropy'] as const) {
      assert.deepEqual(calibratedRange(stats, method, { percentile: 99.99 }), { min: 0, max: 0 }, method);
    }
    accumulate(stats, Float32Array.of(-1, 3, 0, -Infinity));
    assert.deepEqual([stats.count, stats.top, stats.bins!.reduce((a, b) => a + b, 0)], [3, 4, 3]);
    assert.deepEqual(calibratedRange(stats, 'minmax', { percentile: 99.99 }), { min: -1, max: 3 });
  }
});

test('float16 underflow is counted among nonzero values', () => {
  const stats = emptyStats(false);
  accumulate(stats, Float32Array.of(0, 1e-9, -3e-8, 1e-7, 1));
  assert.deepEqual([stats.nonzero, stats.underflow], [4, 2]);
});

test('one calibration file is split along axis 0 into batches', async () => {
  const model = await loadModel(fixture('encoder.onnx'));
  const { batches } = await readCalibration(fixture('encoder.calibration.npz'), signature(model.proto), 8);
  assert.equal(batches.length, 4);
  assert.deepEqual(batches.map((b) => b.get('input_ids')!.shape), [[8, 16], [8, 16], [8, 16], [8, 16]]);
  const { batches: fives } = await readCalibration(fixture('encoder.calibration.npz'), signature(model.proto), 5);
  assert.deepEqual(fives.map((b) => b.get('attention_mask')!.shape[0]), [5, 5, 5, 5, 5, 5, 2]);
});

test('a model with a fixed batch of 1 calibrates on stacked samples one at a time', async () => {
  const dir = tempDir();
  const file = await writeModel(path.join(dir, 'fixed.onnx'), [makeNode('Relu', ['x'], ['y'])], [value('x', 'float32', [1, 4])], [value('y', 'float32', [1, 4])]);
  const sig = signature((await loadModel(file)).proto);
  await writeNpz(path.join(dir, 'stacked.npz'), new Map([['x', { dtype: 'float32', shape: [3, 4], data: new Float32Array(12) }]]));
  const { batches } = await readCalibration(path.join(dir, 'stacked.npz'), sig);
  assert.deepEqual(batches.map((b) => b.get('x')!.shape), [[1, 4], [1, 4], [1, 4]]);
  await writeNpz(path.join(dir, 'wide.npz'), new Map([['x', { dtype: 'float32', shape: [3, 5], data: new Float32Array(15) }]]));
  await assert.rejects(readCalibration(path.join(dir, 'wide.npz'), sig), /'x' has shape \[3, 5\] but the model expects \[\?, 4\]/);
});

test('a folder of ONNX test data sets gives one batch per set, named by input order', async () => {
  const dir = tempDir();
  const model = await loadModel(fixture('encoder.onnx'));
  for (const set of [0, 1]) {
    const ids = { dtype: 'int64' as const, shape: [1, 4], data: BigInt64Array.of(1n, 2n, 3n, BigInt(set)) };
    await writeTensorPb(path.join(dir, `test_data_set_${set}`, 'input_0.pb'), '', ids);
    await writeTensorPb(path.join(dir, `test_data_set_${set}`, 'input_1.pb'), 'attention_mask', { ...ids, data: BigInt64Array.of(1n, 1n, 1n, 1n) });
  }
  const { batches } = await readCalibration(dir, signature(model.proto));
  assert.deepEqual(batches.map((b) => [...b.keys()].sort()), [['attention_mask', 'input_ids'], ['attention_mask', 'input_ids']]);
  assert.equal((batches[1].get('input_ids')!.data as BigInt64Array)[3], 1n);
});

test('arrays that are not inputs are ignored, and said so (a reference file calibrates too)', async () => {
  const sig = signature((await loadModel(fixture('encoder.onnx'))).proto);
  const { batches, notes } = await readCalibration(fixture('encoder.reference.npz'), sig);
  assert.deepEqual([...batches[0].keys()], ['input_ids', 'attention_mask']);
  assert.deepEqual(notes, [`${fixture('encoder.reference.npz')}: ignored logits, hidden_states (not an input of the model)`]);
});

test('calibration data that does not fit the model is refused with the reason', async () => {
  const dir = tempDir();
  const sig = signature((await loadModel(fixture('encoder.onnx'))).proto);
  const ids = (shape: number[]) => ({ dtype: 'int64' as const, shape, data: new BigInt64Array(shape.reduce((a, b) => a * b, 1)) });
  const cases: [string, TensorMap, RegExp][] = [
    ['missing.npz', new Map([['input_ids', ids([2, 4])]]), /has no tensor for input 'attention_mask'/],
    ['rank.npz', new Map([['input_ids', ids([8])], ['attention_mask', ids([8])]]), /'input_ids' has shape \[8\] but the model expects \[batch, seq\]/],
    ['dtype.npz', new Map<string, Tensor>([['input_ids', { dtype: 'float32', shape: [2, 4], data: new Float32Array(8) }], ['attention_mask', ids([2, 4])]]), /'input_ids' is float32 but the model expects int64/],
    ['samples.npz', new Map([['input_ids', ids([4, 4])], ['attention_mask', ids([2, 4])]]), /dimension 'batch' is 4 in 'input_ids' but 2 in 'attention_mask'/],
  ];
  for (const [name, tensors, message] of cases) {
    const file = path.join(dir, name);
    await writeNpz(file, tensors);
    await assert.rejects(readCalibration(file, sig), (e: Error & { exitCode?: number }) => message.test(e.message) && e.exitCode === 2, name);
  }
  await assert.rejects(readCalibration(path.join(dir, 'absent.npz'), sig), /calibration data not found/);
  fs.mkdirSync(path.join(dir, 'empty'));
  await assert.rejects(readCalibration(path.join(dir, 'empty'), sig), /holds no test_data_set_\* folders/);
});

/**
 * A stateful model shaped like Silero VAD v5: input [?, 4] (batch unknown), state [2, ?, 3] (no
 * batch axis first), scalar sr. y = input·W + sum(state) · sr/16000; stateN = state + y.
 */
async function statefulModel(dir: string): Promise<string> {
  return writeModel(path.join(dir, 'stateful.onnx'), [
    makeNode('MatMul', ['input', 'w'], ['projected'], { name: 'project' }),
    makeNode('ReduceSum', ['state', 'axis0'], ['carried'], { name: 'carry', attributes: [attr.int('keepdims', 0)] }),
    makeNode('Cast', ['sr'], ['rate'], { attributes: [attr.int('to', 1)] }),
    makeNode('Div', ['rate', 'k16000'], ['gain']),
    makeNode('Mul', ['carried', 'gain'], ['scaled']),
    makeNode('Add', ['projected', 'scaled'], ['output']),
    makeNode('Add', ['state', 'output'], ['stateN']),
  ], [value('input', 'float32', ['', 4]), value('state', 'float32', [2, '', 3]), value('sr', 'int64', [])],
  [value('output', 'float32', ['', 3]), value('stateN', 'float32', [2, '', 3])], {
    w: floats([4, 3], (i) => ((i * 7) % 5) / 5 - 0.4), axis0: { dtype: 'int64', shape: [1], data: BigInt64Array.of(0n) }, k16000: floats([], [16000]),
  });
}

const samples = (n: number) => new Map<string, Tensor>([
  ['input', floats([n, 4], (i) => Math.sin(i))],
  ['state', floats([2, 1, 3], (i) => i / 6)],
  ['sr', { dtype: 'int64', shape: [], data: BigInt64Array.of(16000n) }],
]);

test('a stateful model calibrates from an .npz: samples split along the batch input, the state and the scalar repeated with each', async () => {
  const dir = tempDir();
  const model = await statefulModel(dir);
  const sig = signature((await loadModel(model)).proto);
  const file = path.join(dir, 'samples.npz');
  await writeNpz(file, samples(5));
  const { batches, notes } = await readCalibration(file, sig);
  assert.deepEqual(batches.map((b) => [b.get('input')!.shape, b.get('state')!.shape, b.get('sr')!.shape]), Array(5).fill([[1, 4], [2, 1, 3], []]));
  assert.deepEqual(Array.from(batches[3].get('input')!.data as Float32Array), [12, 13, 14, 15].map((i) => Math.fround(Math.sin(i))));
  assert.deepEqual(notes, [`${file}: 5 sample(s) along axis 0 of input, run one at a time with state as given (no batch axis to split)`]);
  const report = await quantize(model, { output: path.join(dir, 'stateful.int8.onnx'), to: 'int8', mode: 'static', calibration: file });
  assert.equal(report.drift.sets, 5);
  assert.equal(report.drift.passed, true);
  assert.ok(report.notes.includes('activation ranges: minmax over 5 calibration batch(es)'), report.notes.join('\n'));
});

test('a stateful model calibrates from test_data_set_* folders, each one set as given, never split', async () => {
  const dir = tempDir();
  const model = await statefulModel(dir);
  const data = path.join(dir, 'sets');
  for (const set of [0, 1, 2]) {
    const one = samples(1);
    one.set('input', floats([1, 4], (i) => set + i));
    for (const [i, name] of ['input', 'state', 'sr'].entries()) await writeTensorPb(path.join(data, `test_data_set_${set}`, `input_${i}.pb`), name, one.get(name)!);
  }
  const { batches } = await readCalibration(data, signature((await loadModel(model)).proto));
  assert.deepEqual(batches.map((b) => Array.from(b.get('input')!.data as Float32Array)), [[0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5]]);
  assert.deepEqual(batches.map((b) => b.get('state')!.shape), [[2, 1, 3], [2, 1, 3], [2, 1, 3]]);
  const report = await quantize(model, { output: path.join(dir, 'stateful.int8.onnx'), to: 'int8', mode: 'static', calibration: data });
  assert.equal(report.drift.sets, 3);
});

test('check --inputs reads a stacked file as quantize reads its inputs, so the drift quantize reports is reproduced', async () => {
  const dir = tempDir();
  const model = await statefulModel(dir);
  const inputs = path.join(dir, 'samples.npz');
  await writeNpz(inputs, samples(3));
  const report = await quantize(model, { output: path.join(dir, 'stateful.fp16.onnx'), to: 'fp16', inputs, keepIoTypes: true });
  const checked = await check(report.output, { against: model, inputs, gate: null });
  assert.equal(checked.sets, 3);
  assert.equal(report.drift.sets, 3);
  assert.deepEqual(checked.outputs.map((o) => o.cosine), report.drift.outputs.map((o) => o.cosine));
  assert.deepEqual(checked.outputs.map((o) => o.maxAbsError), report.drift.outputs.map((o) => o.maxAbsError));
});
