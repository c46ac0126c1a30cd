import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { loadModel, readTensor } from '../../src/onnx/model.js';
import { tensorDtype } from '../../src/onnx/tensor-proto.js';
import { attr, makeNode } from '../../src/quantize/graph.js';
import { NEEDS_CALIBRATION } from '../../src/quantize/int8/rewrite.js';
import { quantize } from '../../src/quantize/quantize.js';
import { writeNpz } from '../../src/tensor/npz.js';
import { Random } from '../../src/tensor/random.js';
import { fixture, tempDir } from '../helpers.js';
import { floats, value, writeModel } from './helpers.js';

const conv = (input: string, weight: string, bias: string, output: string) => makeNode('Conv', [input, weight, bias], [output], {
  name: output, attributes: [attr.ints('kernel_shape', [3, 3]), attr.ints('pads', [1, 1, 1, 1])],
});

/** A residual block: Conv+Relu, Conv, Add of the block's input, Relu, MaxPool, GlobalAveragePool, a small classifier. */
async function residualBlock(dir: string): Promise<string> {
  const random = new Random(4);
  const c = 32;
  return writeModel(path.join(dir, 'block.onnx'), [
    conv('x', 'w1', 'b1', 'c1'),
    makeNode('Relu', ['c1'], ['r1']),
    conv('r1', 'w2', 'b2', 'c2'),
    makeNode('Add', ['c2', 'x'], ['sum']),
    makeNode('Relu', ['sum'], ['r2']),
    makeNode('MaxPool', ['r2'], ['pooled'], { attributes: [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])] }),
    makeNode('GlobalAveragePool', ['pooled'], ['mean']),
    makeNode('Flatten', ['mean'], ['flat']),
    makeNode('Gemm', ['flat', 'fc', 'fc_bias'], ['logits'], { attributes: [attr.int('transB', 1)] }),
  ], [value('x', 'float32', ['batch', c, 32, 32])], [value('logits', 'float32', ['batch', 10])], {
    w1: floats([c, c, 3, 3], () => random.normal() * 0.08), b1: floats([c], () => random.normal() * 0.1),
    w2: floats([c, c, 3, 3], () => random.normal() * 0.08), b2: floats([c], () => random.normal() * 0.1),
    fc: floats([10, c], () => random.normal() * 0.2), fc_bias: floats([10], () => random.normal() * 0.1),
  });
}

/** The op types of the graph ONNX Runtime's CPU provider optimizes a model into: what it really runs. */
async function ranAs(file: string): Promise<Record<string, number>> {
  const optimized = `${file}.optimized.onnx`;
  const session = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimized, logSeverityLevel: 3 });
  await session.release();
  const counts: Record<string, number> = {};
  for (const node of (await loadModel(optimized)).proto.graph!.node) counts[node.opType] = (counts[node.opType] ?? 0) + 1;
  return counts;
}

test('static QDQ is placed so that ONNX Runtime runs QLinearConv with the Relu folded in, QLinearAdd, and int32 biases', async () => {
  const dir = tempDir();
  const source = await residualBlock(dir);
  const random = new Random(5);
  const calibration = path.join(dir, 'calibration.npz');
  await writeNpz(calibration, new Map([['x', floats([8, 32, 32, 32], () => random.normal())]]));
  const report = await quantize(source, { output: path.join(dir, 'block.int8.onnx'), to: 'int8', mode: 'static', calibration });
  assert.equal(report.nodesConverted, 2);
  assert.deepEqual(report.blockedNodes.map((b) => [b.node, b.reason.replace(/:.*/, '')]), [['Gemm(logits)', 'too small for INT8 to pay']]);
  assert.match(report.blockedNodes[0].reason, /320 multiply-adds per sample, and the int8 kernel ran at \d\.\d\d× float at 640 \(Gemm batch 1 × 64→10\)$/);
  const ran = await ranAs(report.output);
  assert.equal(ran.QLinearConv, 2, JSON.stringify(ran));
  assert.equal(ran.QLinearAdd, 1, JSON.stringify(ran));
  assert.equal(ran.QLinearGlobalAveragePool, undefined, 'the pooling follows a float MaxPool region edge, not an int8 producer');
  for (const op of ['Conv', 'FusedConv', 'Relu', 'Add']) assert.equal(ran[op], undefined, `${op} left in float: ${JSON.stringify(ran)}`);
  const model = await loadModel(report.output);
  const graph = model.proto.graph!;
  for (const bias of ['b1', 'b2']) {
    const quantized = graph.initializer.find((t) => t.name === `${bias}_quantized`)!;
    assert.equal(tensorDtype(quantized), 'int32');
    const scale = (await readTensor(model, graph.initializer.find((t) => t.name === `${bias}_scale`)!)).data as Float32Array;
    const weightScale = (await readTensor(model, graph.initializer.find((t) => t.name === `w${bias[1]}_scale`)!)).data as Float32Array;
    const input = bias === 'b1' ? 'x' : 'r1';
    const inputScale = (await readTensor(model, graph.initializer.find((t) => t.name === `${input}_scale`)!)).data[0] as number;
    assert.equal(scale.length, 32);
    scale.forEach((s, c) => assert.ok(Math.abs(s - inputScale * weightScale[c]) <= 1e-6 * s, `${bias}[${c}]`));
  }
  const zeroPoint = (await readTensor(model, graph.initializer.find((t) => t.name === 'r1_zero_point')!)).data[0];
  assert.equal(zeroPoint, 0, 'a Relu output starts at 0, so ORT can drop the Relu into the QLinearConv');
  assert.ok(report.drift.outputs[0].cosine! > 0.99, `cosine ${report.drift.outputs[0].cosine}`);
});

test('convnet: every product is below the size at which the int8 kernels pay, so static INT8 changes nothing, which is an error naming why', async () => {
  const dir = tempDir();
  const output = path.join(dir, 'convnet.int8.onnx');
  await assert.rejects(quantize(fixture('convnet.onnx'), { output, to: 'int8', mode: 'static', calibration: fixture('convnet.reference.npz') }),
    /changed nothing .*3 node\(s\) kept float32 \(Conv: too small for INT8 to pay: 221,184 multiply-adds .*Conv: too small for INT8 to pay: 294,912 multiply-adds .*Gemm: too small for INT8 to pay: 160 multiply-adds/);
  assert.equal(fs.existsSync(output), false);
});

test('auto (the default): dynamic where the dynamic kernel wins, static Conv with calibration, float Conv with the reason without it', async () => {
  const dir = tempDir();
  const source = await residualBlock(dir);
  const random = new Random(6);
  const calibration = path.join(dir, 'calibration.npz');
  await writeNpz(calibration, new Map([['x', floats([8, 32, 32, 32], () => random.normal())]]));
  const bare = await quantize(source, { output: path.join(dir, 'bare.onnx'), to: 'int8' });
  assert.equal(bare.mode, 'auto');
  assert.deepEqual(bare.blockedNodes.map((b) => [b.node, b.reason]), [
    ['c1', NEEDS_CALIBRATION], ['c2', NEEDS_CALIBRATION],
  ]);
  assert.ok(bare.notes.includes('`mode: auto`: dynamic for 1 Gemm; static QDQ for nothing; 2 node(s) have only a static INT8 form that pays, which needs `calibration`'), bare.notes.join('\n'));
  assert.deepEqual((await loadModel(bare.output)).proto.graph!.node.map((n) => n.opType).filter((o) => o !== 'Relu'), ['Conv', 'Conv', 'Add', 'MaxPool', 'GlobalAveragePool', 'Flatten', 'DynamicQuantizeMatMul']);

  const calibrated = await quantize(source, { output: path.join(dir, 'auto.onnx'), to: 'int8', calibration });
  assert.deepEqual(calibrated.blockedNodes, []);
  assert.ok(calibrated.notes.includes('`mode: auto`: dynamic for 1 Gemm; static QDQ for 2 Conv'), calibrated.notes.join('\n'));
  const ran = await ranAs(calibrated.output);
  assert.deepEqual([ran.QLinearConv, ran.QLinearAdd, ran.DynamicQuantizeMatMul], [2, 1, 1], JSON.stringify(ran));
  assert.ok(calibrated.drift.outputs[0].cosine! > 0.99);
});

test('--target tensorrt: symmetric int8 QDQ on every Conv and Gemm input whatever their size, the residual Add inputs too, no com.microsoft ops', async () => {
  const dir = tempDir();
  const source = await residualBlock(dir);
  const random = new Random(7);
  const calibration = path.join(dir, 'calibration.npz');
  await writeNpz(calibration, new Map([['x', floats([8, 32, 32, 32], () => random.normal())]]));
  const report = await quantize(source, { output: path.join(dir, 'trt.onnx'), to: 'int8', target: 'tensorrt', calibration });
  assert.deepEqual([report.mode, report.target, report.nodesConverted, report.blockedNodes.length, report.fused], ['static', 'tensorrt', 3, 0, {}]);
  const model = await loadModel(report.output);
  const graph = model.proto.graph!;
  assert.ok(graph.node.every((n) => n.domain === ''), 'only ONNX ops');
  const dequantized = (name: string) => graph.node.find((n) => n.opType === 'DequantizeLinear' && n.output[0] === name);
  const readsDequantized = (op: string) => graph.node.filter((n) => n.opType === op).map((n) => n.input.slice(0, 2).map((i) => Boolean(dequantized(i))));
  assert.deepEqual(readsDequantized('Conv'), [[true, true], [true, true]]);
  assert.deepEqual(readsDequantized('Gemm'), [[true, true]]);
  assert.deepEqual(readsDequantized('Add'), [[true, true]]);
  for (const q of graph.node.filter((n) => n.opType === 'QuantizeLinear')) {
    const zero = graph.initializer.find((t) => t.name === q.input[2])!;
    assert.equal(tensorDtype(zero), 'int8');
    assert.equal((await readTensor(model, zero)).data[0], 0);
  }
  // full 8-bit weights on any CPU: the weights of each Conv and the Gemm reach ±127
  assert.ok(report.notes.includes('8-bit weights for TensorRT (its int8 kernels accumulate in int32; the CPU quantizing does not matter)'), report.notes.join('\n'));
  for (const op of ['Conv', 'Gemm']) {
    for (const node of graph.node.filter((n) => n.opType === op)) {
      const weight = graph.initializer.find((t) => t.name === dequantized(node.input[1])!.input[0])!;
      const values = Array.from((await readTensor(model, weight)).data as Int8Array);
      assert.equal(Math.max(...values.map(Math.abs)), 127, `${node.name} weights`);
    }
  }
  await assert.rejects(quantize(source, { output: path.join(dir, 'x.onnx'), to: 'int8', target: 'tensorrt', mode: 'dynamic', calibration }), /`target: tensorrt` is static QDQ/);
  await assert.rejects(quantize(source, { output: path.join(dir, 'x.onnx'), to: 'int8', target: 'tensorrt' }), /static quantization needs calibration data/);
});

/** An inverted residual: 3×3 expand 64→128, activation, 3×3 depthwise, activation, 1×1 project 128→64, Add of the block's input. */
async function invertedResidual(dir: string, activation: 'Relu' | 'HardSwish'): Promise<string> {
  const random = new Random(8);
  const convNode = (input: string, weight: string, output: string, k: number, group = 1) => makeNode('Conv', [input, weight, `${weight}_bias`], [output], {
    name: output, attributes: [attr.ints('kernel_shape', [k, k]), attr.ints('pads', Array(4).fill(k >> 1)), attr.int('group', group)],
  });
  const weights = (shape: number[], sd: number) => ({ [`w${shape.join('_')}`]: floats(shape, () => random.normal() * sd), [`w${shape.join('_')}_bias`]: floats([shape[0]], () => random.normal() * 0.1) });
  return writeModel(path.join(dir, `block.${activation}.onnx`), [
    convNode('x', 'w128_64_3_3', 'expand', 3),
    makeNode(activation, ['expand'], ['a1']),
    convNode('a1', 'w128_1_3_3', 'depthwise', 3, 128),
    makeNode(activation, ['depthwise'], ['a2']),
    convNode('a2', 'w64_128_1_1', 'project', 1),
    makeNode('Add', ['project', 'x'], ['y']),
  ], [value('x', 'float32', ['batch', 64, 28, 28])], [value('y', 'float32', ['batch', 64, 28, 28])], {
    ...weights([128, 64, 3, 3], 0.05), ...weights([128, 1, 3, 3], 0.3), ...weights([64, 128, 1, 1], 0.1),
  });
}

test('a Conv stays int8 between int8 neighbours (Relu folds) and float where too few multiply-adds per value pay for converting its edges between float and int8 (HardSwish has no int8 kernel)', async () => {
  const dir = tempDir();
  const random = new Random(9);
  const calibration = path.join(dir, 'calibration.npz');
  await writeNpz(calibration, new Map([['x', floats([4, 64, 28, 28], () => random.normal())]]));
  const relu = await quantize(await invertedResidual(dir, 'Relu'), { output: path.join(dir, 'relu.int8.onnx'), to: 'int8', mode: 'static', calibration });
  assert.deepEqual([relu.nodesConverted, relu.blockedNodes], [3, []]);
  assert.equal((await ranAs(relu.output)).QLinearConv, 3);

  const hardSwish = await quantize(await invertedResidual(dir, 'HardSwish'), { output: path.join(dir, 'hardswish.int8.onnx'), to: 'int8', mode: 'static', calibration });
  assert.equal(hardSwish.nodesConverted, 1);
  // Per value converted: the expand does 64·128·9 over 64 + 128, the depthwise 9 over 2 (its
  // input and output), the project 128·64 over 128 (its output goes on in int8, to the Add).
  assert.deepEqual(hardSwish.blockedNodes.map((b) => [b.node, Number(/: ([\d.]+) multiply-adds per value/.exec(b.reason)?.[1])]), [['depthwise', 4.5], ['project', 64]]);
  assert.match(hardSwish.blockedNodes[0].reason, /^its int8 island costs more than it saves: 4\.5 multiply-adds per value converted between float and int8 at its edges, and a Conv between float neighbours ran at 0\.\d\d× float at [\d.]+ \(Conv\+/);
  assert.equal((await ranAs(hardSwish.output)).QLinearConv, 1);
  assert.ok(hardSwish.drift.outputs[0].cosine! > 0.99, `cosine ${hardSwish.drift.outputs[0].cosine}`);
});
