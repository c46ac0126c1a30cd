import { create } from '@bufbuild/protobuf';
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { AttributeProtoSchema, AttributeProto_AttributeType, GraphProtoSchema } from '../../src/onnx/gen/onnx_pb.js';
import { inspect } from '../../src/onnx/inspect.js';
import { tensorToProto } from '../../src/onnx/tensor-proto.js';
import { attr, makeNode } from '../../src/quantize/graph.js';
import { tempDir } from '../helpers.js';
import { floats, value, writeModel } from '../quantize/helpers.js';

const graphAttr = (name: string, g: ReturnType<typeof create<typeof GraphProtoSchema>>) =>
  create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.GRAPH, g });

test('inspect counts the weights of Constant nodes and subgraphs, and the nodes of every graph', async () => {
  const dir = tempDir();
  const constant = (name: string, shape: number[]) => makeNode('Constant', [], [name], { attributes: [attr.tensor('value', tensorToProto('', floats(shape, (i) => i)))] });
  const int64 = makeNode('Constant', [], ['axes'], { attributes: [attr.tensor('value', tensorToProto('', { dtype: 'int64', shape: [1], data: BigInt64Array.of(0n) }))] });
  // A then-branch whose body holds its own If: subgraphs at two depths.
  const inner = create(GraphProtoSchema, { name: 'inner', node: [constant('w3', [5]), makeNode('Mul', ['x', 'w3'], ['i'])], output: [value('i', 'float32', [5])] });
  const then = create(GraphProtoSchema, {
    name: 'then',
    node: [constant('w1', [5]), makeNode('Add', ['x', 'w1'], ['a']), makeNode('If', ['c'], ['t'], { attributes: [graphAttr('then_branch', inner), graphAttr('else_branch', inner)] })],
    output: [value('t', 'float32', [5])],
  });
  const otherwise = create(GraphProtoSchema, { name: 'else', node: [constant('w2', [2, 5]), makeNode('ReduceSum', ['w2'], ['e'], { attributes: [attr.int('keepdims', 0)] })], output: [value('e', 'float32', [5])] });
  const file = await writeModel(path.join(dir, 'branches.onnx'), [
    int64,
    makeNode('If', ['c'], ['y'], { attributes: [graphAttr('then_branch', then), graphAttr('else_branch', otherwise)] }),
  ], [value('c', 'bool', []), value('x', 'float32', [5])], [value('y', 'float32', [5])], { scale: floats([3], [1, 2, 3]) });
  const report = await inspect(file);
  // main: scale (3); then: w1 (5) and the inner If's two branches, w3 twice (10); else: w2 (10). The int64 axes are no weights.
  assert.equal(report.parameters, 3 + 5 + 10 + 10);
  assert.deepEqual(report.dtypes, { float32: 28 * 4 });
  assert.equal(report.parameterBytes, 28 * 4);
  assert.equal(report.subgraphs, 4);
  assert.equal(report.nodes, 2 + 3 + 2 * 2 + 2);
  assert.deepEqual(report.ops, { Constant: 5, If: 2, Add: 1, Mul: 2, ReduceSum: 1 });
});
