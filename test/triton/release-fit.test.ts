import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { loadModel } from '../../src/onnx/model.js';
import { checkOnnxForRelease, modelNeeds, oldestFittingRelease } from '../../src/triton/release-check.js';
import { fixture, pythonWith, runCli, skipWithoutPython, tempDir } from '../helpers.js';

const VARIANTS: Record<string, string[]> = {
  fp16: ['--to', 'fp16'],
  'int8-dynamic': ['--to', 'int8', '--mode', 'dynamic'],
  'int8-static': ['--to', 'int8', '--mode', 'static', '--calibration', fixture('encoder.calibration.npz')],
};

for (const source of ['encoder.onnx', 'convnet.onnx']) {
  test(`every quantize output of ${source} loads in the oldest release the source fits, at the source's IR version`, async () => {
    const src = await loadModel(fixture(source), { deferAbove: 0 });
    const oldest = oldestFittingRelease(modelNeeds(src.proto));
    assert.ok(oldest, `${source} fits no release with every check made`);
    // IR 8, opset 17: onnxruntime 1.12 or newer; 23.04 (1.14.1) is the oldest with its figures found.
    assert.equal(oldest.release, '23.04');
    const dir = tempDir();
    for (const [name, args] of Object.entries(VARIANTS)) {
      if (source === 'convnet.onnx' && name === 'int8-static') continue; // the calibration data is the encoder's
      const out = path.join(dir, `${name}.onnx`);
      const r = runCli(['quantize', fixture(source), '-o', out, ...args, '--quiet']);
      assert.equal(r.code, 0, r.stderr);
      const { proto } = await loadModel(out, { deferAbove: 0 });
      assert.equal(proto.irVersion, src.proto.irVersion, `${name} keeps IR ${src.proto.irVersion}`);
      const found = checkOnnxForRelease(modelNeeds(proto), oldest, `${name}.onnx`);
      assert.deepEqual(found.problems, [], name);
      assert.deepEqual(found.unchecked, [], name);
    }
  });
}

test('a convert output of the encoder fixture loads in the oldest release it fits, like the committed export', { skip: skipWithoutPython(['torch', 'numpy']) }, async () => {
  const out = path.join(tempDir(), 'encoder.onnx');
  const python = pythonWith(['torch', 'numpy'])!;
  const r = runCli(['convert', fixture('encoder.pt'), '-o', out, '--python', python, '--input', 'input_ids:int64:batch,seq', '--input', 'attention_mask:int64:batch,seq', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const { proto } = await loadModel(out, { deferAbove: 0 });
  const oldest = oldestFittingRelease(modelNeeds(proto));
  assert.equal(oldest?.release, '23.04');
  assert.deepEqual(checkOnnxForRelease(modelNeeds(proto), oldest!, 'encoder.onnx'), { problems: [], unchecked: [] });
});
