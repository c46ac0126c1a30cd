import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../src/errors.js';
import { readTensorFile, writeTensorPb } from '../../src/tensor/files.js';
import { tensorsFromJson, tensorsToJson } from '../../src/tensor/json.js';
import { encodeNpy, encodeNpyParts, parseNpy } from '../../src/tensor/npy.js';
import { readNpz, writeNpz } from '../../src/tensor/npz.js';
import type { Tensor, TensorMap } from '../../src/tensor/tensor.js';
import { writeZip } from '../../src/tensor/zip.js';
import { conformance, python, skipWithoutPython, tempDir } from '../helpers.js';

const samples: TensorMap = new Map<string, Tensor>([
  ['f32', { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1.5, -2, 3, 0, 1e-8, 65504]) }],
  ['f16', { dtype: 'float16', shape: [2], data: Uint16Array.from([0x3c00, 0xc000]) }],
  ['f64', { dtype: 'float64', shape: [1], data: Float64Array.from([Math.PI]) }],
  ['i8', { dtype: 'int8', shape: [3], data: Int8Array.from([-128, 0, 127]) }],
  ['u8', { dtype: 'uint8', shape: [2], data: Uint8Array.from([0, 255]) }],
  ['i32', { dtype: 'int32', shape: [2], data: Int32Array.from([-5, 7]) }],
  ['i64', { dtype: 'int64', shape: [2, 1], data: BigInt64Array.from([-(2n ** 62n), 101n]) }],
  ['u64', { dtype: 'uint64', shape: [1], data: BigUint64Array.from([2n ** 63n]) }],
  ['b', { dtype: 'bool', shape: [3], data: Uint8Array.from([1, 0, 1]) }],
  ['s', { dtype: 'string', shape: [2], data: ['héllo', 'wörld!'] }],
  ['scalar', { dtype: 'float32', shape: [], data: Float32Array.from([7]) }],
  ['empty', { dtype: 'int64', shape: [0, 4], data: new BigInt64Array(0) }],
]);

function assertSame(actual: TensorMap, expected: TensorMap) {
  assert.deepEqual([...actual.keys()], [...expected.keys()]);
  for (const [name, tensor] of expected) {
    const got = actual.get(name)!;
    assert.equal(got.dtype, tensor.dtype, name);
    assert.deepEqual(got.shape, tensor.shape, name);
    assert.deepEqual(Array.from(got.data as ArrayLike<unknown>), Array.from(tensor.data as ArrayLike<unknown>), name);
  }
}

test('.npy and .npz round-trip every numpy dtype, scalars and empty arrays', async () => {
  for (const [name, tensor] of samples) assertSame(new Map([[name, parseNpy(encodeNpy(tensor), name)]]), new Map([[name, tensor]]));
  // wider than a call's argument list may be
  const long: Tensor = { dtype: 'string', shape: [1], data: ['x'.repeat(300_000)] };
  assertSame(new Map([['long', parseNpy(encodeNpy(long), 'long')]]), new Map([['long', long]]));
  const file = path.join(tempDir(), 'all.npz');
  await writeNpz(file, samples);
  assertSame(await readNpz(file), samples);
});

test('numpy reads what tdeploy writes, and tdeploy reads numpy (stored, deflated, Fortran order, big-endian)', { skip: skipWithoutPython(['numpy']) }, async () => {
  const dir = tempDir();
  await writeNpz(path.join(dir, 'ours.npz'), samples);
  const summary = python(['numpy'], `
import sys, numpy as np
z = np.load(sys.argv[1])
print(z['f32'].dtype, z['f32'].shape, float(z['f32'][1, 2]), z['i64'][0, 0], z['s'][1], z['b'].dtype, z['f16'][1], z['empty'].shape)
np.savez_compressed(sys.argv[2], fortran=np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),
  big=np.array([1, 258], dtype='>i4'), text=np.array([b'ab', b'c']), half=np.array([0.5], dtype=np.float16))
`, [path.join(dir, 'ours.npz'), path.join(dir, 'theirs.npz')]);
  assert.equal(summary.trim(), 'float32 (2, 3) 65504.0 -4611686018427387904 wörld! bool -2.0 (0, 4)');
  const theirs = await readNpz(path.join(dir, 'theirs.npz'));
  assert.deepEqual(Array.from(theirs.get('fortran')!.data as Float32Array), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(Array.from(theirs.get('big')!.data as Int32Array), [1, 258]);
  assert.deepEqual(theirs.get('text')!.data, ['ab', 'c']);
  assert.deepEqual(Array.from(theirs.get('half')!.data as Uint16Array), [0x3800]);
});

test('a .npz member that is not a .npy, a corrupt archive and a non-zip are input errors', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'x.npz');
  await writeNpz(file, new Map([['a', samples.get('f32')!]]));
  const bytes = fs.readFileSync(file);
  const badMagic = Buffer.from(bytes);
  badMagic[badMagic.indexOf('NUMPY') - 1] = 0; // the \x93 of the member's magic; the CRC now fails too
  fs.writeFileSync(file, badMagic);
  await assert.rejects(readNpz(file), (e: Error) => e instanceof InputError && /member a\.npy is corrupt/.test(e.message));
  fs.writeFileSync(file, 'PK not really');
  await assert.rejects(readNpz(file), /not a \.npz archive/);
  await assert.rejects(readNpz(path.join(dir, 'missing.npz')), /not found/);
  assert.throws(() => parseNpy(Buffer.from('garbage data'), 'm.npy'), /m\.npy: not a \.npy array/);
  const [header] = encodeNpyParts({ dtype: 'string', shape: [1], data: ['a'] });
  const notUnicode = Buffer.concat([header, Buffer.from([0x00, 0x00, 0x11, 0x00])]);
  assert.throws(() => parseNpy(notUnicode, 'u.npy'), (e: Error) => e instanceof InputError && /u\.npy: string 0 holds 1114112, which is not a Unicode code point/.test(e.message));
});

test('a .npz member with a valid CRC but no .npy inside names the member', async () => {
  const file = path.join(tempDir(), 'x.npz');
  const fh = await fs.promises.open(file, 'w');
  await writeZip(fh, [{ name: 'weights.npy', chunks: [Buffer.from('not an array')] }]);
  await fh.close();
  await assert.rejects(readNpz(file), /member 'weights\.npy': not a \.npy array/);
});

test('ONNX TensorProto files: conformance data reads, and writes round-trip', async () => {
  const input = await readTensorFile(conformance('pytorch-converted', 'test_Conv2d', 'test_data_set_0', 'input_0.pb'));
  const [tensor] = input.values();
  assert.equal(tensor.dtype, 'float32');
  assert.deepEqual(tensor.shape, [2, 3, 7, 5]);
  const file = path.join(tempDir(), 'x.pb');
  await writeTensorPb(file, 'x', samples.get('i64')!);
  assertSame(await readTensorFile(file), new Map([['x', samples.get('i64')!]]));
});

test('the JSON form round-trips, with non-finite floats and big int64 as strings', () => {
  const special: TensorMap = new Map<string, Tensor>([
    ['x', { dtype: 'float32', shape: [3], data: Float32Array.from([NaN, Infinity, -1.5]) }],
    ['ids', { dtype: 'int64', shape: [2], data: BigInt64Array.from([2n ** 60n + 1n, 3n]) }],
  ]);
  const text = tensorsToJson(special);
  assert.match(text, /"NaN","Infinity",-1\.5/);
  assert.match(text, /"1152921504606846977",3/);
  const back = tensorsFromJson(text, 't.json');
  assert.ok(Number.isNaN((back.get('x')!.data as Float32Array)[0]));
  assert.equal((back.get('ids')!.data as BigInt64Array)[0], 2n ** 60n + 1n);
  assert.throws(() => tensorsFromJson('{"x": {"dtype": "float32", "shape": [2], "data": [1]}}', 't.json'), /'x' has 1 values/);
});

test('JSON values that are not of the tensor\'s dtype are input errors naming the element', () => {
  const json = (dtype: string, data: unknown[]) => JSON.stringify({ t: { dtype, shape: [data.length], data } });
  const cases: [string, unknown[], RegExp][] = [
    ['int64', [1, 1.5], /t\.json: 't' value 1 \(1\.5\) is not a valid int64/],
    ['int64', ['abc'], /'t' value 0 \("abc"\) is not a valid int64/],
    ['int32', [2 ** 31], /'t' value 0 \(2147483648\) is not a valid int32/],
    ['uint8', [-1], /'t' value 0 \(-1\) is not a valid uint8/],
    ['float32', [1, 'x'], /'t' value 1 \("x"\) is not a valid float32/],
    ['bool', ['true'], /'t' value 0 \("true"\) is not a valid bool/],
  ];
  for (const [dtype, data, message] of cases) {
    assert.throws(() => tensorsFromJson(json(dtype, data), 't.json'), (e: Error) => e instanceof InputError && message.test(e.message), `${dtype} ${JSON.stringify(data)}`);
  }
  const ok = tensorsFromJson(json('int32', [-(2 ** 31), '7']), 't.json').get('t')!;
  assert.deepEqual(Array.from(ok.data as Int32Array), [-(2 ** 31), 7]);
  const u64 = tensorsFromJson(json('uint64', ['18446744073709551615']), 't.json').get('t')!;
  assert.deepEqual(Array.from(u64.data as BigUint64Array), [2n ** 64n - 1n]);
  const floats = tensorsFromJson(json('float64', [0.5, '-Infinity', '1e-3']), 't.json').get('t')!;
  assert.deepEqual(Array.from(floats.data as Float64Array), [0.5, -Infinity, 1e-3]);
  const bools = tensorsFromJson(json('bool', [true, false, 1]), 't.json').get('t')!;
  assert.deepEqual(Array.from(bools.data as Uint8Array), [1, 0, 1]);
});
