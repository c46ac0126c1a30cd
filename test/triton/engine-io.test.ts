import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { signatureFromEngineLog } from '../../src/triton/engine-io.js';
import { runCli, shared, tempDir } from '../helpers.js';

/** A shared trtexec log without its `# source:` line, saved as `<engine>.log` beside a stand-in engine. */
function engineWithLog(dir: string, log: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const plan = path.join(dir, 'model.plan');
  fs.writeFileSync(plan, 'engine bytes');
  const text = fs.readFileSync(shared('trtexec-logs', log), 'utf8');
  fs.writeFileSync(`${plan}.log`, text.slice(text.indexOf('\n') + 1));
  return plan;
}

test('a TensorRT 10.16 log gives names, dtypes and bound dims of every binding', async () => {
  const plan = engineWithLog(tempDir(), '08-trt10.16.1-dumpprofile-exporttimes-exportprofile-pass.log');
  const sig = await signatureFromEngineLog(`${plan}.log`);
  assert.deepEqual(sig, {
    inputs: [{ name: 'x', dtype: 'float32', shape: [1, 1, 28, 28] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, 10] }, { name: 'z', dtype: 'int64', shape: [1] }],
  });
});

test('the log is read line by line: CRLF endings are fine; a missing log is an input error naming it', async () => {
  const dir = tempDir();
  const plan = engineWithLog(dir, '08-trt10.16.1-dumpprofile-exporttimes-exportprofile-pass.log');
  fs.writeFileSync(`${plan}.log`, fs.readFileSync(`${plan}.log`, 'utf8').replace(/\n/g, '\r\n'));
  assert.deepEqual((await signatureFromEngineLog(`${plan}.log`)).outputs.map((t) => [t.name, t.dtype, t.shape]), [['y', 'float32', [1, 10]], ['z', 'int64', [1]]]);
  await assert.rejects(signatureFromEngineLog(path.join(dir, 'missing.log')), (e: Error & { exitCode?: number }) =>
    e.exitCode === 2 && e.message === `engine log not found: ${path.join(dir, 'missing.log')}`);
});

test('package reads an engine\'s I/O from the log beside it, and refuses a log without dtypes', () => {
  const dir = tempDir();
  const plan = engineWithLog(dir, '08-trt10.16.1-dumpprofile-exporttimes-exportprofile-pass.log');
  const ok = runCli(['package', plan, '-o', path.join(dir, 'repo'), '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  const model = JSON.parse(ok.stdout).models[0];
  assert.equal(model.platform, 'tensorrt_plan');
  assert.deepEqual(model.outputs.map((o: { name: string; dataType: string }) => [o.name, o.dataType]), [['y', 'TYPE_FP32'], ['z', 'TYPE_INT64']]);

  const old = engineWithLog(path.join(dir, 'old'), '06-trt10.14.1-onnx-defaults-pass.log');
  const refused = runCli(['package', old, '-o', path.join(dir, 'repo2')]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /does not state the dtype of 'x'.*\nhint: give the ONNX model the engine was built from: --io-from model\.onnx/);
  assert.equal(fs.existsSync(path.join(dir, 'repo2')), false);
});
