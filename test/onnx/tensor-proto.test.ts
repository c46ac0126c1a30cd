import { create } from '@bufbuild/protobuf';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../../src/errors.js';
import { TensorProtoSchema } from '../../src/onnx/gen/onnx_pb.js';
import { tensorFromProto, tensorToProto } from '../../src/onnx/tensor-proto.js';

test('tensors come back from raw_data and from the typed fields', () => {
  const raw = tensorToProto('w', { dtype: 'float32', shape: [2, 2], data: Float32Array.of(1, -2, 3.5, 0) });
  assert.deepEqual(Array.from(tensorFromProto(raw).data as Float32Array), [1, -2, 3.5, 0]);
  const typed = create(TensorProtoSchema, { name: 'ids', dims: [3n], dataType: 7, int64Data: [5n, -1n, 2n ** 40n] });
  assert.deepEqual(Array.from(tensorFromProto(typed).data as BigInt64Array), [5n, -1n, 2n ** 40n]);
  const halves = create(TensorProtoSchema, { name: 'h', dims: [2n], dataType: 10, int32Data: [0x3c00, 0xc000] });
  assert.deepEqual(Array.from(tensorFromProto(halves).data as Uint16Array), [0x3c00, 0xc000]);
});

test('data that does not fit the shape is an input error naming the tensor', () => {
  const short = create(TensorProtoSchema, { name: 'w', dims: [3n], dataType: 1, rawData: new Uint8Array(8) });
  assert.throws(() => tensorFromProto(short), (e: Error) => e instanceof InputError && e.message === "tensor 'w' has 8 bytes of data, its shape [3] needs 12");
  assert.throws(() => tensorFromProto(create(TensorProtoSchema, { name: 'w', dims: [2n], dataType: 1 }), new Uint8Array(4)), /tensor 'w' has 4 bytes of data, its shape \[2\] needs 8/);
  const typed = create(TensorProtoSchema, { name: 'f', dims: [3n], dataType: 1, floatData: [1, 2] });
  assert.throws(() => tensorFromProto(typed), /tensor 'f' has 2 values in float_data, its shape \[3\] needs 3/);
});
