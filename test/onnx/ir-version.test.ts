import assert from 'node:assert/strict';
import { create } from '@bufbuild/protobuf';
import { test } from 'node:test';
import { TensorProtoSchema, TensorProto_DataType } from '../../src/onnx/gen/onnx_pb.js';
import { irNeeds, keepIrVersion, lowerIrVersion, requiredIrVersion } from '../../src/onnx/ir-version.js';
import { loadModel } from '../../src/onnx/model.js';
import { fixture } from '../helpers.js';

test('the encoder fixture needs IR 4: its weights are initializers that are not graph inputs', async () => {
  const { proto } = await loadModel(fixture('encoder.onnx'));
  const need = requiredIrVersion(proto);
  assert.equal(need.version, 4);
  assert.match(need.reason, /initializer '.*', which is not a graph input/);
});

test('a FLOAT8 initializer needs IR 9, an INT4 Cast target IR 10; lowering below names them', async () => {
  const { proto } = await loadModel(fixture('encoder.onnx'));
  proto.irVersion = 10n;
  proto.graph!.initializer.push(create(TensorProtoSchema, { name: 'f8', dataType: TensorProto_DataType.FLOAT8E4M3FN, dims: [1n], rawData: new Uint8Array(1) }));
  assert.equal(requiredIrVersion(proto).version, 9);
  assert.throws(() => lowerIrVersion(proto, 8), /`irVersion: 8`: the model needs IR 9 for the tensor 'f8' of type FLOAT8E4M3FN/);
  const cast = proto.graph!.node.find((n) => n.opType === 'Cast')!;
  cast.attribute.find((a) => a.name === 'to')!.i = BigInt(TensorProto_DataType.INT4);
  assert.deepEqual(irNeeds(proto).map((n) => n.version), [10, 9, 4]);
  lowerIrVersion(proto, 10);
  assert.throws(() => lowerIrVersion(proto, 11), /only lowers/);
});

test('fields the schema does not know keep the model at its own IR version', async () => {
  const { proto } = await loadModel(fixture('encoder.onnx'));
  proto.irVersion = 10n;
  proto.graph!.node[0].$unknown = [{ no: 99, wireType: 0, data: new Uint8Array([1]) }];
  assert.equal(requiredIrVersion(proto).version, 10);
  assert.throws(() => lowerIrVersion(proto, 8), /does not know/);
});

test('keepIrVersion keeps the source IR unless the output needs more', async () => {
  const { proto } = await loadModel(fixture('encoder.onnx'));
  proto.irVersion = 11n;
  assert.equal(keepIrVersion(7n, proto), undefined);
  assert.equal(proto.irVersion, 7n);
  proto.graph!.initializer.push(create(TensorProtoSchema, { name: 'b', dataType: TensorProto_DataType.BFLOAT16, dims: [1n], rawData: new Uint8Array(2) }));
  assert.equal(keepIrVersion(3n, proto)?.version, 4);
  assert.equal(proto.irVersion, 4n);
});
