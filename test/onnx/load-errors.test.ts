import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../src/errors.js';
import { loadModel } from '../../src/onnx/model.js';
import { fixture, tempDir } from '../helpers.js';

async function loadError(file: string): Promise<InputError> {
  try {
    await loadModel(file);
  } catch (error) {
    assert.ok(error instanceof InputError, `expected InputError, got ${error}`);
    return error;
  }
  assert.fail(`${file} loaded`);
}

test('a missing file, a directory, an empty, truncated or non-ONNX file are input errors', async () => {
  const dir = tempDir();
  assert.match((await loadError(path.join(dir, 'nope.onnx'))).message, /model not found: .*nope\.onnx/);
  assert.match((await loadError(dir)).message, /is a directory/);
  fs.writeFileSync(path.join(dir, 'empty.onnx'), '');
  assert.match((await loadError(path.join(dir, 'empty.onnx'))).message, /empty file/);
  const bytes = fs.readFileSync(fixture('encoder.onnx'));
  fs.writeFileSync(path.join(dir, 'cut.onnx'), bytes.subarray(0, bytes.length - 1000));
  assert.match((await loadError(path.join(dir, 'cut.onnx'))).message, /truncated or not an ONNX model/);
  fs.writeFileSync(path.join(dir, 'text.onnx'), 'this is not a model\n');
  assert.match((await loadError(path.join(dir, 'text.onnx'))).message, /not an ONNX model/);
  assert.match((await loadError(fixture('encoder.reference.npz'))).message, /not an ONNX model/);
});

function copyExternal(dir: string): string {
  fs.cpSync(fixture('encoder_external'), dir, { recursive: true });
  return path.join(dir, 'encoder.onnx');
}

test('a missing external-data file is named', async () => {
  const model = copyExternal(tempDir());
  fs.rmSync(`${model}.data`);
  const error = await loadError(model);
  assert.match(error.message, /external data file 'encoder\.onnx\.data' of tensor '.+' is missing/);
});

test('an external-data path through a file is a missing data file, not an internal error', async () => {
  const dir = tempDir();
  const model = copyExternal(dir);
  // Same length: "encoder.onnx.data" -> "encoder.onnx/data", a path through the model file itself.
  const bytes = fs.readFileSync(model).toString('latin1').replaceAll('encoder.onnx.data', 'encoder.onnx/data');
  fs.writeFileSync(model, Buffer.from(bytes, 'latin1'));
  assert.match((await loadError(model)).message, /^external data file 'encoder\.onnx\/data' of tensor '.+' is missing \(looked for .*encoder\.onnx\/data\)$/);
});

test('a truncated external-data file is refused', async () => {
  const model = copyExternal(tempDir());
  fs.truncateSync(`${model}.data`, 1000);
  assert.match((await loadError(model)).message, /external data file 'encoder\.onnx\.data' is too short/);
});

test('an external-data path that escapes the model folder is refused', async () => {
  const dir = tempDir();
  const model = copyExternal(path.join(dir, 'inner'));
  const bytes = fs.readFileSync(model);
  // Same length, so the protobuf stays valid: "encoder.onnx.data" -> "../ncoder.onnx.da"
  const escaped = Buffer.from(bytes.toString('latin1').replaceAll('encoder.onnx.data', '../ncoder.onnx.da'), 'latin1');
  fs.copyFileSync(`${model}.data`, path.join(dir, 'ncoder.onnx.da'));
  fs.writeFileSync(model, escaped);
  assert.match((await loadError(model)).message, /external data path '\.\.\/ncoder\.onnx\.da' of tensor '.+' escapes the model's folder/);
});
