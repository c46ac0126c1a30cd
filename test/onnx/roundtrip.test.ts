import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadModel, readTensor } from '../../src/onnx/model.js';
import { saveModel } from '../../src/onnx/save.js';
import { toBytes } from '../../src/tensor/tensor.js';
import { conformance, fixture, tempDir } from '../helpers.js';

function conformanceModels(): string[] {
  const models: string[] = [];
  for (const suite of fs.readdirSync(conformance())) {
    for (const entry of fs.readdirSync(conformance(suite))) {
      const p = conformance(suite, entry);
      if (fs.statSync(p).isDirectory()) models.push(path.join(p, 'model.onnx'));
      else if (p.endsWith('.onnx')) models.push(p);
    }
  }
  return models;
}

test('every conformance model decodes and re-encodes to identical bytes', async () => {
  const models = conformanceModels();
  assert.ok(models.length >= 149, `found ${models.length} conformance models`);
  const dir = tempDir();
  for (const file of models) {
    // deferAbove 0 leaves every initializer's raw_data on disk: the streamed splice must be exact too.
    for (const deferAbove of [0, 4096, Infinity]) {
      const model = await loadModel(file, { deferAbove });
      const out = path.join(dir, 'copy.onnx');
      await saveModel(model, out);
      assert.ok(fs.readFileSync(out).equals(fs.readFileSync(file)), `${file} (deferAbove ${deferAbove}) changed on round trip`);
    }
  }
});

test('fields the schema does not know survive a round trip', async () => {
  const dir = tempDir();
  const original = fs.readFileSync(fixture('convnet.onnx'));
  // Append field 99 (length-delimited, "hi") to the ModelProto: a future ONNX field.
  const withUnknown = Buffer.concat([original, Buffer.from([0x9a, 0x06, 0x02, 0x68, 0x69])]);
  const file = path.join(dir, 'future.onnx');
  fs.writeFileSync(file, withUnknown);
  const model = await loadModel(file, { deferAbove: 0 });
  const out = path.join(dir, 'out.onnx');
  await saveModel(model, out);
  assert.ok(fs.readFileSync(out).equals(withUnknown));
});

test('saving with external data and back gives the same tensors and the same bytes', async () => {
  const dir = tempDir();
  const original = await loadModel(fixture('encoder.onnx'));
  const saved = await saveModel(original, path.join(dir, 'ext', 'model.onnx'), { externalData: 'always' });
  assert.equal(saved.dataFile, path.join(dir, 'ext', 'model.onnx.data'));
  assert.ok(fs.statSync(path.join(dir, 'ext', 'model.onnx')).size < 64 * 1024, 'weights left the model file');

  const external = await loadModel(path.join(dir, 'ext', 'model.onnx'));
  const a = original.proto.graph!.initializer;
  const b = external.proto.graph!.initializer;
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    assert.equal(b[i].name, a[i].name);
    const [ta, tb] = [await readTensor(original, a[i]), await readTensor(external, b[i])];
    assert.deepEqual(tb.shape, ta.shape);
    assert.ok(Buffer.from(toBytes(ta)).equals(Buffer.from(toBytes(tb))), `tensor ${a[i].name} differs`);
  }
  // The 'auto' mode keeps external data for a model that had it; 'never' folds it back in.
  const inline = path.join(dir, 'inline.onnx');
  await saveModel(external, inline, { externalData: 'never' });
  assert.ok(fs.readFileSync(inline).equals(fs.readFileSync(fixture('encoder.onnx'))));
  const again = await saveModel(external, path.join(dir, 'again.onnx'));
  assert.ok(again.dataFile, 'auto keeps external data');
});

test('large tensors in external data are aligned for memory mapping', async () => {
  const dir = tempDir();
  const model = await loadModel(fixture('encoder.onnx'));
  await saveModel(model, path.join(dir, 'm.onnx'), { externalData: 'always' });
  const reloaded = await loadModel(path.join(dir, 'm.onnx'));
  for (const range of reloaded.ranges.values()) assert.equal(range.offset % 64, 0);
});
