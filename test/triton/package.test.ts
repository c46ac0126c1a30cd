import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadModel } from '../../src/onnx/model.js';
import { DataType } from '../../src/triton/gen/model_config_pb.js';
import { PackageOptions, type PackageOptionsInput } from '../../src/triton/options.js';
import { packageModel } from '../../src/triton/package.js';
import { readConfig } from '../../src/triton/text.js';
import { verifyRepository } from '../../src/triton/verify.js';
import { conformance, fixture, listFiles, tempDir } from '../helpers.js';

const pack = (model: string, options: PackageOptionsInput) => packageModel(model, PackageOptions.parse(options));
const snapshot = (dir: string) => listFiles(dir).map((f) => `${f}:${fs.readFileSync(path.join(dir, f)).toString('base64').length}`);

test('the encoder: config.pbtxt and 1/model.onnx, the model copied byte for byte', async () => {
  const repo = path.join(tempDir(), 'models');
  const result = await pack(fixture('encoder.onnx'), { output: repo });
  assert.equal(result.repository, repo);
  assert.equal(result.version, 1);
  assert.deepEqual(result.files, ['encoder/config.pbtxt', 'encoder/1/model.onnx']);
  assert.deepEqual(listFiles(repo), ['encoder/1/model.onnx', 'encoder/config.pbtxt', 'tdeploy.json']);
  assert.ok(fs.readFileSync(path.join(repo, 'encoder', '1', 'model.onnx')).equals(fs.readFileSync(fixture('encoder.onnx'))));
  const config = await readConfig(path.join(repo, 'encoder', 'config.pbtxt'));
  assert.equal(config.name, 'encoder');
  assert.deepEqual(config.input.map((t) => [t.name, DataType[t.dataType], t.dims]), [['input_ids', 'TYPE_INT64', [-1n]], ['attention_mask', 'TYPE_INT64', [-1n]]]);
  assert.deepEqual(result.models[0].outputs, [{ name: 'logits', dataType: 'TYPE_FP32', dims: [4] }, { name: 'hidden_states', dataType: 'TYPE_FP32', dims: [-1, 64] }]);
});

test('external data travels with the model into the version folder, and the copy loads', async () => {
  const repo = path.join(tempDir(), 'models');
  const result = await pack(fixture('encoder_external', 'encoder.onnx'), { output: repo, name: 'ext' });
  assert.deepEqual(result.files, ['ext/config.pbtxt', 'ext/1/model.onnx', 'ext/1/encoder.onnx.data']);
  const original = await loadModel(fixture('encoder_external', 'encoder.onnx'));
  const copy = await loadModel(path.join(repo, 'ext', '1', 'model.onnx'));
  assert.equal(copy.sizeBytes, original.sizeBytes);
  assert.ok(fs.readFileSync(path.join(repo, 'ext', '1', 'encoder.onnx.data')).equals(fs.readFileSync(fixture('encoder_external', 'encoder.onnx.data'))));
  assert.equal((await verifyRepository(repo)).passed, true);
});

test('a TensorRT engine: platform tensorrt_plan, model.plan, tensors from --io-from', async () => {
  const dir = tempDir();
  const engine = path.join(dir, 'encoder.plan');
  fs.writeFileSync(engine, Buffer.from('not really an engine, but bytes to copy'));
  const result = await pack(engine, { output: path.join(dir, 'models'), ioFrom: fixture('encoder.onnx'), maxBatchSize: 8, kind: 'gpu' });
  assert.deepEqual(result.files, ['encoder/config.pbtxt', 'encoder/1/model.plan']);
  assert.equal(result.notes[0], `inputs and outputs taken from ${fixture('encoder.onnx')}`);
  // No trtexec log says which TensorRT built these bytes: the release check says so instead of passing it.
  assert.deepEqual(result.triton.notChecked.map((u) => u.field), ['tensorrt']);
  const config = await readConfig(path.join(dir, 'models', 'encoder', 'config.pbtxt'));
  assert.deepEqual([config.platform, config.maxBatchSize, config.input.map((t) => t.name)], ['tensorrt_plan', 8, ['input_ids', 'attention_mask']]);
  assert.ok(fs.readFileSync(path.join(dir, 'models', 'encoder', '1', 'model.plan')).equals(fs.readFileSync(engine)));
  await assert.rejects(pack(engine, { output: path.join(dir, 'm2') }), /a TensorRT engine, which does not tell tdeploy its inputs and outputs/);
  await assert.rejects(pack(engine, { output: path.join(dir, 'm2'), ioFrom: engine }), /`ioFrom: .*encoder.plan`: expected .onnx/);
  await assert.rejects(pack(fixture('encoder.onnx'), { output: path.join(dir, 'm2'), ioFrom: fixture('encoder.onnx') }), /`ioFrom` is for TensorRT engines/);
  await assert.rejects(pack(fixture('encoder.pt'), { output: path.join(dir, 'm2') }), /tdeploy packages .onnx, .plan, .engine files/);
  assert.ok(!fs.existsSync(path.join(dir, 'm2')));
});

test('versions: an existing one is kept without --force, --force replaces it, next adds one', async () => {
  const repo = path.join(tempDir(), 'models');
  await pack(fixture('encoder.onnx'), { output: repo });
  const before = snapshot(repo);
  await assert.rejects(pack(fixture('encoder.onnx'), { output: repo, warmupBatch: 1 }), /encoder\/1 already exists/);
  assert.deepEqual(snapshot(repo), before);

  const forced = await pack(fixture('encoder.onnx'), { output: repo, force: true, warmupBatch: 1 });
  assert.deepEqual(forced.replaced, ['encoder/1']);
  assert.equal((await readConfig(path.join(repo, 'encoder', 'config.pbtxt'))).modelWarmup.length, 1);

  const next = await pack(fixture('encoder.onnx'), { output: repo, modelVersion: 'next', versionPolicy: 'latest:2' });
  assert.equal(next.version, 2);
  assert.deepEqual(listFiles(repo), ['encoder/1/model.onnx', 'encoder/2/model.onnx', 'encoder/config.pbtxt', 'tdeploy.json']);
  const third = await pack(fixture('encoder.onnx'), { output: repo, modelVersion: '5' });
  assert.equal(third.version, 5);
  assert.equal((await verifyRepository(repo)).passed, true);
});

test('a new version must describe the same tensors as the versions beside it', async () => {
  const repo = path.join(tempDir(), 'models');
  await pack(fixture('encoder.onnx'), { output: repo });
  const before = snapshot(repo);
  await assert.rejects(pack(fixture('convnet.onnx'), { output: repo, name: 'encoder', modelVersion: 'next' }), /encoder\/config.pbtxt describes other inputs\/outputs .* versions 1 still use it/);
  await assert.rejects(pack(fixture('encoder.onnx'), { output: repo, modelVersion: 'next', maxBatchSize: 2 }), /describes other inputs\/outputs \(or max_batch_size\)/);
  assert.deepEqual(snapshot(repo), before);
  // Replacing the only version may change the tensors.
  await pack(fixture('convnet.onnx'), { output: repo, name: 'encoder', force: true });
  assert.deepEqual((await readConfig(path.join(repo, 'encoder', 'config.pbtxt'))).input.map((t) => t.name), ['image']);
});

test('models join an existing repository beside the others; a label file goes beside config.pbtxt', async () => {
  const dir = tempDir();
  const repo = path.join(dir, 'models');
  await pack(fixture('encoder.onnx'), { output: repo });
  const labels = path.join(dir, 'classes.txt');
  fs.writeFileSync(labels, Array.from({ length: 10 }, (_, i) => `class ${i}`).join('\n'));
  const result = await pack(fixture('convnet.onnx'), { output: repo, labelFile: `logits=${labels}` });
  assert.deepEqual(result.files, ['convnet/config.pbtxt', 'convnet/classes.txt', 'convnet/1/model.onnx']);
  assert.equal((await readConfig(path.join(repo, 'convnet', 'config.pbtxt'))).output[0].labelFilename, 'classes.txt');
  assert.deepEqual(listFiles(repo), ['convnet/1/model.onnx', 'convnet/classes.txt', 'convnet/config.pbtxt', 'encoder/1/model.onnx', 'encoder/config.pbtxt', 'tdeploy.json']);
  const empty = path.join(dir, 'empty.txt');
  fs.writeFileSync(empty, '');
  await assert.rejects(pack(fixture('convnet.onnx'), { output: path.join(dir, 'x'), labelFile: empty }), /empty\.txt` has 0 lines but output 'logits' has 10 classes/);
  await assert.rejects(pack(fixture('convnet.onnx'), { output: path.join(dir, 'x'), labelFile: path.join(dir, 'missing.txt') }), /label file not found/);
});

test('a file where the model folder would go is an input error, and stays as it was', async () => {
  const repo = path.join(tempDir(), 'models');
  fs.mkdirSync(repo);
  fs.writeFileSync(path.join(repo, 'encoder'), 'notes');
  await assert.rejects(pack(fixture('encoder.onnx'), { output: repo }), (e: Error & { exitCode?: number }) =>
    e.exitCode === 2 && e.message === `${path.join(repo, 'encoder')} exists and is not a folder`);
  assert.deepEqual(listFiles(repo), ['encoder']);
  assert.equal(fs.readFileSync(path.join(repo, 'encoder'), 'utf8'), 'notes');
});

test('unsafe names are refused before anything is written', async () => {
  const dir = tempDir();
  for (const name of ['..', '.', 'a/b', 'x y', '']) {
    assert.throws(() => PackageOptions.parse({ output: path.join(dir, 'models'), name }), /model names may use only letters, digits/, name);
  }
  const spaced = path.join(dir, 'my model.onnx');
  fs.copyFileSync(fixture('convnet.onnx'), spaced);
  await assert.rejects(pack(spaced, { output: path.join(dir, 'models') }), /'my model' \(from the file name\) is not a safe model name/);
  assert.ok(!fs.existsSync(path.join(dir, 'models')));
});

test('every conformance model packages and verifies clean, except the four with scalar inputs', async () => {
  const repo = path.join(tempDir(), 'models');
  const refused: string[] = [];
  let packaged = 0;
  for (const suite of fs.readdirSync(conformance())) {
    for (const entry of fs.readdirSync(conformance(suite))) {
      const dir = conformance(suite, entry);
      const file = fs.statSync(dir).isDirectory() ? path.join(dir, 'model.onnx') : dir;
      if (!file.endsWith('.onnx')) continue;
      const name = `${suite}_${entry}`.replace(/\.onnx$/, '').replace(/[^\w.-]/g, '_');
      try {
        await pack(file, { output: repo, name });
        packaged++;
      } catch (error) {
        refused.push(`${name}: ${(error as Error).message}`);
      }
    }
  }
  assert.equal(packaged, 145);
  assert.equal(refused.length, 4, refused.join('\n'));
  assert.ok(refused.every((r) => /is a scalar; Triton serves scalars only in batches/.test(r)), refused.join('\n'));
  const report = await verifyRepository(repo);
  assert.equal(report.models.length, 145);
  assert.deepEqual(report.models.filter((m) => m.problems.length > 0), []);
});
