import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { test } from 'node:test';
import { NodeProtoSchema, OperatorSetIdProtoSchema } from '../../src/onnx/gen/onnx_pb.js';
import { loadModel } from '../../src/onnx/model.js';
import { checkOnnxForRelease, modelNeeds } from '../../src/triton/release-check.js';
import { findRelease } from '../../src/triton/releases.js';
import { fixture } from '../helpers.js';

async function encoderWith(domain: string, opType: string) {
  const { proto } = await loadModel(fixture('encoder.onnx'), { deferAbove: 0 });
  proto.opsetImport.push(create(OperatorSetIdProtoSchema, { domain, version: 1n }));
  proto.graph!.node.push(create(NodeProtoSchema, { name: 'extra', opType, domain, input: ['logits'], output: ['extra_out'] }));
  return modelNeeds(proto);
}

test('a contrib op the release\'s onnxruntime lacks is refused, with the first release that has it', async () => {
  const needs = await encoderWith('com.microsoft', 'MoE');
  const old = checkOnnxForRelease(needs, findRelease('23.12'), 'm.onnx');
  assert.deepEqual(old.problems.map((p) => [p.field, p.message]), [
    ['op com.microsoft.MoE', 'm.onnx uses com.microsoft MoE, which onnxruntime 1.16.3 (tritonserver 23.12) does not have'],
  ]);
  assert.match(old.problems[0].fix!, /or use tritonserver 24\.04 or newer$/);
  assert.deepEqual(checkOnnxForRelease(needs, findRelease('24.04'), 'm.onnx').problems, []);
});

test("ops of onnxruntime's layout domains (a graph saved after its optimizations) are refused", async () => {
  const needs = await encoderWith('com.ms.internal.nhwc', 'Conv');
  const found = checkOnnxForRelease(needs, findRelease('26.08'), 'm.onnx');
  assert.equal(found.problems.length, 1);
  assert.match(found.problems[0].message, /holds com\.ms\.internal\.nhwc ops \(Conv\): a graph saved after onnxruntime's NHWC layout transformation/);
});

test('24.02 ships no ONNX Runtime backend; a release without figures reports its checks as not made', async () => {
  const { proto } = await loadModel(fixture('encoder.onnx'), { deferAbove: 0 });
  const needs = modelNeeds(proto);
  assert.match(checkOnnxForRelease(needs, findRelease('24.02'), 'm.onnx').problems[0].message, /ships no ONNX Runtime backend/);
  const unknown = checkOnnxForRelease(needs, findRelease('22.06'), 'm.onnx');
  assert.deepEqual(unknown.problems, []);
  assert.deepEqual(unknown.unchecked.map((u) => u.field), ['ir_version', 'opset ai.onnx']);
});
