import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadModel, readTensor } from '../../src/onnx/model.js';
import { cpuProfile } from '../../src/quantize/cpu.js';
import { noClamps, toFloat16 } from '../../src/quantize/fp16/halves.js';
import { dropUnused, makeNode, sortTopologically, viewGraph } from '../../src/quantize/graph.js';
import { quantizeWeight } from '../../src/quantize/int8/weights.js';
import { openScratch } from '../../src/quantize/store.js';
import { floatToHalf, halfToFloat } from '../../src/tensor/tensor.js';
import { fixture, tempDir } from '../helpers.js';
import { floats } from './helpers.js';

test('the CPU table picks 7-bit weights exactly where u8×s8 products can saturate', () => {
  const flags = (list: string) => new Set(list.split(' '));
  assert.equal(cpuProfile('x64', flags('sse4_2 avx2 avx512f avx512_vnni')).reduceRange, false);
  assert.equal(cpuProfile('x64', flags('avx2 avx_vnni')).reduceRange, false);
  assert.equal(cpuProfile('x64', flags('sse4_2 avx2 fma')).reduceRange, true);
  assert.equal(cpuProfile('x64', flags('avx2 avx512f avx512bw')).reduceRange, true, 'AVX-512 without VNNI still uses vpmaddubsw');
  assert.equal(cpuProfile('arm64', flags('')).reduceRange, false);
  assert.equal(cpuProfile('x64', flags('')).reduceRange, true, 'unknown features: the safe choice');
});

test('float16 conversion rounds to nearest even and clamps instead of overflowing or flushing', () => {
  const values = [1, -2.5, 65504, 65519, 7e4, -1e9, 2 ** -24, 1e-9, -1e-12, 0, Infinity, 1 / 3];
  const counts = noClamps();
  const half = toFloat16('t', floats([values.length], values), counts);
  const back = Array.from(half.data as Uint16Array, halfToFloat);
  assert.deepEqual(back, [1, -2.5, 65504, 65504, 65504, -65504, 2 ** -24, 2 ** -24, -(2 ** -24), 0, Infinity, halfToFloat(floatToHalf(1 / 3))]);
  assert.deepEqual(counts, { overflow: 3, underflow: 2, tensors: ['t'] }, '65519 rounds to 65504 but is above it, so it counts');
});

test('weights quantize symmetrically per channel with the chosen range', () => {
  const w = floats([2, 3], [0.5, -1, 0.25, 3, 0, -4]);
  const perColumn = quantizeWeight(w, 1, 127);
  assert.deepEqual(Array.from(perColumn.scale.data as Float32Array), [3 / 127, 1 / 127, 4 / 127].map(Math.fround));
  assert.deepEqual(Array.from(perColumn.values.data as Int8Array), [21, -127, 8, 127, 0, -127]);
  const reduced = quantizeWeight(w, undefined, 63);
  assert.deepEqual(reduced.scale.shape, []);
  assert.deepEqual(Array.from(reduced.values.data as Int8Array), [8, -16, 4, 47, 0, -63]);
  assert.deepEqual(Array.from(quantizeWeight(floats([2], [0, 0]), 0, 127).scale.data as Float32Array), [1, 1], 'an all-zero channel gets scale 1');
  const ties = quantizeWeight(floats([7], [127, 2.5, -2.5, 0.5, -0.5, 1.5, -3.5]), undefined, 127);
  assert.deepEqual(Array.from(ties.values.data as Int8Array), [127, 2, -2, 0, 0, 2, -4], 'ties round to even, as numpy and QuantizeLinear round');
});

test('nodes are put in dependency order, keeping the given order where it is valid', () => {
  const a = makeNode('Relu', ['x'], ['a']);
  const b = makeNode('Relu', ['a'], ['b']);
  const c = makeNode('Relu', ['x'], ['c']);
  const d = makeNode('Add', ['b', 'c'], ['d']);
  assert.deepEqual(sortTopologically([d, b, a, c]).map((n) => n.output[0]), ['a', 'b', 'c', 'd']);
  assert.deepEqual(sortTopologically([a, c, b, d]).map((n) => n.output[0]), ['a', 'c', 'b', 'd']);
  assert.throws(() => sortTopologically([makeNode('Relu', ['q'], ['p']), makeNode('Relu', ['p'], ['q'])]), /cycle/);
});

test('unused Constant/Identity chains and initializers are dropped, nothing else', async () => {
  const model = await loadModel(fixture('encoder.onnx'));
  const graph = model.proto.graph!;
  const before = graph.node.length;
  graph.node.push(makeNode('Identity', ['tokens.weight'], ['alias']), makeNode('Identity', ['alias'], ['alias2']));
  assert.deepEqual(dropUnused(graph), []);
  assert.equal(graph.node.length, before, 'the dead Identity chain went, the live graph stayed');
  graph.node = graph.node.filter((n) => n.opType !== 'Gather' || !n.input.includes('tokens.weight'));
  assert.deepEqual(dropUnused(graph).map((t) => t.name), ['tokens.weight']);
  assert.ok(viewGraph(graph).names.has('positions.weight'));
});

test('the scratch space keeps large converted tensors on disk, registered for saveModel to stream', async () => {
  const dir = tempDir();
  const model = await loadModel(fixture('encoder.onnx'));
  const scratch = await openScratch(model, path.join(dir, 'out.onnx'));
  const large = await scratch.put('big', floats([64, 64], (i) => i));
  const small = await scratch.put('small', floats([4], [1, 2, 3, 4]));
  assert.equal(large.rawData.length, 0, 'the bytes are not held in the message');
  assert.deepEqual(model.ranges.get(large), { file: path.join(scratch.dir, 'tensors.bin'), offset: 0, length: 64 * 64 * 4 });
  assert.equal((await readTensor(model, large)).data[4095], 4095);
  assert.equal(small.rawData.length, 16);
  assert.equal(model.ranges.has(small), false);
  await scratch.dispose();
  assert.deepEqual(fs.readdirSync(dir), [], 'the scratch folder is gone');
});
