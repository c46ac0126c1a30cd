import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { engineBindings } from '../../src/trt/log-parser.js';
import { log } from './fake.js';

const bindings = (number: string) => engineBindings(fs.readFileSync(log(number), 'utf8'));
const profile = (min: number[], opt: number[], max: number[]) => ({ min, opt, max });

test('8.0 verbose build with inference: network dims and dtype of inputs, bound dims of both', () => {
  assert.deepEqual(bindings('01'), [
    { name: 'x:0', io: 'input', dtype: 'float32', networkShape: [-1, 1, 28, 28], inferenceShape: [4, 1, 28, 28], profile: profile([1, 1, 28, 28], [4, 1, 28, 28], [16, 1, 28, 28]) },
    { name: 'z:0', io: 'output', dtype: null, networkShape: null, inferenceShape: [4], profile: null },
  ]);
});

test('8.6 verbose build only: inputs from the network, outputs by name alone', () => {
  assert.deepEqual(bindings('05'), [
    { name: 'tensor-0', io: 'input', dtype: 'float32', networkShape: [-1, 1, 28, 28], inferenceShape: null, profile: profile([1, 1, 28, 28], [4, 1, 28, 28], [16, 1, 28, 28]) },
    { name: 'tensor-15', io: 'output', dtype: null, networkShape: null, inferenceShape: null, profile: null },
  ]);
});

test('10.14 plain build: bound dims without types', () => {
  assert.deepEqual(bindings('06').map((b) => [b.io, b.name, b.dtype, b.inferenceShape]), [
    ['input', 'x', null, [1, 1, 28, 28]], ['output', 'y', null, [1, 10]], ['output', 'z', null, [1]],
  ]);
});

test('10.16: bound dims with types', () => {
  assert.deepEqual(bindings('07').map((b) => [b.io, b.name, b.dtype, b.inferenceShape]), [
    ['input', 'x', 'float32', [4, 1, 28, 28]], ['output', 'y', 'float32', [4, 10]], ['output', 'z', 'int64', [4]],
  ]);
});

test('a run that failed before the build has no bindings', () => {
  assert.deepEqual(bindings('03'), []);
  assert.deepEqual(bindings('09'), []);
});
