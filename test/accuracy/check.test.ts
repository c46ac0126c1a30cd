import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { check } from '../../src/accuracy/check.js';
import type { GateOptions } from '../../src/accuracy/compare.js';
import { loadModel, readTensor } from '../../src/onnx/model.js';
import { saveModel } from '../../src/onnx/save.js';
import { generateInputs } from '../../src/runtime/inputs.js';
import { openSession } from '../../src/runtime/session.js';
import { resolveShapes } from '../../src/runtime/shapes.js';
import { signature } from '../../src/onnx/signature.js';
import { writeTensorPb } from '../../src/tensor/files.js';
import { readNpz, writeNpz } from '../../src/tensor/npz.js';
import { type Tensor, floatToHalf, halfToFloat, toBytes, toFloat64 } from '../../src/tensor/tensor.js';
import { conformance, fixture, tempDir } from '../helpers.js';
import { node, writeModel } from './models.js';
import { makeNode } from '../../src/quantize/graph.js';
import { floats, value, writeModel as writeQuantizeModel } from '../quantize/helpers.js';

const gate: GateOptions = { atol: 1e-5, rtol: 1e-3 };

/** A copy of a model with one initializer multiplied by `factor` (saved the way the original was: external data stays external). */
async function scaledCopy(source: string, dest: string, weight: string, factor: number): Promise<string> {
  const model = await loadModel(source);
  const tensor = model.proto.graph!.initializer.find((t) => t.name === weight)!;
  const values = (await readTensor(model, tensor)).data as Float32Array;
  const scaled = Float32Array.from(values, (v) => v * factor);
  tensor.rawData = toBytes({ dtype: 'float32', shape: [scaled.length], data: scaled });
  model.ranges.delete(tensor);
  await saveModel(model, dest);
  return dest;
}

async function initializer(file: string, name: string): Promise<Float64Array> {
  const model = await loadModel(file);
  return toFloat64(await readTensor(model, model.proto.graph!.initializer.find((t) => t.name === name)!));
}

/** Logits after scaling the classifier weight by 1.02: bias + 1.02 (logits - bias), so they move by 0.02 |logits - bias|. */
function expectedDrift(logits: Float64Array, bias: Float64Array): number {
  return Math.max(...logits.map((v, i) => Math.abs(0.02 * (v - bias[i % bias.length]))));
}

test('the encoder matches its PyTorch reference within 1e-5', async () => {
  const report = await check(fixture('encoder.onnx'), { reference: fixture('encoder.reference.npz'), gate });
  assert.equal(report.passed, true);
  assert.equal(report.sets, 1);
  assert.deepEqual(report.outputs.map((o) => [o.name, o.shape, o.mismatches]), [['logits', [2, 4], 0], ['hidden_states', [2, 16, 64], 0]]);
  for (const o of report.outputs) {
    assert.ok(o.maxAbsError < 2e-6, `${o.name} max abs ${o.maxAbsError}`);
    assert.ok(o.cosine! > 0.9999999, `${o.name} cosine ${o.cosine}`);
  }
  assert.equal(report.outputs[0].top1Agreement, 1);
  assert.equal(report.outputs[1].top1Agreement, null);
  assert.deepEqual(report.against, { kind: 'reference', path: fixture('encoder.reference.npz') });
});

test('a weight scaled by 2 % fails against the reference, with the drift it must cause', async () => {
  const dir = tempDir();
  const drifted = await scaledCopy(fixture('encoder.onnx'), path.join(dir, 'drifted.onnx'), 'classifier.weight', 1.02);
  const report = await check(drifted, { reference: fixture('encoder.reference.npz'), gate });
  assert.equal(report.passed, false);
  const [logits, hidden] = report.outputs;
  const reference = await readNpz(fixture('encoder.reference.npz'));
  const drift = expectedDrift(toFloat64(reference.get('logits')!), await initializer(fixture('encoder.onnx'), 'classifier.bias'));
  assert.ok(drift > 5e-3, `the drift (${drift}) is far beyond the tolerance`);
  assert.ok(Math.abs(logits.maxAbsError - drift) < 1e-5, `max abs ${logits.maxAbsError}, expected ${drift}`);
  assert.equal(logits.passed, false);
  assert.ok(logits.mismatches >= 6 && logits.mismatches <= 8, `${logits.mismatches} mismatches`);
  assert.match(logits.failures[0], /elements beyond atol 1e-5 \+ rtol 1e-3/);
  assert.equal(logits.worst.length, 5);
  // the classifier comes after hidden_states: that output is untouched
  assert.equal(hidden.passed, true);
  assert.ok(hidden.maxAbsError < 2e-6);
});

test('--against flags the drifted model on generated inputs and says which defaults it took', async () => {
  const dir = tempDir();
  const drifted = await scaledCopy(fixture('encoder.onnx'), path.join(dir, 'drifted.onnx'), 'classifier.weight', 1.02);
  const report = await check(drifted, { against: fixture('encoder.onnx'), seed: 3, gate });
  assert.equal(report.passed, false);
  assert.deepEqual(report.against, { kind: 'model', path: fixture('encoder.onnx') });
  assert.ok(report.notes.includes('symbolic dims without `dims` took defaults: batch=1, seq=16'), report.notes.join('\n'));

  // the same inputs through the original model give the logits the drift is computed from
  const sig = signature((await loadModel(fixture('encoder.onnx'))).proto);
  const inputs = generateInputs(sig.inputs, resolveShapes(sig.inputs, { shapes: {}, dims: {} }).shapes, { seed: 3 });
  const session = await openSession(fixture('encoder.onnx'));
  const logits = toFloat64((await session.run(inputs)).get('logits')!);
  await session.release();
  const drift = expectedDrift(logits, await initializer(fixture('encoder.onnx'), 'classifier.bias'));
  assert.ok(Math.abs(report.outputs[0].maxAbsError - drift) < 1e-5, `max abs ${report.outputs[0].maxAbsError}, expected ${drift}`);
  assert.deepEqual(report.outputs[0].shape, [1, 4]);
  assert.equal(report.outputs[1].maxAbsError, 0);

  const same = await check(fixture('encoder.onnx'), { against: fixture('encoder.onnx'), shapes: { shapes: {}, dims: { batch: [2], seq: [8] } }, gate });
  assert.equal(same.passed, true);
  assert.deepEqual(same.outputs.map((o) => [o.shape, o.maxAbsError]), [[[2, 4], 0], [[2, 8, 64], 0]]);
  assert.ok(!same.notes.some((n) => n.includes('defaults')));
});

test('--against with --inputs runs both models on the given tensors and ignores the rest of the file', async () => {
  const dir = tempDir();
  const drifted = await scaledCopy(fixture('encoder.onnx'), path.join(dir, 'drifted.onnx'), 'classifier.weight', 1.02);
  const report = await check(drifted, { against: fixture('encoder.onnx'), inputs: fixture('encoder.reference.npz'), gate });
  assert.equal(report.passed, false);
  assert.deepEqual(report.notes, [`${fixture('encoder.reference.npz')}: ignored logits, hidden_states (not an input of the model)`]);
  const reference = await readNpz(fixture('encoder.reference.npz'));
  const drift = expectedDrift(toFloat64(reference.get('logits')!), await initializer(fixture('encoder.onnx'), 'classifier.bias'));
  assert.ok(Math.abs(report.outputs[0].maxAbsError - drift) < 1e-5);
  assert.deepEqual(report.outputs[0].shape, [2, 4]);
});

test('models with external data are checked, and a drifted copy keeps its external data and fails', async () => {
  const external = fixture('encoder_external', 'encoder.onnx');
  assert.equal((await check(external, { reference: fixture('encoder.reference.npz'), gate })).passed, true);
  const dir = tempDir();
  const drifted = await scaledCopy(external, path.join(dir, 'drifted.onnx'), 'tokens.weight', 1.02);
  assert.ok(fs.existsSync(path.join(dir, 'drifted.onnx.data')));
  const report = await check(drifted, { reference: fixture('encoder.reference.npz'), gate });
  assert.equal(report.passed, false);
  assert.ok(report.outputs.every((o) => !o.passed));
  const viaAgainst = await check(drifted, { against: external, gate });
  assert.equal(viaAgainst.passed, false);
});

test('fp16 inputs and outputs (Uint16Array bits) against an fp16 reference and against an fp32 model', async () => {
  const dir = tempDir();
  const three = (dtype: 'float16' | 'float32'): Tensor => dtype === 'float16'
    ? { dtype, shape: [], data: Uint16Array.of(floatToHalf(3)) }
    : { dtype, shape: [], data: Float32Array.of(3) };
  const model = (dtype: 'float16' | 'float32') => writeModel(path.join(dir, `${dtype}.onnx`), {
    inputs: [{ name: 'x', dtype, shape: ['batch', 8] }],
    outputs: [{ name: 'y', dtype, shape: ['batch', 8] }],
    nodes: [node('Mul', ['x', 'three'], ['y'])],
    initializers: { three: three(dtype) },
  });
  const fp16 = model('float16');
  const fp32 = model('float32');

  const x = Array.from({ length: 16 }, (_, i) => (i - 8) / 3);
  const xBits = Uint16Array.from(x, floatToHalf);
  const yBits = Uint16Array.from(xBits, (b) => floatToHalf(halfToFloat(b) * 3));
  const reference = path.join(dir, 'fp16.reference.npz');
  await writeNpz(reference, new Map([
    ['x', { dtype: 'float16', shape: [2, 8], data: xBits }],
    ['y', { dtype: 'float16', shape: [2, 8], data: yBits }],
  ]));
  const exact = await check(fp16, { reference, gate });
  assert.equal(exact.passed, true);
  assert.deepEqual([exact.outputs[0].dtype, exact.outputs[0].maxAbsError], ['float16', 0]);

  // a reference made for the fp32 model checks the fp16 one (quantize --to fp16 without --keep-io-types):
  // x is cast to fp16, and y is compared with both sides widened to float64
  const x32 = Float32Array.from({ length: 16 }, (_, i) => 5 * Math.sin(i + 1));
  const y32 = Float32Array.from(x32, (v) => v * 3);
  const reference32 = path.join(dir, 'fp32.reference.npz');
  await writeNpz(reference32, new Map<string, Tensor>([
    ['x', { dtype: 'float32', shape: [2, 8], data: x32 }],
    ['y', { dtype: 'float32', shape: [2, 8], data: y32 }],
  ]));
  const widened = await check(fp16, { reference: reference32, gate: { atol: 1e-2, rtol: 2e-3 } });
  assert.equal(widened.passed, true);
  for (const note of ["reference inputs cast to the model's float types: x float32→float16", 'outputs compared across float types (both widened to float64): y float32→float16']) {
    assert.ok(widened.notes.includes(note), widened.notes.join('\n'));
  }
  const e = Array.from(y32);
  const a = Array.from(x32, (v) => halfToFloat(floatToHalf(halfToFloat(floatToHalf(v)) * 3)));
  const dot = (p: number[], q: number[]) => p.reduce((sum, v, i) => sum + v * q[i], 0);
  const cosine = dot(e, a) / Math.sqrt(dot(e, e) * dot(a, a));
  const y16 = widened.outputs[0];
  assert.ok(cosine < 1 - 1e-10, `fp16 rounding moves y: cosine ${cosine}`);
  assert.ok(Math.abs(y16.cosine! - cosine) < 1e-12, `cosine ${y16.cosine} against ${cosine}`);
  assert.equal(y16.maxAbsError, Math.max(...e.map((v, i) => Math.abs(v - a[i]))));

  // the fp32 model is the baseline: its float32 inputs are cast to fp16 for the candidate, and
  // the fp16 outputs differ by fp16 rounding (a relative step of 2^-11 at most, twice: input and output)
  const loose = await check(fp16, { against: fp32, shapes: { shapes: {}, dims: { batch: [4] } }, gate: { atol: 1e-2, rtol: 2e-3 } });
  assert.equal(loose.passed, true);
  const y = loose.outputs[0];
  assert.equal(y.dtype, 'float16');
  assert.ok(y.maxAbsError > 0 && y.maxRelError <= 3 * 2 ** -11 + 1e-9, `max rel ${y.maxRelError}`);
  assert.ok(loose.notes.includes('inputs cast for the candidate: x float32→float16'), loose.notes.join('\n'));
  assert.ok(loose.notes.includes('outputs compared across float types: y float32→float16'));
  const strict = await check(fp16, { against: fp32, gate: { atol: 1e-6, rtol: 0 } });
  assert.equal(strict.passed, false);
});

test('every data set of an ONNX test folder is checked; tensors match by name, else by position', async () => {
  const dir = tempDir();
  const source = conformance('pytorch-operator', 'test_operator_exp');
  fs.copyFileSync(path.join(source, 'model.onnx'), path.join(dir, 'model.onnx'));
  const sig = signature((await loadModel(path.join(dir, 'model.onnx'))).proto);
  const x = (v: number): Tensor => ({ dtype: 'float32', shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => v * (i - 6) / 6) });
  const y = (v: number): Tensor => ({ dtype: 'float32', shape: [3, 4], data: Float32Array.from(x(v).data as Float32Array, Math.exp) });
  for (const [n, v] of [[0, 0.5], [1, 1.5], [2, 2.5]]) {
    const set = path.join(dir, `test_data_set_${n}`);
    fs.mkdirSync(set);
    // set 1 names its tensors, the others leave the names empty
    await writeTensorPb(path.join(set, 'input_0.pb'), n === 1 ? sig.inputs[0].name : '', x(v));
    await writeTensorPb(path.join(set, 'output_0.pb'), n === 1 ? sig.outputs[0].name : '', y(v));
  }
  const report = await check(dir, { gate });
  assert.equal(report.passed, true);
  assert.equal(report.sets, 3);
  assert.equal(report.outputs[0].elements, 36);
  // the same folder as --inputs: every set's inputs through both models
  const against = await check(path.join(dir, 'model.onnx'), { against: path.join(dir, 'model.onnx'), inputs: dir, gate });
  assert.deepEqual([against.passed, against.sets, against.outputs[0].maxAbsError], [true, 3, 0]);

  // a wrong expected value in the last set fails, and says which set
  await writeTensorPb(path.join(dir, 'test_data_set_2', 'output_0.pb'), '', y(2.6));
  const failed = await check(path.join(dir, 'model.onnx'), { reference: dir, gate });
  assert.equal(failed.passed, false);
  // exp(2.6 t) against exp(2.5 t) for t = (i-6)/6: only t = 0 agrees
  assert.deepEqual(failed.outputs[0].failures, ['set 2: 11 of 12 elements beyond atol 1e-5 + rtol 1e-3·|expected|']);
  assert.ok(failed.outputs[0].worst.every((w) => w.set === 2));
});

test('bad references are input errors that name the tensor', async () => {
  const dir = tempDir();
  const reference = await readNpz(fixture('encoder.reference.npz'));
  const variant = async (name: string, edit: (m: Map<string, Tensor>) => void) => {
    const copy = new Map(reference);
    edit(copy);
    const file = path.join(dir, `${name}.npz`);
    await writeNpz(file, copy);
    return file;
  };
  const encoder = fixture('encoder.onnx');
  const cases: [string, Promise<string> | string, RegExp, GateOptions?][] = [
    ['missing output', variant('no-logits', (m) => m.delete('logits')), /no-logits\.npz has no expected value for output 'logits'/],
    ['missing input', variant('no-mask', (m) => m.delete('attention_mask')), /no-mask\.npz has no tensor for input 'attention_mask'/],
    ['output dtype', variant('i64', (m) => m.set('logits', { dtype: 'int64', shape: [2, 4], data: new BigInt64Array(8) })), /'logits' is int64 but the model expects float32/],
    ['output shape', variant('shape', (m) => m.set('logits', { dtype: 'float32', shape: [2, 5], data: new Float32Array(10) })), /'logits' has shape \[2, 5\] but the model expects \[batch, 4\]/],
    ['output shape vs actual', variant('rows', (m) => m.set('logits', { dtype: 'float32', shape: [3, 4], data: new Float32Array(12) })), /output 'logits': expected shape \[3, 4\] but the model produced \[2, 4\]/],
    ['inputs disagree', variant('seq', (m) => m.set('attention_mask', { dtype: 'int64', shape: [2, 8], data: new BigInt64Array(16) })), /dimension 'seq' is 16 in 'input_ids' but 8 in 'attention_mask'/],
    ['unknown tolerance', fixture('encoder.reference.npz'), /`perOutput: logit`: .*has no output 'logit'/, { ...gate, perOutput: { logit: { atol: 1 } } }],
  ];
  for (const [what, file, message, options] of cases) {
    await assert.rejects(check(encoder, { reference: await file, gate: options ?? gate }), (e: Error & { exitCode?: number }) => {
      assert.match(e.message, message, what);
      assert.equal(e.exitCode, 2, what);
      return true;
    });
  }
  const other = await variant('other-names', (m) => {
    m.set('ids', m.get('input_ids')!);
    m.delete('input_ids');
  });
  await assert.rejects(check(encoder, { reference: other, gate }), (e: Error & { hint?: string }) => {
    assert.match(e.message, /other-names\.npz has no tensor for input 'input_ids'/);
    assert.equal(e.hint, 'it has attention_mask, logits, hidden_states, ids');
    return true;
  });
  const garbage = path.join(dir, 'garbage.npz');
  fs.writeFileSync(garbage, 'not a zip archive');
  await assert.rejects(check(encoder, { reference: garbage, gate }), (e: Error & { exitCode?: number }) => e.exitCode === 2 && e.message.includes(garbage));
  await assert.rejects(check(encoder, { reference: path.join(dir, 'absent.npz'), gate }), /reference not found: .*absent\.npz/);
});

test('contradictory or missing choices are usage errors', async () => {
  const encoder = fixture('encoder.onnx');
  const reference = fixture('encoder.reference.npz');
  await assert.rejects(check(encoder, { gate }), /nothing to compare with/);
  await assert.rejects(check(encoder, { reference, against: encoder, gate }), /give `reference` or `against`, not both/);
  await assert.rejects(check(encoder, { reference, inputs: reference, gate }), /`inputs` only applies with `against`/);
  await assert.rejects(check(encoder, { reference, shapes: { shapes: {}, dims: { batch: [2] } }, gate }), /`shapes`\/`dims` only applies with `against`/);
  await assert.rejects(check(encoder, { against: encoder, shapes: { shapes: {}, dims: { sequence: [2] } }, gate }), /`dims: sequence`: the model has no symbolic dimension/);
  await assert.rejects(check(encoder, { against: fixture('convnet.onnx'), gate }), /inputs for .*encoder\.onnx has no tensor for input 'input_ids'/);
  await assert.rejects(check(encoder, { against: encoder, gate: { ...gate, perOutput: { logit: { atol: 1 } } } }), /`perOutput: logit`: .*encoder\.onnx has no output 'logit'/);
});

test('a model onnxruntime cannot load is an input error with the reason, not drift', async () => {
  const cases: [string, string, RegExp][] = [
    ['pytorch-operator/test_operator_pow', 'unsupported-opset', /uses Pow as defined in opset 1, which ONNX Runtime no longer implements/],
    ['simple/test_gradient_of_add', 'training-op', /training-only op Gradient/],
  ];
  for (const [name, kind, message] of cases) {
    await assert.rejects(check(conformance(...name.split('/')), { gate }), (e: Error & { kind?: string; hint?: string; exitCode?: number }) => {
      assert.equal(e.kind, kind);
      assert.equal(e.exitCode, 2);
      assert.match(e.message, message);
      return true;
    });
  }
});

test('sequence outputs are refused: onnxruntime-node cannot return them', async () => {
  const dir = tempDir();
  const model = writeModel(path.join(dir, 'seq.onnx'), {
    inputs: [{ name: 'x', dtype: 'float32', shape: [2] }],
    outputs: [{ name: 'items', dtype: 'float32', shape: [2], sequence: true }],
    nodes: [node('SequenceConstruct', ['x', 'x'], ['items'])],
  });
  await assert.rejects(check(model, { against: model, gate }), (e: Error & { kind?: string }) => {
    assert.equal(e.kind, 'unsupported-type');
    assert.match(e.message, /output 'items' of .*seq\.onnx is a sequence of float32; onnxruntime-node cannot return a sequence/);
    return true;
  });
});

test('a model that fails on generated inputs is an input error naming the shapes it was fed and how to set them', async () => {
  const dir = tempDir();
  // c must be 3 to broadcast with the constant; generated inputs take 16 for it.
  const model = await writeQuantizeModel(path.join(dir, 'broadcast.onnx'), [makeNode('Add', ['x', 'k'], ['y'])],
    [value('x', 'float32', ['p2o.DynamicDimension.0', 'c'])], [value('y', 'float32', ['p2o.DynamicDimension.0', 3])], { k: floats([3], [1, 2, 3]) });
  await assert.rejects(check(model, { against: model }), (e: Error & { hint?: string; exitCode?: number }) => {
    assert.equal(e.exitCode, 2);
    assert.match(e.message, /^onnxruntime failed to run .*broadcast\.onnx on inputs x \[1, 16\]: /);
    assert.equal(e.hint, 'set the input shapes with `dims` or `shapes` (generated inputs take 1 for a leading symbolic dim, 16 for others), or give inputs that fit the model');
    return true;
  });
  const fits = await check(model, { against: model, shapes: { shapes: {}, dims: { c: [3] } } });
  assert.equal(fits.passed, true);
});
