import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ToolError } from '../../src/errors.js';
import { OutputSet } from '../../src/io/atomic.js';
import { loadModel } from '../../src/onnx/model.js';
import { saveModel } from '../../src/onnx/save.js';
import { silent } from '../../src/progress.js';
import { openSession } from '../../src/runtime/session.js';
import { readNpz } from '../../src/tensor/npz.js';
import { toFloat64 } from '../../src/tensor/tensor.js';
import { deliver } from '../../src/torch/deliver.js';
import { placeModel } from '../../src/torch/place.js';
import { fixture, listFiles, python, skipWithoutPython, tempDir } from '../helpers.js';

/** Files other than the hidden temporaries an OutputSet writes before it commits. */
const visible = (dir: string) => listFiles(dir).filter((f) => !f.startsWith('.'));

async function outputsMatchReference(model: string): Promise<void> {
  const reference = await readNpz(fixture('encoder.reference.npz'));
  const session = await openSession(model);
  const outputs = await session.run(new Map([...reference].filter(([name]) => ['input_ids', 'attention_mask'].includes(name))));
  await session.release();
  for (const name of ['logits', 'hidden_states']) {
    const [expected, actual] = [toFloat64(reference.get(name)!), toFloat64(outputs.get(name)!)];
    assert.ok(expected.every((v, i) => Math.abs(v - actual[i]) < 1e-4), name);
  }
}

test('a model under 2 GB is renamed into place, alone', async () => {
  const [work, out] = [tempDir(), tempDir()];
  fs.copyFileSync(fixture('encoder.onnx'), path.join(work, 'model.onnx'));
  const set = new OutputSet();
  const dataFile = await placeModel(await loadModel(path.join(work, 'model.onnx')), path.join(out, 'encoder.onnx'), set);
  assert.equal(dataFile, undefined);
  assert.deepEqual(visible(out), [], 'nothing at the destination before commit');
  await set.commit();
  assert.deepEqual(listFiles(out), ['encoder.onnx']);
  assert.deepEqual(listFiles(work), []);
  assert.ok(fs.readFileSync(path.join(out, 'encoder.onnx')).equals(fs.readFileSync(fixture('encoder.onnx'))));
});

// torch writes a model over 2 GB as the graph plus one file per large tensor, named after the
// tensor, beside it. The onnx package writes the same layout, for a model small enough to test.
test('torch\'s one-file-per-tensor external data becomes <out>.onnx + <out>.onnx.data', { skip: skipWithoutPython(['onnx']) }, async () => {
  const [work, out] = [tempDir(), tempDir()];
  python(['onnx'], `
import sys, onnx
onnx.save_model(onnx.load(sys.argv[1]), sys.argv[2], save_as_external_data=True, all_tensors_to_one_file=False, size_threshold=1024)
`, [fixture('encoder.onnx'), path.join(work, 'model.onnx')]);
  const sideFiles = listFiles(work).length - 1;
  assert.ok(sideFiles >= 10, `${sideFiles} side files`);
  const set = new OutputSet();
  const dataFile = await placeModel(await loadModel(path.join(work, 'model.onnx')), path.join(out, 'encoder.onnx'), set);
  assert.equal(dataFile, path.join(out, 'encoder.onnx.data'));
  assert.deepEqual(visible(out), [], 'nothing at the destination before commit');
  await set.commit();
  assert.deepEqual(listFiles(out), ['encoder.onnx', 'encoder.onnx.data']);
  const [placed, original] = await Promise.all([loadModel(path.join(out, 'encoder.onnx')), loadModel(fixture('encoder.onnx'))]);
  assert.equal(placed.proto.graph!.initializer.length, original.proto.graph!.initializer.length);
  await outputsMatchReference(path.join(out, 'encoder.onnx'));
});

test('an aborted placement leaves nothing at the destination', { skip: skipWithoutPython(['onnx']) }, async () => {
  const [work, out] = [tempDir(), tempDir()];
  python(['onnx'], `
import sys, onnx
onnx.save_model(onnx.load(sys.argv[1]), sys.argv[2], save_as_external_data=True, all_tensors_to_one_file=False, size_threshold=1024)
`, [fixture('encoder.onnx'), path.join(work, 'model.onnx')]);
  const set = new OutputSet();
  await placeModel(await loadModel(path.join(work, 'model.onnx')), path.join(out, 'encoder.onnx'), set);
  await set.abort();
  assert.deepEqual(listFiles(out), []);
});

test('an export onnxruntime cannot load is a tool failure (exit 3), and nothing is placed', async () => {
  const [work, out] = [tempDir(), tempDir()];
  const model = await loadModel(fixture('convnet.onnx'));
  model.proto.graph!.node[0].opType = 'Frobnicate';
  await saveModel(model, path.join(work, 'model.onnx'));
  const set = new OutputSet();
  await assert.rejects(deliver(path.join(work, 'model.onnx'), path.join(out, 'convnet.onnx'), set, [], silent), (e: unknown) =>
    e instanceof ToolError && e.exitCode === 3 && e.kind === 'invalid-export' && /^torch exported a model that onnxruntime cannot load: .*Frobnicate/.test(e.message));
  await set.abort();
  assert.deepEqual(listFiles(out), []);
});
