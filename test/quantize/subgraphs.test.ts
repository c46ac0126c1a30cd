import { create } from '@bufbuild/protobuf';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AttributeProtoSchema, AttributeProto_AttributeType, GraphProtoSchema, type GraphProto } from '../../src/onnx/gen/onnx_pb.js';
import { loadModel } from '../../src/onnx/model.js';
import { tensorDtype, tensorToProto } from '../../src/onnx/tensor-proto.js';
import { allNodes, attr, makeNode } from '../../src/quantize/graph.js';
import { quantize } from '../../src/quantize/quantize.js';
import { writeNpz } from '../../src/tensor/npz.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { tempDir } from '../helpers.js';
import { drift, floats, run, value, writeModel } from './helpers.js';

const graphAttr = (name: string, g: GraphProto) => create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.GRAPH, g });
const constant = (name: string, tensor: Tensor) => makeNode('Constant', [], [name], { attributes: [attr.tensor('value', tensorToProto('', tensor))] });

/**
 * Silero VAD's layout: the main graph only picks a branch; every weight is a Constant inside the
 * branches. Each branch is x·W1 → Relu → ·W2, with its own weights; `scale` comes from outside.
 */
async function branchyModel(dir: string): Promise<string> {
  const branch = (name: string, seed: number) => create(GraphProtoSchema, {
    name,
    node: [
      constant(`${name}_w1`, floats([16, 128], (i) => Math.sin(i * seed) * 0.3)),
      constant(`${name}_w2`, floats([128, 8], (i) => Math.cos(i * seed) * 0.3)),
      makeNode('MatMul', ['x', `${name}_w1`], [`${name}_h`], { name: `${name}_mm1` }),
      makeNode('Relu', [`${name}_h`], [`${name}_r`], { name: `${name}_relu` }),
      makeNode('MatMul', [`${name}_r`, `${name}_w2`], [`${name}_m`], { name: `${name}_mm2` }),
      makeNode('Mul', [`${name}_m`, 'scale'], [`${name}_y`], { name: `${name}_scale` }),
    ],
    output: [value(`${name}_y`, 'float32', ['batch', 8])],
  });
  return writeModel(path.join(dir, 'branchy.onnx'), [
    makeNode('If', ['c'], ['y'], { name: 'pick', attributes: [graphAttr('then_branch', branch('then', 1.3)), graphAttr('else_branch', branch('else', 0.7))] }),
  ], [value('c', 'bool', []), value('x', 'float32', ['batch', 16])], [value('y', 'float32', ['batch', 8])], { scale: floats([8], (i) => 1 + i / 8) });
}

test('FP16 converts the weights inside If branches: the model shrinks below 60 % and both branches stay accurate', async () => {
  const dir = tempDir();
  const source = await branchyModel(dir);
  const report = await quantize(source, { output: path.join(dir, 'branchy.fp16.onnx'), to: 'fp16', keepIoTypes: true });
  assert.ok(report.sizeAfter / report.sizeBefore < 0.6, `size ratio ${report.sizeAfter / report.sizeBefore}`);
  assert.deepEqual(report.weights, { float32: 2 * (16 * 128 + 128 * 8) + 8, converted: 2 * (16 * 128 + 128 * 8) + 8 }, 'scale, read only inside the branches, goes to them in float16');
  assert.equal(report.nodesConverted, 2 * 6, 'every branch node');
  const model = await loadModel(report.output);
  const constants = [...allNodes(model.proto.graph!)].filter((n) => n.opType === 'Constant');
  assert.ok(constants.every((n) => tensorDtype(n.attribute[0].t!) === 'float16'), 'every branch weight is float16');
  const x = floats([2, 16], (i) => Math.sin(i));
  for (const c of [true, false]) {
    const feeds = new Map<string, Tensor>([['c', { dtype: 'bool', shape: [], data: Uint8Array.of(c ? 1 : 0) }], ['x', x]]);
    const [expected, actual] = [await run(source, feeds), await run(report.output, feeds)];
    const { cosine } = drift(expected.get('y')!, actual.get('y')!);
    assert.ok(cosine > 0.999, `branch ${c}: cosine ${cosine}`);
  }
});

test('a conversion that changes nothing is an error and writes nothing; one that changes under 1 % of the weights warns why', async () => {
  const dir = tempDir();
  const integers = await writeModel(path.join(dir, 'integers.onnx'), [makeNode('Add', ['a', 'b'], ['y'], { name: 'add' })],
    [value('a', 'int64', [2]), value('b', 'int64', [2])], [value('y', 'int64', [2])]);
  const relu = await writeModel(path.join(dir, 'relu.onnx'), [makeNode('Relu', ['x'], ['y'], { name: 'relu' })], [value('x', 'float32', [1, 4])], [value('y', 'float32', [1, 4])]);
  const cases: [string, 'fp16' | 'int8', RegExp][] = [
    [integers, 'fp16', /^`to: fp16` changed nothing in .*integers\.onnx: the weights are not float32 or no node computes in float32$/],
    [relu, 'int8', /^`to: int8` changed nothing in .*relu\.onnx: no MatMul\/Gemm\/Conv\/Gather\/Attention node reads a constant float32 weight$/],
  ];
  for (const [source, to, message] of cases) {
    const output = path.join(dir, 'out', `${path.basename(source, '.onnx')}.${to}.onnx`);
    await assert.rejects(quantize(source, { output, to }), (e: Error & { exitCode?: number; kind?: string }) => {
      assert.match(e.message, message);
      assert.equal(e.exitCode, 2);
      assert.equal(e.kind, 'nothing-converted');
      return true;
    });
    assert.equal(fs.existsSync(output), false);
  }
  // A 1000-element weight read by CumSum (kept float32), a 4-element one converted.
  const mostlyKept = await writeModel(path.join(dir, 'kept.onnx'), [
    makeNode('CumSum', ['big', 'axis'], ['sums'], { name: 'cumsum' }),
    makeNode('MatMul', ['x', 'w'], ['y'], { name: 'mm' }),
  ], [value('x', 'float32', [1, 2])], [value('y', 'float32', [1, 2]), value('sums', 'float32', [1000])], {
    big: floats([1000], (i) => i / 1000), w: floats([2, 2], [1, 2, 3, 4]), axis: { dtype: 'int64', shape: [], data: BigInt64Array.of(0n) },
  });
  const inputs = path.join(dir, 'x.npz');
  await writeNpz(inputs, new Map([['x', floats([1, 2], [0.5, -1])]]));
  const report = await quantize(mostlyKept, { output: path.join(dir, 'kept.fp16.onnx'), to: 'fp16', keepIoTypes: true, inputs });
  assert.deepEqual(report.weights, { float32: 1004, converted: 4 });
  assert.ok(report.notes.includes('warning: only 0.40% of the float32 weights changed (4 of 1004 elements): 1 node(s) kept float32 (CumSum: accumulates along an axis; float16 loses the running total)'), report.notes.join('\n'));
});

test('FP16 hands a constant that only nested bodies read to them in float16 (Silero VAD v5: LSTM weights sliced inside an inner If), cast back where a reader stays float32', async () => {
  const dir = tempDir();
  // Outer branch: a Constant weight, then an inner If whose bodies read it from outside.
  const inner = (name: string) => create(GraphProtoSchema, {
    name,
    node: [makeNode('MatMul', ['x', 'w'], [`${name}_y`], { name: `${name}_mm` })],
    output: [value(`${name}_y`, 'float32', ['batch', 128])],
  });
  const outer = create(GraphProtoSchema, {
    name: 'outer',
    node: [
      constant('w', floats([16, 128], (i) => Math.sin(i * 0.37) * 0.3)),
      makeNode('If', ['d'], ['h'], { name: 'inner', attributes: [graphAttr('then_branch', inner('a')), graphAttr('else_branch', inner('b'))] }),
    ],
    output: [value('h', 'float32', ['batch', 128])],
  });
  const sibling = create(GraphProtoSchema, {
    name: 'sibling',
    node: [constant('v', floats([16, 128], (i) => Math.cos(i * 0.21) * 0.3)), makeNode('MatMul', ['x', 'v'], ['e_y'], { name: 'e_mm' })],
    output: [value('e_y', 'float32', ['batch', 128])],
  });
  const source = await writeModel(path.join(dir, 'nested.onnx'), [
    makeNode('If', ['c'], ['y'], { name: 'pick', attributes: [graphAttr('then_branch', outer), graphAttr('else_branch', sibling)] }),
  ], [value('c', 'bool', []), value('d', 'bool', []), value('x', 'float32', ['batch', 16])], [value('y', 'float32', ['batch', 128])]);
  const output = path.join(dir, 'nested.fp16.onnx');
  const report = await quantize(source, { output, to: 'fp16', keepIoTypes: true, blockNodes: ['b_mm'] });
  assert.deepEqual(report.weights, { float32: 2 * 16 * 128, converted: 2 * 16 * 128 });
  assert.ok(report.sizeAfter / report.sizeBefore < 0.6, `size ratio ${report.sizeAfter / report.sizeBefore}`);
  const model = await loadModel(output);
  const nodes = [...allNodes(model.proto.graph!)];
  assert.equal(tensorDtype(nodes.find((n) => n.output[0] === 'w')!.attribute[0].t!), 'float16');
  const blocked = nodes.find((n) => n.name === 'b_mm')!;
  const cast = nodes.find((n) => n.output[0] === blocked.input[1])!;
  assert.deepEqual([cast.opType, cast.input[0], Number(cast.attribute[0].i)], ['Cast', 'w', 1], 'the node kept float32 reads w cast back to float32');
  assert.equal(nodes.find((n) => n.name === 'a_mm')!.input[1], 'w', 'the converted reader takes the float16 weight as it is');
  const x = floats([2, 16], (i) => Math.cos(i));
  const flag = (v: boolean): Tensor => ({ dtype: 'bool', shape: [], data: Uint8Array.of(v ? 1 : 0) });
  for (const [c, d] of [[true, true], [true, false], [false, false]]) {
    const feeds = new Map<string, Tensor>([['c', flag(c)], ['d', flag(d)], ['x', x]]);
    const { cosine } = drift((await run(source, feeds)).get('y')!, (await run(output, feeds)).get('y')!);
    assert.ok(cosine > 0.9999, `branches ${c}/${d}: cosine ${cosine}`);
  }
});
