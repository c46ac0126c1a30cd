import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { check } from '../../src/accuracy/check.js';
import { loadModel } from '../../src/onnx/model.js';
import { upgradeOpset } from '../../src/onnx/upgrade/upgrade.js';
import { writeNpz } from '../../src/tensor/npz.js';
import { node, writeModel } from '../accuracy/models.js';
import { tempDir } from '../helpers.js';

const gate = { atol: 1e-6, rtol: 0 };

test('legacy broadcast on an axis becomes numpy broadcast through an Unsqueeze, and computes what opset 6 meant', async () => {
  const dir = tempDir();
  const file = writeModel(path.join(dir, 'model.onnx'), {
    opset: 6,
    inputs: [{ name: 'a', dtype: 'float32', shape: [2, 3, 4] }, { name: 'b', dtype: 'float32', shape: [3] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [2, 3, 4] }],
    nodes: [node('Add', ['a', 'b'], ['y'], { broadcast: 1, axis: 1 })],
  });
  const model = await loadModel(file);
  assert.deepEqual(upgradeOpset(model.proto, 7), ['Add: second input unsqueezed to broadcast from axis 1']);
  const [unsqueeze, add] = model.proto.graph!.node;
  assert.deepEqual([unsqueeze.opType, unsqueeze.input, unsqueeze.output, unsqueeze.attribute[0].ints], ['Unsqueeze', ['b'], ['b_unsqueezed'], [1n]]);
  assert.deepEqual([add.input, add.attribute], [['a', 'b_unsqueezed'], []]);
  assert.equal(model.proto.opsetImport[0].version, 7n);

  // y[i, j, k] = a[i, j, k] + b[j]: what legacy broadcasting from axis 1 means
  const a = Float32Array.from({ length: 24 }, (_, i) => i);
  const b = Float32Array.of(100, 200, 300);
  const y = Float32Array.from(a, (v, i) => v + b[Math.floor(i / 4) % 3]);
  const reference = path.join(dir, 'reference.npz');
  await writeNpz(reference, new Map([
    ['a', { dtype: 'float32', shape: [2, 3, 4], data: a }],
    ['b', { dtype: 'float32', shape: [3], data: b }],
    ['y', { dtype: 'float32', shape: [2, 3, 4], data: y }],
  ]));
  await assert.rejects(check(file, { reference, gate }), { kind: 'unsupported-opset' });
  const report = await check(file, { reference, gate, upgradeOpset: true });
  assert.equal(report.passed, true);
  assert.equal(report.outputs[0].maxAbsError, 0);
  assert.equal(report.model, file);
  assert.deepEqual(report.notes, [`${file} has opset 6, older than ONNX Runtime runs: checked a copy upgraded to opset 7 (Add: second input unsqueezed to broadcast from axis 1)`]);
});

test('models at opset 7 or later are left alone', async () => {
  const dir = tempDir();
  const file = writeModel(path.join(dir, 'relu.onnx'), {
    opset: 13,
    inputs: [{ name: 'x', dtype: 'float32', shape: [2] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [2] }],
    nodes: [node('Relu', ['x'], ['y'])],
  });
  const model = await loadModel(file);
  assert.deepEqual(upgradeOpset(model.proto, 7), []);
  assert.equal(model.proto.opsetImport[0].version, 13n);
  const report = await check(file, { against: file, gate, upgradeOpset: true });
  assert.deepEqual(report.notes.filter((n) => n.includes('upgraded')), []);
});

test('what the upgrade cannot convert is an input error that says why', async () => {
  const dir = tempDir();
  const cases: [string, number, Parameters<typeof writeModel>[1]['nodes'], RegExp][] = [
    ['old', 5, [node('Relu', ['x'], ['y'])], /from opset 5 to 7: tdeploy upgrades opset 6 and later/],
    ['lstm', 6, [node('LSTM', ['x', 'w', 'r'], ['y'])], /LSTM changed in opset 7: the opset-6 form changed/],
    ['ranks', 6, [node('Add', ['x', 'hidden'], ['y'], { broadcast: 1, axis: 0 })], /Add broadcasts on axis 0 but the ranks of its inputs are unknown/],
    ['prelu', 6, [node('Identity', ['x'], ['a']), node('Identity', ['x'], ['s']), node('PRelu', ['a', 's'], ['y'])], /the ranks of PRelu's input and slope are unknown or do not fit \(\? and \?\)/],
  ];
  for (const [name, opset, nodes, message] of cases) {
    const file = writeModel(path.join(dir, `${name}.onnx`), {
      opset,
      inputs: [{ name: 'x', dtype: 'float32', shape: [2] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [2] }],
      nodes,
    });
    const model = await loadModel(file);
    assert.throws(() => upgradeOpset(model.proto, 7), { kind: 'opset-upgrade', message });
  }
});
