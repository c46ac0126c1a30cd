import { create } from '@bufbuild/protobuf';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AttributeProtoSchema, AttributeProto_AttributeType, GraphProtoSchema } from '../../src/onnx/gen/onnx_pb.js';
import { loadModel, readTensor } from '../../src/onnx/model.js';
import { signature } from '../../src/onnx/signature.js';
import { tensorDtype, tensorToProto } from '../../src/onnx/tensor-proto.js';
import { attr, makeNode } from '../../src/quantize/graph.js';
import { quantize } from '../../src/quantize/quantize.js';
import { inferTypes } from '../../src/quantize/types.js';
import { onnxFromDtype } from '../../src/tensor/dtype.js';
import { readNpz, writeNpz } from '../../src/tensor/npz.js';
import { halfToFloat } from '../../src/tensor/tensor.js';
import { fixture, python, skipWithoutPython, tempDir } from '../helpers.js';
import { drift, floats, run, value, writeModel } from './helpers.js';

test('FP16 encoder: float16 weights, 55 % of the size at most, within 2e-2 and cosine 0.9999 of FP32', async () => {
  const out = path.join(tempDir(), 'encoder.fp16.onnx');
  const report = await quantize(fixture('encoder.onnx'), { output: out, to: 'fp16' });
  assert.equal(report.sizeAfter, fs.statSync(out).size);
  assert.ok(report.sizeAfter / report.sizeBefore <= 0.55, `size ratio ${report.sizeAfter / report.sizeBefore}`);
  assert.equal(report.clamped, 0);
  assert.deepEqual(report.blockedNodes, []);
  const model = await loadModel(out);
  const matrices = model.proto.graph!.initializer.filter((t) => t.dims.length === 2);
  assert.ok(matrices.length >= 14);
  assert.ok(matrices.every((t) => tensorDtype(t) === 'float16'), 'every weight matrix is float16');
  assert.equal(model.proto.graph!.initializer.filter((t) => tensorDtype(t) === 'float32').length, 0);

  const reference = await readNpz(fixture('encoder.reference.npz'));
  const outputs = await run(out, reference);
  for (const name of ['logits', 'hidden_states']) {
    const expected = reference.get(name)!;
    const actual = outputs.get(name)!;
    assert.equal(actual.dtype, 'float16');
    const e = expected.data as Float32Array;
    const a = Float32Array.from(actual.data as Uint16Array, halfToFloat);
    const beyond = e.filter((v, i) => Math.abs(a[i] - v) > 2e-2 + 2e-2 * Math.abs(v)).length;
    assert.equal(beyond, 0, `${name}: ${beyond} elements beyond atol/rtol 2e-2`);
    const { cosine } = drift(expected, actual);
    assert.ok(cosine >= 0.9999, `${name} cosine ${cosine}`);
  }
});

test('FP16 on unseen inputs stays within 2e-2 of the FP32 model', async () => {
  const out = path.join(tempDir(), 'encoder.fp16.onnx');
  await quantize(fixture('encoder.onnx'), { output: out, to: 'fp16' });
  const holdout = await readNpz(fixture('encoder.holdout.npz'));
  const [fp32, fp16] = [await run(fixture('encoder.onnx'), holdout), await run(out, holdout)];
  for (const name of ['logits', 'hidden_states']) {
    const { cosine, maxAbs } = drift(fp32.get(name)!, fp16.get(name)!);
    assert.ok(cosine >= 0.9999 && maxAbs < 2e-2, `${name}: cosine ${cosine}, max abs ${maxAbs}`);
  }
});

test('--keep-io-types keeps float32 inputs and outputs with Casts at the edges; without it they are float16', async () => {
  const dir = tempDir();
  const kept = path.join(dir, 'kept.onnx');
  const half = path.join(dir, 'half.onnx');
  await quantize(fixture('convnet.onnx'), { output: kept, to: 'fp16', keepIoTypes: true });
  await quantize(fixture('convnet.onnx'), { output: half, to: 'fp16' });
  const keptModel = await loadModel(kept);
  const sig = signature(keptModel.proto);
  assert.deepEqual([...sig.inputs, ...sig.outputs].map((t) => t.dtype), ['float32', 'float32']);
  const nodes = keptModel.proto.graph!.node;
  const first = nodes.find((n) => n.input.includes('image'))!;
  assert.equal(first.opType, 'Cast');
  assert.equal(Number(first.attribute[0].i), 10, 'the input is cast to float16');
  const last = nodes.find((n) => n.output.includes('logits'))!;
  assert.equal(last.opType, 'Cast');
  assert.equal(Number(last.attribute[0].i), 1, 'the output is cast back to float32');
  const halfSig = signature((await loadModel(half)).proto);
  assert.deepEqual([...halfSig.inputs, ...halfSig.outputs].map((t) => t.dtype), ['float16', 'float16']);

  const reference = await readNpz(fixture('convnet.reference.npz'));
  for (const file of [kept, half]) {
    const { cosine, maxAbs } = drift(reference.get('logits')!, (await run(file, reference)).get('logits')!);
    assert.ok(cosine > 0.9999 && maxAbs < 2e-2, `${path.basename(file)}: cosine ${cosine}, max abs ${maxAbs}`);
  }
});

test('values too small for float16 are clamped and counted; a weight beyond it keeps its readers in float32 instead of being clamped', async () => {
  const dir = tempDir();
  const source = await writeModel(path.join(dir, 'wide.onnx'), [
    makeNode('MatMul', ['x', 'w'], ['h'], { name: 'mm' }),
    makeNode('MatMul', ['h', 'v'], ['y'], { name: 'small' }),
  ], [value('x', 'float32', [1, 2])], [value('y', 'float32', [1, 2])], {
    w: floats([2, 3], [1e6, -7e4, 1e-9, 0.5, -0.25, 3]),
    v: floats([3, 2], [1e-9, -1e-10, 0.5, 0.25, -2, 1]),
  });
  const report = await quantize(source, { output: path.join(dir, 'wide.fp16.onnx'), to: 'fp16', keepIoTypes: true });
  assert.deepEqual(report.blockedNodes, [{ node: 'mm', op: 'MatMul', reason: "constant 'w' holds 1.000e+6, beyond float16's 65504: kept in float32 rather than clamped" }]);
  assert.equal(report.clamped, 2);
  assert.ok(report.notes.some((n) => /clamped 0 value\(s\) above float16's 65504 and 2 nonzero value\(s\) below its smallest subnormal, in v$/.test(n)), report.notes.join('\n'));
  const model = await loadModel(report.output);
  const [w, v] = ['w', 'v'].map((name) => model.proto.graph!.initializer.find((t) => t.name === name)!);
  assert.deepEqual(Array.from((await readTensor(model, w)).data as Float32Array), [1e6, -7e4, Math.fround(1e-9), 0.5, -0.25, 3]);
  assert.deepEqual(Array.from((await readTensor(model, v)).data as Uint16Array, halfToFloat), [2 ** -24, -(2 ** -24), 0.5, 0.25, -2, 1]);
  const y = (await run(report.output, new Map([['x', floats([1, 2], [1, 2])]]))).get('y')!;
  const h = [1e6 + 1, -7e4 - 0.5, 1e-9 + 6];
  const expected = [0, 1].map((c) => h.reduce((sum, hk, k) => sum + hk * [1e-9, -1e-10, 0.5, 0.25, -2, 1][k * 2 + c], 0));
  assert.ok(drift(floats([1, 2], expected), y).cosine > 0.9999, `y ${Array.from(y.data as Float32Array)} vs ${expected}`);
});

/** y = x·256·512·2^-9·2^-8 = x; the intermediate b = 131072·x (also an output) is beyond float16 for |x| > 0.5. */
async function overflowingModel(dir: string): Promise<string> {
  const scale = (name: string, input: string, output: string, factor: string) => makeNode('Mul', [input, factor], [output], { name });
  return writeModel(path.join(dir, 'overflow.onnx'), [
    scale('up1', 'x', 'a', 'k256'), scale('up2', 'a', 'b', 'k512'), scale('down1', 'b', 'c', 'k2m9'), scale('down2', 'c', 'y', 'k2m8'),
  ], [value('x', 'float32', ['batch', 8])], [value('y', 'float32', ['batch', 8]), value('b', 'float32', ['batch', 8])], {
    k256: floats([], [256]), k512: floats([], [512]), k2m9: floats([], [2 ** -9]), k2m8: floats([], [2 ** -8]),
  });
}

/**
 * ORT's CPU provider computes such chains in float32 even in an FP16 model (it has no float16
 * kernels for them and removes the cast pairs it inserts), so on CPU the overflow cannot be
 * observed at run time; GPUs and TensorRT compute it in float16. The test asserts the graph:
 * which values are float16 and which stay float32.
 */
test('--auto-block keeps in float32 the nodes whose values overflow float16', async () => {
  const dir = tempDir();
  const source = await overflowingModel(dir);
  const x = floats([4, 8], (i) => (i % 7) - 3);
  const inputs = new Map([['x', x]]);
  const plain = await quantize(source, { output: path.join(dir, 'plain.onnx'), to: 'fp16', keepIoTypes: true });
  assert.deepEqual(plain.blockedNodes, []);
  const plainTypes = await inferTypes((await loadModel(plain.output)).proto, plain.output);
  assert.equal(plainTypes.get('b_fp16')?.dtype, 'float16', 'without --auto-block b is computed in float16');

  const calibration = path.join(dir, 'calibration.npz');
  await writeNpz(calibration, inputs);
  const report = await quantize(source, { output: path.join(dir, 'auto.onnx'), to: 'fp16', keepIoTypes: true, autoBlock: true, calibration });
  assert.deepEqual(report.blockedNodes.map((b) => b.node).sort(), ['down1', 'up2']);
  assert.ok(report.blockedNodes.every((b) => /'b' reaches 3\.932e\+5, beyond float16's 65504/.test(b.reason)), JSON.stringify(report.blockedNodes));
  const auto = await loadModel(report.output);
  const types = await inferTypes(auto.proto, auto.path);
  const node = (name: string) => auto.proto.graph!.node.find((n) => n.name === name)!;
  assert.equal(types.get(node('up2').output[0])?.dtype, 'float32');
  assert.equal(node('up2').output[0], 'b', 'the blocked node writes the float32 output itself');
  assert.equal(types.get(node('down1').output[0])?.dtype, 'float32');
  assert.equal(types.get(node('down2').output[0])?.dtype, 'float16', 'the nodes after the hazard are float16 again');
  const outputs = await run(report.output, inputs);
  assert.ok((outputs.get('b')!.data as Float32Array).every((v, i) => v === (x.data as Float32Array)[i] * 131072));
  assert.ok(drift(x, outputs.get('y')!).maxAbs < 1e-2);
});

test('--auto-block ignores empty values: a 0-element tensor reaches nothing', async () => {
  const dir = tempDir();
  const int64s = (values: bigint[]) => ({ dtype: 'int64' as const, shape: [values.length], data: BigInt64Array.from(values) });
  const source = await writeModel(path.join(dir, 'empty.onnx'), [
    makeNode('Slice', ['x', 'zero', 'zero', 'one'], ['none'], { name: 'slice' }),
    makeNode('Concat', ['none', 'x'], ['y'], { name: 'concat', attributes: [attr.int('axis', 1)] }),
  ], [value('x', 'float32', ['batch', 4])], [value('y', 'float32', ['batch', 4])], { zero: int64s([0n]), one: int64s([1n]) });
  const report = await quantize(source, { output: path.join(dir, 'empty.fp16.onnx'), to: 'fp16', autoBlock: true });
  assert.deepEqual(report.blockedNodes, []);
  assert.ok(report.notes.includes('`autoBlock` ran the float32 model on generated inputs: 0 node(s) kept in float32'), report.notes.join('\n'));
});

test('--block-op and --block-node keep nodes in float32 behind Casts, and the result stays accurate', async () => {
  const out = path.join(tempDir(), 'encoder.blocked.onnx');
  const report = await quantize(fixture('encoder.onnx'), {
    output: out, to: 'fp16', blockOps: ['Softmax'], blockNodes: ['/blocks.0/norm1/LayerNormalization'],
  });
  assert.deepEqual(report.blockedNodes.map((b) => b.op).sort(), ['LayerNormalization', 'Softmax', 'Softmax']);
  const model = await loadModel(out);
  for (const softmax of model.proto.graph!.node.filter((n) => n.opType === 'Softmax')) {
    const producer = model.proto.graph!.node.find((n) => n.output.includes(softmax.input[0]))!;
    assert.equal(producer.opType, 'Cast', 'a blocked node reads through a Cast to float32');
    assert.equal(Number(producer.attribute[0].i), 1);
  }
  const holdout = await readNpz(fixture('encoder.holdout.npz'));
  const [fp32, fp16] = [await run(fixture('encoder.onnx'), holdout), await run(out, holdout)];
  assert.ok(drift(fp32.get('logits')!, fp16.get('logits')!).cosine > 0.9999);
});

test('the default block list keeps ops whose element type comes from an attribute in float32', async () => {
  const dir = tempDir();
  const source = await writeModel(path.join(dir, 'eye.onnx'), [
    makeNode('EyeLike', ['x'], ['eye'], { name: 'eye' }),
    makeNode('Add', ['x', 'eye'], ['y'], { name: 'add' }),
  ], [value('x', 'float32', [2, 2])], [value('y', 'float32', [2, 2])]);
  const report = await quantize(source, { output: path.join(dir, 'eye.fp16.onnx'), to: 'fp16' });
  assert.deepEqual(report.blockedNodes, [{ node: 'eye', op: 'EyeLike', reason: 'element type set by an attribute, not by its inputs' }]);
  const y = (await run(report.output, new Map([['x', floats([2, 2], [1.5, -2, 0.25, 8])]]))).get('y')!;
  assert.deepEqual(Array.from(y.data as Uint16Array, halfToFloat), [2.5, -2, 0.25, 9]);
});

test('constants follow their readers: a default ConstantOfShape and a float32-only reader get the right types', async () => {
  const dir = tempDir();
  const source = await writeModel(path.join(dir, 'constants.onnx'), [
    makeNode('Shape', ['x'], ['shape'], { name: 'shape' }),
    makeNode('ConstantOfShape', ['shape'], ['zeros'], { name: 'zeros' }),
    makeNode('Add', ['x', 'zeros'], ['sum'], { name: 'add' }),
    makeNode('Shape', ['w'], ['wshape'], { name: 'wshape' }),
    makeNode('Cast', ['wshape'], ['n'], { name: 'n', attributes: [attr.int('to', 1)] }),
    makeNode('Mul', ['sum', 'n'], ['y'], { name: 'mul' }),
  ], [value('x', 'float32', [3])], [value('y', 'float32', [3]), value('w', 'float32', [2])], { w: floats([2], [1, 2]) });
  const report = await quantize(source, { output: path.join(dir, 'constants.fp16.onnx'), to: 'fp16', keepIoTypes: true });
  const y = (await run(report.output, new Map([['x', floats([3], [1, -2, 0.5])]]))).get('y')!;
  assert.deepEqual(Array.from(y.data as Float32Array), [2, -4, 1]);
  assert.equal(signature((await loadModel(report.output)).proto).outputs[1].dtype, 'float32', 'an initializer that is an output keeps the output type');
});

test('an external-data model gives an external-data FP16 model', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'encoder.fp16.onnx');
  const report = await quantize(fixture('encoder_external', 'encoder.onnx'), { output: out, to: 'fp16' });
  assert.deepEqual(fs.readdirSync(dir).sort(), ['encoder.fp16.onnx', 'encoder.fp16.onnx.data']);
  assert.equal(report.sizeAfter, fs.statSync(out).size + fs.statSync(`${out}.data`).size);
  const holdout = await readNpz(fixture('encoder.holdout.npz'));
  const [fp32, fp16] = [await run(fixture('encoder.onnx'), holdout), await run(out, holdout)];
  assert.ok(drift(fp32.get('hidden_states')!, fp16.get('hidden_states')!).cosine > 0.9999);
});

test('ONNX checker with full type inference accepts the FP16 models, value_info included', { skip: skipWithoutPython(['onnx']) }, async () => {
  const dir = tempDir();
  // The encoder with value_info for every intermediate, as onnx's shape inference writes it.
  const annotated = path.join(dir, 'encoder.annotated.onnx');
  python(['onnx'], 'import onnx, sys\nonnx.save(onnx.shape_inference.infer_shapes(onnx.load(sys.argv[1])), sys.argv[2])', [fixture('encoder.onnx'), annotated]);
  const files = [];
  for (const [source, keepIoTypes] of [[annotated, false], [fixture('convnet.onnx'), true]] as const) {
    files.push((await quantize(source, { output: path.join(dir, path.basename(source).replace('.onnx', '.fp16.onnx')), to: 'fp16', keepIoTypes })).output);
  }
  const model = await loadModel(files[0]);
  const valueInfo = model.proto.graph!.valueInfo;
  assert.ok(valueInfo.length > 100);
  const types = await inferTypes(model.proto, model.path);
  const stale = valueInfo.filter((v) => v.type?.value.case === 'tensorType' && v.type.value.value.elemType !== onnxFromDtype(types.get(v.name)!.dtype));
  assert.deepEqual(stale.map((v) => v.name), [], 'every value_info states the type the value now has');
  const out = python(['onnx'], 'import onnx, sys\nfor f in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(f), full_check=True)\n    print("ok")', files);
  assert.equal(out.trim(), 'ok\nok');
});

test('a model whose float16 weights are Constant nodes, or whose quantized ops sit in a subgraph, is refused as already quantized', async () => {
  const dir = tempDir();
  const weight = tensorToProto('w', floats([2, 3], [1, -2, 0.5, 3, 0.25, -1]));
  const constants = await writeModel(path.join(dir, 'constants.onnx'), [
    makeNode('Constant', [], ['w'], { attributes: [attr.tensor('value', weight)] }),
    makeNode('MatMul', ['x', 'w'], ['y'], { name: 'mm' }),
  ], [value('x', 'float32', ['batch', 2])], [value('y', 'float32', ['batch', 3])]);
  const half = await quantize(constants, { output: path.join(dir, 'half.onnx'), to: 'fp16' });
  assert.equal(half.nodesConverted, 2);
  const qdq = (x: string, y: string) => [makeNode('QuantizeLinear', [x, 's'], [`${y}_q`]), makeNode('DequantizeLinear', [`${y}_q`, 's'], [y])];
  const branch = (nodes: ReturnType<typeof makeNode>[], output: string) =>
    create(GraphProtoSchema, { name: output, node: nodes, output: [value(output, 'float32', [2])] });
  const nested = await writeModel(path.join(dir, 'nested.onnx'), [
    makeNode('If', ['c'], ['y'], { attributes: [
      create(AttributeProtoSchema, { name: 'then_branch', type: AttributeProto_AttributeType.GRAPH, g: branch(qdq('x', 'a'), 'a') }),
      create(AttributeProtoSchema, { name: 'else_branch', type: AttributeProto_AttributeType.GRAPH, g: branch([makeNode('Identity', ['x'], ['b'])], 'b') }),
    ] }),
  ], [value('c', 'bool', []), value('x', 'float32', [2])], [value('y', 'float32', [2])], { s: floats([], [0.1]) });
  const cases: [string, RegExp][] = [
    [half.output, /half\.onnx already has float16 weights \(1 tensors\)$/],
    [nested, /nested\.onnx is already quantized \(it has 2 QuantizeLinear, DequantizeLinear nodes\)$/],
  ];
  for (const [source, message] of cases) {
    for (const to of ['fp16', 'int8'] as const) {
      const output = path.join(dir, 'out', `again.${to}.onnx`);
      await assert.rejects(quantize(source, { output, to }), (e: Error & { exitCode?: number; kind?: string }) =>
        message.test(e.message) && e.exitCode === 2 && e.kind === 'already-quantized');
      assert.equal(fs.existsSync(output), false);
    }
  }
});

test('a model whose drift cannot be measured is not left behind', async () => {
  const dir = tempDir();
  // Reshape to a fixed [2, 4] loads for any batch but fails to run on a batch of 3.
  const source = await writeModel(path.join(dir, 'fixed.onnx'), [
    makeNode('MatMul', ['x', 'w'], ['h']),
    makeNode('Reshape', ['h', 'shape'], ['y']),
  ], [value('x', 'float32', ['batch', 4])], [value('y', 'float32', [2, 4])], {
    w: floats([4, 4], (i) => i / 16),
    shape: { dtype: 'int64', shape: [2], data: BigInt64Array.from([2n, 4n]) },
  });
  const inputs = path.join(dir, 'batch3.npz');
  await writeNpz(inputs, new Map([['x', floats([3, 4], (i) => i)]]));
  const output = path.join(dir, 'out', 'fixed.fp16.onnx');
  await assert.rejects(quantize(source, { output, to: 'fp16', inputs }), (e: Error & { exitCode?: number }) =>
    /fixed\.onnx/.test(e.message) && e.exitCode === 2);
  assert.deepEqual(fs.readdirSync(path.dirname(output)), []);
});
