import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { loadModel } from '../../src/onnx/model.js';
import { tensorDtype, tensorToProto } from '../../src/onnx/tensor-proto.js';
import { attr, makeNode } from '../../src/quantize/graph.js';
import { quantize } from '../../src/quantize/quantize.js';
import { writeNpz } from '../../src/tensor/npz.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { tempDir } from '../helpers.js';
import { drift, floats, run, value, writeModel } from './helpers.js';

/** A deterministic spread of values in [-1, 1). */
const wave = (seed: number) => (i: number) => Math.sin(i * 12.9898 + seed * 78.233) % 1;

/** BN parameters of a detector: running variances around 1e7 and means in the thousands, which float16 cannot hold. */
function batchNorm(prefix: string, channels: number): Record<string, Tensor> {
  return {
    [`${prefix}_gamma`]: floats([channels], (i) => 1 + 0.1 * i),
    [`${prefix}_beta`]: floats([channels], (i) => 0.05 * i - 0.1),
    [`${prefix}_mean`]: floats([channels], (i) => 3000 * wave(3)(i)),
    [`${prefix}_var`]: floats([channels], (i) => 1e7 * (1 + i)),
  };
}

const bn = (prefix: string, input: string, output: string) =>
  makeNode('BatchNormalization', [input, `${prefix}_gamma`, `${prefix}_beta`, `${prefix}_mean`, `${prefix}_var`], [output], { name: prefix, attributes: [attr.float('epsilon', 1e-5)] });

/** Inputs on the scale the BN expects (its variance 1e7 means activations in the thousands). */
const input = (shape: number[]) => floats(shape, (i) => 4000 * wave(9)(i));

async function judge(source: string, feeds: Map<string, Tensor>, dir: string) {
  const inputs = path.join(dir, 'inputs.npz');
  await writeNpz(inputs, feeds);
  const report = await quantize(source, { output: path.join(dir, 'out.fp16.onnx'), to: 'fp16', keepIoTypes: true, inputs });
  const out = await loadModel(report.output);
  const [expected, actual] = [await run(source, feeds), await run(report.output, feeds)];
  const name = [...expected.keys()][0];
  return { report, out, ...drift(expected.get(name)!, actual.get(name)!) };
}

test('FP16 folds BatchNormalization with 1e7 variances into Conv, ConvTranspose (groups), Gemm and MatMul: no BN left, cosine >= 0.999 without flags', async () => {
  const dir = tempDir();
  const source = await writeModel(path.join(dir, 'detector.onnx'), [
    makeNode('Conv', ['x', 'w1', 'b1'], ['c1'], { name: 'conv', attributes: [attr.ints('pads', [1, 1, 1, 1])] }),
    bn('bn1', 'c1', 'n1'),
    makeNode('ConvTranspose', ['n1', 'w2'], ['c2'], { name: 'deconv', attributes: [attr.int('group', 2), attr.ints('strides', [2, 2])] }),
    bn('bn2', 'c2', 'n2'),
    makeNode('GlobalAveragePool', ['n2'], ['pooled']),
    makeNode('Flatten', ['pooled'], ['flat']),
    makeNode('Gemm', ['flat', 'w3', 'b3'], ['g'], { name: 'gemm', attributes: [attr.int('transB', 1), attr.float('beta', 0.5)] }),
    bn('bn3', 'g', 'n3'),
    makeNode('MatMul', ['n3', 'w4'], ['m'], { name: 'matmul' }),
    bn('bn4', 'm', 'y'),
  ], [value('x', 'float32', [1, 3, 8, 8])], [value('y', 'float32', [1, 5])], {
    w1: floats([4, 3, 3, 3], wave(1)), b1: floats([4], [0.5, -1, 2, 0]), ...batchNorm('bn1', 4),
    w2: floats([4, 3, 2, 2], wave(2)), ...batchNorm('bn2', 6),
    w3: floats([7, 6], wave(4)), b3: floats([7], (i) => i - 3), ...batchNorm('bn3', 7),
    w4: floats([7, 5], wave(5)), ...batchNorm('bn4', 5),
  });
  const { report, out, cosine } = await judge(source, new Map([['x', input([1, 3, 8, 8])]]), dir);
  assert.ok(cosine >= 0.999, `cosine ${cosine}`);
  assert.equal(report.drift.passed, true);
  assert.deepEqual(report.blockedNodes, []);
  assert.equal(report.clamped, 0);
  assert.ok(report.notes.includes('folded 4 BatchNormalization (1 into Conv, 1 into ConvTranspose, 1 into Gemm, 1 into MatMul) in float64 before converting: their running statistics never reach float16'), report.notes.join('\n'));
  const nodes = out.proto.graph!.node;
  assert.equal(nodes.filter((n) => n.opType === 'BatchNormalization').length, 0);
  assert.ok(out.proto.graph!.initializer.every((t) => tensorDtype(t) === 'float16'), 'every weight is float16');
});

test('FP16 keeps a BatchNormalization it cannot fold in float32, with the constant that would be clamped as the reason', async () => {
  const dir = tempDir();
  // BN after an Add of two inputs: nothing to fold into.
  const source = await writeModel(path.join(dir, 'unfoldable.onnx'), [
    makeNode('Add', ['x', 'z'], ['s'], { name: 'add' }),
    bn('bn', 's', 'n'),
    makeNode('Relu', ['n'], ['y'], { name: 'relu' }),
  ], [value('x', 'float32', [1, 4, 2, 2]), value('z', 'float32', [1, 4, 2, 2])], [value('y', 'float32', [1, 4, 2, 2])], batchNorm('bn', 4));
  const feeds = new Map([['x', input([1, 4, 2, 2])], ['z', floats([1, 4, 2, 2], wave(7))]]);
  const { report, cosine } = await judge(source, feeds, dir);
  assert.deepEqual(report.blockedNodes.map((b) => [b.node, b.op]), [['bn', 'BatchNormalization']]);
  assert.match(report.blockedNodes[0].reason, /^constant 'bn_var' holds 4\.000e\+7, beyond float16's 65504: kept in float32 rather than clamped$/);
  assert.equal(report.clamped, 0);
  assert.ok(cosine >= 0.9999, `cosine ${cosine}`);
});

test('FP16 folds a ConvTranspose whose bias is a separate Add (as PaddleOCR exports it) with the BN after it; a bias that broadcasts along another axis is left alone', async () => {
  const dir = tempDir();
  const constant = (name: string, tensor: Tensor) => makeNode('Constant', [], [name], { attributes: [attr.tensor('value', tensorToProto('', tensor))] });
  const source = await writeModel(path.join(dir, 'paddle.onnx'), [
    makeNode('ConvTranspose', ['x', 'w1'], ['d1'], { name: 'deconv1', attributes: [attr.ints('strides', [2, 2])] }),
    constant('bias1', floats([1, 4, 1, 1], [0.5, -1, 2, 0.25])),
    makeNode('Add', ['d1', 'bias1'], ['a1'], { name: 'bias_add1' }),
    bn('bn1', 'a1', 'n1'),
    // [8] against [1, 4, 8, 8] broadcasts along the last axis: no per-channel bias, nothing to fold.
    makeNode('ConvTranspose', ['n1', 'w2'], ['d2'], { name: 'deconv2', attributes: [attr.ints('pads', [1, 1, 1, 1])] }),
    makeNode('Add', ['bias2', 'd2'], ['a2'], { name: 'bias_add2' }),
    bn('bn2', 'a2', 'y'),
  ], [value('x', 'float32', [1, 3, 4, 4])], [value('y', 'float32', [1, 4, 8, 8])], {
    w1: floats([3, 4, 2, 2], wave(1)), ...batchNorm('bn1', 4),
    w2: floats([4, 4, 3, 3], wave(2)), bias2: floats([8], (i) => i - 4), ...batchNorm('bn2', 4),
  });
  const { report, out, cosine } = await judge(source, new Map([['x', input([1, 3, 4, 4])]]), dir);
  assert.ok(report.notes.includes('folded 1 BatchNormalization (1 into ConvTranspose) in float64 before converting: their running statistics never reach float16'), report.notes.join('\n'));
  const nodes = out.proto.graph!.node;
  assert.deepEqual(nodes.filter((n) => ['Add', 'BatchNormalization'].includes(n.opType)).map((n) => n.name), ['bias_add2', 'bn2']);
  assert.deepEqual(report.blockedNodes.map((b) => b.node), ['bn2'], 'the BN left reads its 1e7 variances in float32');
  assert.ok(cosine >= 0.9999, `cosine ${cosine}`);
});
