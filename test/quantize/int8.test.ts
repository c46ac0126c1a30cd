import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadModel, readTensor } from '../../src/onnx/model.js';
import { tensorDtype } from '../../src/onnx/tensor-proto.js';
import { attr, makeNode } from '../../src/quantize/graph.js';
import type { QuantizeOptions } from '../../src/quantize/options.js';
import type { QuantizeReport } from '../../src/quantize/result.js';
import { quantize } from '../../src/quantize/quantize.js';
import { readNpz, writeNpz } from '../../src/tensor/npz.js';
import { Random } from '../../src/tensor/random.js';
import { fixture, python, skipWithoutPython, tempDir } from '../helpers.js';
import { drift, floats, run, value, writeModel } from './helpers.js';

const calibration = fixture('encoder.calibration.npz');

/**
 * The acceptance bar, read from quantize's own drift report: the holdout inputs (never used for
 * calibration) through the FP32 model and the INT8 one.
 */
function assertAccurate(report: QuantizeReport): void {
  assert.equal(report.drift.sets, 1);
  assert.match(report.drift.against.path, /encoder\.onnx$/);
  const bounds: Record<string, number> = { logits: 0.08, hidden_states: 0.6 };
  assert.deepEqual(report.drift.outputs.map((o) => [o.name, o.shape]), [['logits', [16, 4]], ['hidden_states', [16, 24, 64]]]);
  for (const o of report.drift.outputs) {
    assert.ok(o.cosine! >= 0.995, `${o.name}: cosine ${o.cosine}`);
    assert.ok(o.maxAbsError <= bounds[o.name], `${o.name}: max abs ${o.maxAbsError} > ${bounds[o.name]}`);
  }
}

async function quantizeEncoder(options: Omit<QuantizeOptions, 'output' | 'to'>) {
  const out = path.join(tempDir(), 'encoder.int8.onnx');
  const report = await quantize(fixture('encoder.onnx'), { output: out, to: 'int8', inputs: fixture('encoder.holdout.npz'), ...options });
  assert.equal(report.sizeAfter, fs.statSync(out).size);
  assert.ok(report.sizeAfter / report.sizeBefore <= 0.35, `size ratio ${(report.sizeAfter / report.sizeBefore).toFixed(3)}`);
  assertAccurate(report);
  return { report, model: await loadModel(out) };
}

const ops = (model: Awaited<ReturnType<typeof loadModel>>) => model.proto.graph!.node.map((n) => n.opType);

test('INT8 dynamic encoder: 35 % of the size with embeddings, accurate on unseen inputs, fused integer kernels', async () => {
  const { report, model } = await quantizeEncoder({ mode: 'dynamic' });
  assert.equal(report.mode, 'dynamic');
  assert.deepEqual(report.fused, { Attention: 2 });
  assert.ok(report.notes.some((n) => n.startsWith('fused 2 Attention (')), report.notes.join('\n'));
  assert.equal(report.nodesConverted, 12, '2 Attention + 6 MatMul + 2 Gemm + 2 embedding Gather');
  assert.deepEqual(report.blockedNodes, [], 'the attention products of two activations are inside QAttention');
  const count = (op: string) => ops(model).filter((o) => o === op).length;
  assert.deepEqual([count('QAttention'), count('DynamicQuantizeLinear'), count('DynamicQuantizeMatMul'), count('Softmax')], [2, 2, 8, 0]);
  assert.equal(count('Add'), 21 - 6 - 2 - 6, 'q/k/v biases are in QAttention, the masks in its mask_index, 6 biases in the kernels');
  assert.ok(model.proto.opsetImport.some((o) => o.domain === 'com.microsoft'));
  const graph = model.proto.graph!;
  for (const table of ['tokens.weight', 'positions.weight']) {
    const quantized = graph.initializer.find((t) => t.name === `${table}_quantized`)!;
    assert.equal(tensorDtype(quantized), 'int8', `${table} is stored as int8`);
    const gather = graph.node.find((n) => n.opType === 'Gather' && n.input[0] === quantized.name)!;
    const dequantize = graph.node.find((n) => n.input[0] === gather.output[0])!;
    assert.equal(dequantize.opType, 'DequantizeLinear', 'only the gathered rows are dequantized');
  }
  assert.equal(graph.initializer.filter((t) => tensorDtype(t) === 'float32' && t.dims.length === 2).length, 0, 'no float32 matrix is left');
  // The drift report and an independent computation agree.
  const holdout = await readNpz(fixture('encoder.holdout.npz'));
  const local = drift((await run(fixture('encoder.onnx'), holdout)).get('logits')!, (await run(model.path, holdout)).get('logits')!);
  const logits = report.drift.outputs[0];
  assert.ok(Math.abs(local.cosine - logits.cosine!) < 1e-9 && Math.abs(local.maxAbs - logits.maxAbsError) < 1e-9);
});

test('INT8 dynamic without fusion (--no-fuse): the graph as exported, every constant-weight product quantized', async () => {
  const { report, model } = await quantizeEncoder({ mode: 'dynamic', fuse: false });
  assert.deepEqual(report.fused, {});
  assert.ok(report.notes.includes('no fusion (`fuse: false`)'));
  assert.equal(report.nodesConverted, 16, '12 MatMul + 2 Gemm + 2 embedding Gather');
  assert.deepEqual(report.blockedNodes.map((b) => b.op), ['MatMul', 'MatMul', 'MatMul', 'MatMul'], 'only the attention products of two activations stay float');
  assert.equal(ops(model).filter((o) => o === 'DynamicQuantizeMatMul').length, 14);
  assert.equal(ops(model).filter((o) => o === 'Add').length, 21 - 12, 'the 12 bias Adds are folded into the kernels');
});

for (const method of ['minmax', 'percentile', 'entropy'] as const) {
  test(`INT8 static QDQ (${method}) encoder: 35 % of the size, accurate on unseen inputs`, async () => {
    const { report, model } = await quantizeEncoder({ mode: 'static', calibration, method });
    assert.equal(report.mode, 'static');
    assert.ok(report.notes.includes(`activation ranges: ${method}${method === 'percentile' ? ' 99.99' : ''} over 4 calibration batch(es)`), report.notes.join('\n'));
    const graph = model.proto.graph!;
    const matmuls = graph.node.filter((n) => n.opType === 'MatMul' && graph.node.find((p) => p.output.includes(n.input[1]))?.opType === 'DequantizeLinear');
    assert.equal(matmuls.length, 12);
    for (const matmul of matmuls) {
      const activation = graph.node.find((n) => n.output.includes(matmul.input[0]))!;
      assert.equal(activation.opType, 'DequantizeLinear');
      assert.equal(graph.node.find((n) => n.output.includes(activation.input[0]))!.opType, 'QuantizeLinear', 'each activation goes through a Q/DQ pair');
      const weight = graph.node.find((n) => n.output.includes(matmul.input[1]))!;
      const scale = graph.initializer.find((t) => t.name === weight.input[1])!;
      assert.equal(scale.dims.length, 1, 'weights are per-channel');
      assert.equal(tensorDtype(graph.initializer.find((t) => t.name === weight.input[0])!), 'int8');
    }
    // The FFN's bias Add feeds Gelu (erf form): its bias is [1, 256], so ORT does not fuse them into BiasGelu.
    const gelu = graph.node.filter((n) => n.opType === 'Add' && /ffn\.0\/Add$/.test(n.name));
    assert.deepEqual(gelu.map((n) => graph.initializer.find((t) => n.input.includes(t.name))?.dims.map(Number)), [[1, 256], [1, 256]]);
    assert.ok(!model.proto.opsetImport.some((o) => o.domain === 'com.microsoft'), 'QDQ uses standard ops only');
    });
}

test('--reduce-range keeps every weight within ±63, --no-per-channel gives one scale per tensor', async () => {
  const { model } = await quantizeEncoder({ mode: 'dynamic', reduceRange: true, perChannel: false });
  const quantized = model.proto.graph!.initializer.filter((t) => t.name.endsWith('_quantized'));
  assert.equal(quantized.length, 12, '2 packed QKV, 6 MatMul, 2 Gemm, 2 embeddings');
  for (const tensor of quantized) {
    const values = (await readTensor(model, tensor)).data as Int8Array;
    assert.equal(Math.max(...values.map(Math.abs)), 63, tensor.name);
  }
  assert.ok(model.proto.graph!.initializer.filter((t) => t.name.endsWith('_scale')).every((t) => t.dims.length === 0));
});

test('--symmetric gives int8 activations with zero point 0', async () => {
  const { model } = await quantizeEncoder({ mode: 'static', calibration, symmetric: true });
  const graph = model.proto.graph!;
  const quantizers = graph.node.filter((n) => n.opType === 'QuantizeLinear');
  // One per activation a quantized MatMul or Gemm reads; the projections' outputs, which only float
  // ops read (Reshape, Gelu, a residual Add before LayerNormalization), get none.
  assert.equal(quantizers.length, 9);
  for (const q of quantizers) {
    const zero = graph.initializer.find((t) => t.name === q.input[2])!;
    assert.equal(tensorDtype(zero), 'int8');
    assert.equal((await readTensor(model, zero)).data[0], 0);
  }
});

test('--op-types and --exclude-node choose what is quantized', async () => {
  const { report, model } = await quantizeEncoder({ mode: 'dynamic', opTypes: ['MatMul', 'Gather'], excludeNodes: ['/blocks.0/attention/query/MatMul'] });
  assert.equal(ops(model).filter((o) => o === 'Gemm').length, 2, 'Gemm was not asked for');
  assert.ok(report.blockedNodes.some((b) => b.node === '/blocks.0/attention/query/MatMul' && b.reason === 'named by `excludeNodes`'));
  assert.equal(report.nodesConverted, 13);
});

test('convnet: dynamic keeps Conv float (ConvInteger loses to float Conv on this CPU) and quantizes the Gemm, close to the reference', async () => {
  const reference = await readNpz(fixture('convnet.reference.npz'));
  const report = await quantize(fixture('convnet.onnx'), { output: path.join(tempDir(), 'dynamic.onnx'), to: 'int8', mode: 'dynamic' });
  assert.equal(report.nodesConverted, 1, 'the Gemm');
  assert.deepEqual(report.blockedNodes.map((b) => b.op), ['Conv', 'Conv']);
  assert.match(report.blockedNodes[0].reason, /^no faster INT8 kernel on this CPU: DynamicQuantizeLinear\+ConvInteger\+Cast\+Mul ran at 0\.\d\d× float speed \(x64-(?:avx2|vnni), bench\/int8-kernels\.ts\)$/);
  assert.deepEqual(ops(await loadModel(report.output)).filter((o) => o === 'ConvInteger' || o === 'Conv'), ['Conv', 'Conv']);
  const { cosine, maxAbs } = drift(reference.get('logits')!, (await run(report.output, reference)).get('logits')!);
  assert.ok(cosine > 0.999 && maxAbs < 0.02, `cosine ${cosine}, max abs ${maxAbs}`);
});

test('com.microsoft Attention becomes QAttention and keeps its outputs', async () => {
  const dir = tempDir();
  const random = new Random(3);
  const hidden = 16;
  const source = await writeModel(path.join(dir, 'attention.onnx'), [
    makeNode('Attention', ['x', 'w', 'b', 'mask'], ['y'], { name: 'attention', domain: 'com.microsoft', attributes: [attr.int('num_heads', 2)] }),
  ], [value('x', 'float32', ['batch', 'seq', hidden]), value('mask', 'int32', ['batch', 'seq'])], [value('y', 'float32', ['batch', 'seq', hidden])], {
    w: floats([hidden, 3 * hidden], () => random.normal() * 0.3),
    b: floats([3 * hidden], () => random.normal() * 0.1),
  }, { '': 17, 'com.microsoft': 1 });
  const report = await quantize(source, { output: path.join(dir, 'attention.int8.onnx'), to: 'int8' });
  const model = await loadModel(report.output);
  assert.deepEqual(ops(model), ['DynamicQuantizeLinear', 'QAttention']);
  const inputs = new Map([
    ['x', floats([2, 5, hidden], () => random.normal())],
    ['mask', { dtype: 'int32' as const, shape: [2, 5], data: Int32Array.of(1, 1, 1, 1, 1, 1, 1, 1, 0, 0) }],
  ]);
  const { cosine } = drift((await run(source, inputs)).get('y')!, (await run(report.output, inputs)).get('y')!);
  assert.ok(cosine > 0.999, `cosine ${cosine}`);
});

test('ONNX checker with full type inference accepts the static QDQ model', { skip: skipWithoutPython(['onnx']) }, async () => {
  const { model } = await quantizeEncoder({ mode: 'static', calibration });
  assert.equal(python(['onnx'], 'import onnx, sys\nonnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)\nprint("ok")', [model.path]).trim(), 'ok');
});

test('static calibration of an activation that is empty on every batch (a Compress that selects nothing) finishes with scale 1', async () => {
  const dir = tempDir();
  const random = new Random(5);
  const source = await writeModel(path.join(dir, 'filter.onnx'), [
    makeNode('Gather', ['x', 'first'], ['column'], { attributes: [attr.int('axis', 1)] }),
    makeNode('Greater', ['column', 'limit'], ['keep']),
    makeNode('Compress', ['x', 'keep'], ['picked'], { attributes: [attr.int('axis', 0)] }),
    makeNode('MatMul', ['picked', 'w'], ['projected'], { name: 'project_picked' }),
    makeNode('MatMul', ['x', 'w'], ['y'], { name: 'project' }),
  ], [value('x', 'float32', ['batch', 4])], [value('y', 'float32', ['batch', 3]), value('projected', 'float32', ['n', 3])], {
    w: floats([4, 3], () => random.normal()), limit: floats([], [100]), first: { dtype: 'int64', shape: [], data: BigInt64Array.of(0n) },
  }, { '': 13 });
  const calibration = path.join(dir, 'calibration.npz');
  await writeNpz(calibration, new Map([['x', floats([16, 4], () => random.normal())]]));
  for (const method of ['minmax', 'percentile', 'entropy'] as const) {
    const report = await quantize(source, { output: path.join(dir, `${method}.onnx`), to: 'int8', mode: 'static', calibration, method, symmetric: true });
    assert.equal(report.nodesConverted, 2);
    const model = await loadModel(report.output);
    const scale = async (name: string) => Number((await readTensor(model, model.proto.graph!.initializer.find((t) => t.name === name)!)).data[0]);
    assert.equal(await scale('picked_scale'), 1, `${method}: no values, no range`);
    const x = await scale('x_scale');
    assert.ok(x > 0.01 && x < 4 / 127, `${method}: x scale ${x}`);
  }
});

for (const opset of [9, 11]) {
  test(`an opset-${opset} model is upgraded to 13 and its weights quantized per channel (once refused below 10, per tensor below 13)`, async () => {
    const dir = tempDir();
    const random = new Random(9);
    const source = await writeModel(path.join(dir, `opset${opset}.onnx`), [
      makeNode('MatMul', ['x', 'w'], ['h'], { name: 'mm' }),
      makeNode('Softmax', ['h'], ['y'], { name: 'softmax' }),
    ], [value('x', 'float32', ['batch', 4])], [value('y', 'float32', ['batch', 3])], {
      // columns of very different scales: one scale per tensor would flatten the small ones
      w: floats([4, 3], (i) => random.normal() * [8, 0.05, 1][i % 3]),
    }, { '': opset });
    const report = await quantize(source, { output: path.join(dir, `opset${opset}.int8.onnx`), to: 'int8', mode: 'dynamic' });
    assert.ok(report.notes.includes(`upgraded from opset ${opset} to 13 before quantizing, for per-channel weight scales (Softmax: axis 1 made explicit (the default became -1))`), report.notes.join('\n'));
    assert.equal(report.nodesConverted, 1);
    const model = await loadModel(report.output);
    assert.equal(model.proto.opsetImport.find((o) => o.domain === '')!.version, 13n);
    const scale = model.proto.graph!.initializer.find((t) => t.name.startsWith('w') && t.name.endsWith('_scale'))!;
    assert.deepEqual(scale.dims, [3n], 'one scale per output column');
    assert.ok(report.drift.outputs[0].cosine! > 0.9999, `cosine ${report.drift.outputs[0].cosine}`);
  });
}
