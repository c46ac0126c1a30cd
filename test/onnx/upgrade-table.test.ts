import { create } from '@bufbuild/protobuf';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  type AttributeProto, type NodeProto, AttributeProtoSchema, AttributeProto_AttributeType, GraphProtoSchema,
} from '../../src/onnx/gen/onnx_pb.js';
import { loadModel } from '../../src/onnx/model.js';
import { saveModel } from '../../src/onnx/save.js';
import { upgradeOpset } from '../../src/onnx/upgrade/upgrade.js';
import { makeNode } from '../../src/quantize/graph.js';
import { Random } from '../../src/tensor/random.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { conformance, runCli, tempDir } from '../helpers.js';
import { check } from '../../src/accuracy/check.js';
import { TdeployError } from '../../src/errors.js';
import { drift, floats, run, value, writeModel } from '../quantize/helpers.js';

const a = {
  int: (name: string, i: number): AttributeProto => create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i: BigInt(i) }),
  ints: (name: string, v: number[]): AttributeProto => create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INTS, ints: v.map(BigInt) }),
  float: (name: string, f: number): AttributeProto => create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOAT, f }),
  floats: (name: string, v: number[]): AttributeProto => create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOATS, floats: v }),
  string: (name: string, s: string): AttributeProto => create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.STRING, s: new TextEncoder().encode(s) }),
};
const op = (opType: string, input: string[], output: string[], ...attributes: AttributeProto[]) => makeNode(opType, input, output, { name: output[0], attributes });
const int64s = (shape: number[], v: number[]): Tensor => ({ dtype: 'int64', shape, data: BigInt64Array.from(v.map(BigInt)) });

interface Case {
  opset: number;
  nodes: NodeProto[];
  inputs: Record<string, number[]>;
  outputs: Record<string, number[]>;
  initializers?: Record<string, Tensor>;
  changes: string[];
}

/**
 * The model at its old opset and upgraded to 13 give the same outputs on the same random inputs
 * (onnxruntime runs both), and the upgrade reports the changes it made.
 */
async function upgradesExactly(c: Case) {
  const dir = tempDir();
  const declare = (values: Record<string, number[]>, dtypeOf = (_: string) => 'float32' as const) => Object.entries(values).map(([n, s]) => value(n, dtypeOf(n), s));
  const file = await writeModel(path.join(dir, 'old.onnx'), c.nodes, declare(c.inputs), Object.entries(c.outputs).map(([n, s]) => value(n, n.startsWith('indices') ? 'int64' : 'float32', s)), c.initializers, { '': c.opset });
  const random = new Random(7);
  const feeds = new Map(Object.entries(c.inputs).map(([n, s]) => [n, floats(s, () => random.normal())]));
  const before = await run(file, feeds);
  const model = await loadModel(file);
  assert.deepEqual(upgradeOpset(model.proto, 13), c.changes);
  assert.equal(model.proto.opsetImport[0].version, 13n);
  const upgraded = path.join(dir, 'new.onnx');
  await saveModel(model, upgraded);
  const after = await run(upgraded, feeds);
  for (const [name, expected] of before) {
    assert.deepEqual(after.get(name)!.shape, expected.shape, name);
    assert.ok(drift(expected, after.get(name)!).maxAbs <= 1e-6, `${name}: max abs diff ${drift(expected, after.get(name)!).maxAbs}`);
  }
  return model.proto.graph!;
}

const FLATTEN = 'coerced to 2-D at axis 1 with Flatten/Reshape (opset 13 normalizes over one axis)';

test('Softmax below 13 normalized over every dim from axis on: a Flatten/Reshape keeps that where axis is not the last dim', async () => {
  const graph = await upgradesExactly({
    opset: 11, nodes: [op('Softmax', ['x'], ['y'])], inputs: { x: [2, 3, 4] }, outputs: { y: [2, 3, 4] }, changes: [`Softmax: ${FLATTEN}`],
  });
  assert.deepEqual(graph.node.map((n) => n.opType), ['Shape', 'Flatten', 'Softmax', 'Reshape']);
});

test('LogSoftmax on its last axis means the same at 13; Hardmax with the old default axis gets it written out', async () => {
  await upgradesExactly({ opset: 9, nodes: [op('LogSoftmax', ['x'], ['y'], a.int('axis', 2))], inputs: { x: [2, 3, 4] }, outputs: { y: [2, 3, 4] }, changes: [] });
  const graph = await upgradesExactly({
    opset: 11, nodes: [op('Hardmax', ['x'], ['y'])], inputs: { x: [3, 5] }, outputs: { y: [3, 5] }, changes: ['Hardmax: axis 1 made explicit (the default became -1)'],
  });
  assert.equal(graph.node[0].attribute[0].i, 1n);
});

test('Split, Squeeze, Unsqueeze and ReduceSum take their axes and sizes as inputs at 13', async () => {
  const graph = await upgradesExactly({
    opset: 11,
    nodes: [
      op('Split', ['x'], ['p', 'q'], a.int('axis', 1), a.ints('split', [2, 4])),
      op('Unsqueeze', ['p'], ['u'], a.ints('axes', [0, 2])),
      op('Squeeze', ['u'], ['s'], a.ints('axes', [0])),
      op('ReduceSum', ['q'], ['r'], a.ints('axes', [1]), a.int('keepdims', 0)),
      op('ReduceSum', ['s'], ['all']),
    ],
    inputs: { x: [2, 6] },
    outputs: { s: [2, 1, 2], r: [2], all: [1, 1, 1] },
    changes: ['Split: split attribute became input', 'Unsqueeze: axes attribute became input', 'Squeeze: axes attribute became input', 'ReduceSum: axes attribute became input'],
  });
  assert.deepEqual(graph.node.map((n) => n.input.length), [2, 2, 2, 2, 1]);
});

test('Clip, Pad, Slice and TopK: attributes that became inputs', async () => {
  await upgradesExactly({
    opset: 9,
    nodes: [
      op('Clip', ['x'], ['c'], a.float('min', -0.5), a.float('max', 0.5)),
      op('Clip', ['x'], ['top'], a.float('max', 0.25)),
      op('Pad', ['x'], ['padded'], a.ints('pads', [0, 1, 2, 0, 0, 1]), a.float('value', 1.5)),
      op('Pad', ['x'], ['reflected'], a.string('mode', 'reflect'), a.ints('pads', [0, 0, 1, 0, 0, 1])),
      op('Slice', ['x'], ['sliced'], a.ints('starts', [1, 0]), a.ints('ends', [1000, 3]), a.ints('axes', [2, 0])),
      op('TopK', ['x'], ['values', 'indices'], a.int('axis', 2), a.int('k', 2)),
    ],
    inputs: { x: [3, 4, 5] },
    outputs: { c: [3, 4, 5], top: [3, 4, 5], padded: [3, 6, 7], reflected: [3, 4, 7], sliced: [3, 4, 4], values: [3, 4, 2], indices: [3, 4, 2] },
    changes: ['Clip: min/max attributes became inputs', 'Pad: pads/value attributes became inputs', 'Slice: starts, ends, axes attributes became inputs', 'TopK: k attribute became input'],
  });
});

test('Upsample becomes Resize with the asymmetric, floor coordinates it computed, from opset 7 and 9', async () => {
  const graph = await upgradesExactly({
    opset: 7, nodes: [op('Upsample', ['x'], ['y'], a.floats('scales', [1, 1, 2, 3]))], inputs: { x: [1, 2, 3, 3] }, outputs: { y: [1, 2, 6, 9] },
    changes: ['Upsample: scales attribute became an input', 'Upsample: became Resize (Upsample is deprecated from opset 10)', 'Resize: roi input added, asymmetric coordinates kept explicit'],
  });
  assert.deepEqual(graph.node.map((n) => n.opType), ['Resize']);
  await upgradesExactly({
    opset: 9,
    nodes: [op('Upsample', ['x', 'scales'], ['y'], a.string('mode', 'linear'))],
    inputs: { x: [1, 2, 3, 3] },
    outputs: { y: [1, 2, 6, 6] },
    initializers: { scales: floats([4], [1, 1, 2, 2]) },
    changes: ['Upsample: became Resize (Upsample is deprecated from opset 10)', 'Resize: roi input added, asymmetric coordinates kept explicit'],
  });
});

test('Resize-10 keeps its coordinates at 13: nearest rounds down when upsampling and up when downsampling, linear is asymmetric', async () => {
  const cases: [string, number[], number[], string][] = [
    ['nearest', [1, 1, 1.5, 2.3], [1, 1, 6, 11], 'floor'],
    ['nearest', [1, 1, 0.7, 0.45], [1, 1, 2, 2], 'ceil'],
    ['linear', [1, 1, 1.5, 0.7], [1, 1, 6, 3], ''],
  ];
  for (const [mode, scales, shape, rounding] of cases) {
    const graph = await upgradesExactly({
      opset: 10,
      nodes: [op('Resize', ['x', 'scales'], ['y'], a.string('mode', mode))],
      inputs: { x: [1, 1, 4, 5] },
      outputs: { y: shape },
      initializers: { scales: floats([4], scales) },
      changes: ['Resize: roi input added, asymmetric coordinates kept explicit'],
    });
    const nearest = graph.node[0].attribute.find((t) => t.name === 'nearest_mode');
    assert.equal(nearest ? new TextDecoder().decode(nearest.s) : '', rounding);
  }
  const dir = tempDir();
  const mixed = await writeModel(path.join(dir, 'mixed.onnx'), [op('Resize', ['x', 'scales'], ['y'])], [value('x', 'float32', [1, 1, 4, 5])], [value('y', 'float32', [1, 1, 6, 3])],
    { scales: floats([4], [1, 1, 1.5, 0.7]) }, { '': 10 });
  const model = await loadModel(mixed);
  assert.throws(() => upgradeOpset(model.proto, 13), { kind: 'opset-upgrade', message: /nearest Resize scales \[1, 1, 1\.5, 0\.69\d+\] upsample some dims and downsample others/ });
});

test('BatchNormalization drops spatial=1, Dropout its unread mask and moves ratio to an input, Scatter becomes ScatterElements', async () => {
  const c = 3;
  await upgradesExactly({
    opset: 7,
    nodes: [
      op('BatchNormalization', ['x', 'scale', 'bias', 'mean', 'var'], ['bn'], a.int('spatial', 1), a.float('epsilon', 1e-3)),
      op('Dropout', ['bn'], ['y', 'mask'], a.float('ratio', 0.3)),
    ],
    inputs: { x: [2, c, 4] },
    outputs: { y: [2, c, 4] },
    initializers: { scale: floats([c], [1, 2, 3]), bias: floats([c], [0.1, 0, -1]), mean: floats([c], [0.5, -2, 0]), var: floats([c], [1, 4, 0.25]) },
    changes: ['BatchNormalization: spatial=1 dropped', 'Dropout: unread mask output dropped', 'Dropout: ratio attribute became an input'],
  });
  await upgradesExactly({
    opset: 9,
    nodes: [op('Scatter', ['x', 'where', 'updates'], ['y'], a.int('axis', 1))],
    inputs: { x: [2, 3], updates: [2, 2] },
    outputs: { y: [2, 3] },
    initializers: { where: int64s([2, 2], [2, 0, 1, 2]) },
    changes: ['Scatter: became ScatterElements (Scatter is deprecated from opset 11)'],
  });
});

test('ops whose new versions mean the same are left as they are', async () => {
  const random = new Random(3);
  await upgradesExactly({
    opset: 9,
    nodes: [
      op('Conv', ['x', 'k'], ['conv'], a.ints('pads', [1, 1, 1, 1])),
      op('Relu', ['conv'], ['relu']),
      op('MaxPool', ['relu'], ['pool'], a.ints('kernel_shape', [2, 2])),
      op('GlobalAveragePool', ['pool'], ['gap']),
      op('Flatten', ['gap'], ['flat']),
      op('Gemm', ['flat', 'w', 'b'], ['y'], a.int('transB', 1)),
    ],
    inputs: { x: [1, 2, 5, 5] },
    outputs: { y: [1, 3] },
    initializers: { k: floats([4, 2, 3, 3], () => random.normal()), w: floats([3, 4], () => random.normal()), b: floats([3], [1, 2, 3]) },
    changes: [],
  });
});

test('nodes inside If branches are upgraded too, their constants kept in the branch', async () => {
  const branch = (name: string, nodes: NodeProto[], output: string) => create(AttributeProtoSchema, {
    name, type: AttributeProto_AttributeType.GRAPH, g: create(GraphProtoSchema, { name, node: nodes, output: [value(output, 'float32', [3])] }),
  });
  const iff = op('If', ['positive'], ['y']);
  iff.attribute = [
    branch('then_branch', [op('Squeeze', ['x'], ['t'], a.ints('axes', [0]))], 't'),
    branch('else_branch', [op('Neg', ['x'], ['n']), op('Squeeze', ['n'], ['e'], a.ints('axes', [0]))], 'e'),
  ];
  const graph = await upgradesExactly({
    opset: 11,
    nodes: [op('ReduceSum', ['x'], ['sum'], a.int('keepdims', 0)), op('Greater', ['sum', 'zero'], ['positive']), iff],
    inputs: { x: [1, 3] },
    outputs: { y: [3] },
    initializers: { zero: floats([], [0]) },
    changes: ['Squeeze: axes attribute became input'],
  });
  const then = graph.node[2].attribute[0].g!;
  assert.deepEqual([then.node[0].input.length, then.initializer.map((t) => t.name)], [2, ['t_axes']]);
});

test('an opset-6 legacy broadcast goes to 13: the Unsqueeze it adds takes the later steps too', async () => {
  const dir = tempDir();
  const file = await writeModel(path.join(dir, 'old.onnx'), [op('Add', ['x', 'b'], ['y'], a.int('broadcast', 1), a.int('axis', 1))],
    [value('x', 'float32', [2, 3, 4]), value('b', 'float32', [3])], [value('y', 'float32', [2, 3, 4])], {}, { '': 6 });
  const model = await loadModel(file);
  assert.deepEqual(upgradeOpset(model.proto, 13), ['Add: second input unsqueezed to broadcast from axis 1', 'Unsqueeze: axes attribute became input']);
  const upgraded = path.join(dir, 'new.onnx');
  await saveModel(model, upgraded);
  const x = floats([2, 3, 4], (i) => i);
  const y = (await run(upgraded, new Map([['x', x], ['b', floats([3], [100, 200, 300])]]))).get('y')!;
  assert.deepEqual([...(y.data as Float32Array)], [...x.data as Float32Array].map((v, i) => v + [100, 200, 300][Math.floor(i / 4) % 3]));
});

test('ops the table lacks are refused by name, before anything changes; the CLI says so in one line with exit 2', async () => {
  const dir = tempDir();
  const file = await writeModel(path.join(dir, 'old.onnx'), [
    op('ImageScaler', ['x'], ['s'], a.float('scale', 2)), op('Crop', ['s'], ['c']), op('MatMul', ['c', 'w'], ['y']),
  ], [value('x', 'float32', [1, 4])], [value('y', 'float32', [1, 2])], { w: floats([4, 2], [1, 2, 3, 4, 5, 6, 7, 8]) }, { '': 9 });
  const model = await loadModel(file);
  const message = 'cannot upgrade the model from opset 9 to 13: tdeploy\'s opset table has no entry for Crop, ImageScaler';
  assert.throws(() => upgradeOpset(model.proto, 13), { kind: 'opset-upgrade', message });
  assert.equal(model.proto.opsetImport[0].version, 9n);
  const cli = runCli(['quantize', file, '-o', path.join(dir, 'int8.onnx'), '--to', 'int8']);
  assert.equal(cli.code, 2);
  assert.equal(cli.stderr.split('\n')[0], `tdeploy: error: ${message}`);
});

test('every conformance case below opset 13 (ONNX\'s own models with reference data) upgraded to 13 still passes its reference data', async () => {
  const gate = { atol: 1e-7, rtol: 1e-3 };
  const outcomes: string[] = [];
  let upgraded = 0;
  for (const suite of ['pytorch-converted', 'pytorch-operator', 'simple']) {
    for (const name of fs.readdirSync(conformance(suite)).sort()) {
      const model = await loadModel(conformance(suite, name, 'model.onnx'));
      const from = Number(model.proto.opsetImport.find((o) => o.domain === '')?.version);
      if (from >= 13) continue;
      const changes = upgradeOpset(model.proto, 13);
      const file = path.join(tempDir(), 'model.onnx');
      await saveModel(model, file);
      try {
        const report = await check(file, { reference: conformance(suite, name), gate });
        if (!report.passed) outcomes.push(`${name}: ${report.outputs.flatMap((o) => o.failures).join('; ')} after ${changes.join('; ')}`);
        else upgraded++;
      } catch (error) {
        // what onnxruntime-node cannot run at any opset (the conformance test covers these)
        if (!(error instanceof TdeployError && ['training-op', 'missing-locale'].includes(error.kind))) outcomes.push(`${name}: ${(error as Error).message}`);
      }
    }
  }
  assert.deepEqual(outcomes, []);
  assert.equal(upgraded, 134, 'all 140 cases are below 13; 2 Gradient and 4 StringNormalizer cases cannot run here at any opset');
});
