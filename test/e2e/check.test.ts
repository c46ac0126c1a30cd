import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { loadModel, readTensor } from '../../src/onnx/model.js';
import { saveModel } from '../../src/onnx/save.js';
import { toBytes } from '../../src/tensor/tensor.js';
import { fixture, listFiles, runCli, tempDir } from '../helpers.js';

const encoder = fixture('encoder.onnx');
const reference = fixture('encoder.reference.npz');

async function driftedEncoder(dir: string): Promise<string> {
  const model = await loadModel(encoder);
  const weight = model.proto.graph!.initializer.find((t) => t.name === 'classifier.weight')!;
  const values = Float32Array.from((await readTensor(model, weight)).data as Float32Array, (v) => v * 1.02);
  weight.rawData = toBytes({ dtype: 'float32', shape: [values.length], data: values });
  model.ranges.delete(weight);
  const file = path.join(dir, 'drifted.onnx');
  await saveModel(model, file);
  return file;
}

test('check passes the encoder against its reference: a table and exit 0', () => {
  const { code, stdout, stderr } = runCli(['check', encoder, '--reference', reference]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /│ logits +│ \[2, 4\] +│ float32 │/);
  assert.match(stdout, /│ hidden_states +│ \[2, 16, 64\] +│ float32 │/);
  assert.match(stdout, /tolerance +│ atol 1e-5, rtol 1e-3/);
  assert.match(stdout, /PASSED: 2 outputs within tolerance over 1 input set\n$/);
  assert.equal(stderr, '');
});

test('drift: the full report, the worst elements, then exit 1 with one line on stderr', async () => {
  const drifted = await driftedEncoder(tempDir());
  const { code, stdout, stderr } = runCli(['check', drifted, '--reference', reference]);
  assert.equal(code, 1);
  assert.match(stdout, /│ logits +│ \[2, 4\] .*│ FAIL +│/);
  assert.match(stdout, /│ hidden_states .*│ pass +│/);
  assert.match(stdout, /logits: \d of 8 elements beyond atol 1e-5 \+ rtol 1e-3·\|expected\|\n/);
  assert.match(stdout, /│ index +│ +expected │ +actual │ +\|a-e\| │/);
  assert.match(stdout, /FAILED: 1 of 2 outputs beyond tolerance \(logits\) over 1 input set/);
  assert.equal(stderr, 'tdeploy: error: accuracy check failed: logits beyond tolerance\n');
});

test('with --json a failed gate prints its report as the one JSON document', async () => {
  const drifted = await driftedEncoder(tempDir());
  const { code, stdout } = runCli(['check', drifted, '--against', encoder, '--dim', 'batch=2', '--dim', 'seq=8', '--json']);
  assert.equal(code, 1);
  const report = JSON.parse(stdout);
  assert.equal(report.passed, false);
  assert.equal(report.sets, 1);
  const [logits, hidden] = report.outputs;
  assert.deepEqual(Object.keys(logits).slice(0, 16), [
    'name', 'shape', 'dtype', 'maxAbsError', 'meanAbsError', 'maxRelError', 'cosine', 'quantileError',
    'top1Agreement', 'topKAgreement', 'mismatches', 'elements', 'exact', 'atol', 'rtol', 'passed',
  ]);
  assert.deepEqual([logits.name, logits.shape, logits.passed, hidden.passed], ['logits', [2, 4], false, true]);
  assert.ok(logits.maxAbsError > 5e-3 && logits.cosine > 0.999 && logits.cosine < 1);
  assert.deepEqual(Object.keys(logits.worst[0]), ['index', 'expected', 'actual']);
  assert.deepEqual(report.against, { kind: 'model', path: encoder });
  assert.equal(hidden.maxAbsError, 0);
});

test('an fp16 model (float16 outputs) checks against the fp32 reference: values widened, not a dtype error', () => {
  const fp16 = path.join(tempDir(), 'encoder.fp16.onnx');
  const quantized = runCli(['quantize', encoder, '-o', fp16, '--to', 'fp16']);
  assert.equal(quantized.code, 0, quantized.stderr);
  const { code, stdout, stderr } = runCli(['check', fp16, '--reference', reference, '--json']);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  assert.equal(report.passed, true);
  assert.ok(report.notes.includes('outputs compared across float types (both widened to float64): logits float32→float16, hidden_states float32→float16'), report.notes.join('\n'));
  assert.match(stderr, /tdeploy: note: outputs compared across float types/);
  // the same inputs through the fp32 model, which is within 2e-6 of the reference: the same cosines
  const against = JSON.parse(runCli(['check', fp16, '--against', encoder, '--inputs', reference, '--json']).stdout);
  report.outputs.forEach((o: { name: string; dtype: string; cosine: number }, i: number) => {
    assert.equal(o.dtype, 'float16');
    assert.ok(o.cosine > 0.999 && o.cosine < 1, `${o.name} cosine ${o.cosine}`);
    assert.ok(Math.abs(o.cosine - against.outputs[i].cosine) < 1e-6, `${o.name}: ${o.cosine} against ${against.outputs[i].cosine}`);
  });
});

test('bad flags and inputs exit 2 with one line naming the problem, and write nothing', () => {
  const dir = tempDir();
  const cases: [string[], RegExp][] = [
    [['--atol', 'abc'], /^tdeploy: error: --atol: expected a number >= 0, or a share of the output's range such as 1%$/m],
    [['--rtol', '-1'], /^tdeploy: error: --rtol: expected a number >= 0$/m],
    [['--min-top1', '1.5'], /^tdeploy: error: --min-top1: expected a number from 0 to 1$/m],
    [['--top-k', '0'], /^tdeploy: error: --top-k: expected a positive integer$/m],
    [['--seed', '4294967296'], /^tdeploy: error: --seed: expected an integer from 0 to 4294967295$/m],
    [['--seed', '0x10'], /^tdeploy: error: --seed: expected an integer from 0 to 4294967295$/m],
    [['--int-range', '5..5'], /^tdeploy: error: --int-range: expected lo\.\.hi with lo < hi, e\.g\. 0\.\.100$/m],
    [['--threads', '1.5'], /^tdeploy: error: --threads: expected a positive integer$/m],
    [['--tolerance', 'logits'], /^tdeploy: error: --tolerance logits: expected name=atol\[:rtol\]/m],
    [['--tolerance', 'logit=1e-3'], /^tdeploy: error: --tolerance logit: .*encoder\.onnx has no output 'logit'$/m],
    [['--reference', path.join(dir, 'absent.npz')], /^tdeploy: error: reference not found: .*absent\.npz$/m],
    [['--against', encoder, '--dim', 'seq=8,16'], /^tdeploy: error: --dim seq=8,16: expected one value, got 2$/m],
    [[], /^tdeploy: error: nothing to compare with$/m],
    [['--reference', reference, '--against', encoder], /^tdeploy: error: give --reference or --against, not both$/m],
  ];
  for (const [args, message] of cases) {
    const withReference = args.includes('--reference') || args.includes('--against') || args.length === 0 ? args : [...args, '--reference', reference];
    const { code, stderr, stdout } = runCli(['check', encoder, ...withReference]);
    assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
    assert.match(stderr, message, args.join(' '));
    assert.equal(stdout, '');
  }
  assert.deepEqual(listFiles(dir), []);
  const missing = runCli(['check', path.join(dir, 'absent.onnx'), '--reference', reference]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^tdeploy: error: model not found: .*absent\.onnx$/m);
  const folder = runCli(['check', dir]);
  assert.equal(folder.code, 2);
  assert.match(folder.stderr, /is a folder without model\.onnx\nhint: give a model file, or an ONNX test folder/);
});

test('check --help shows an example', () => {
  const { code, stdout } = runCli(['check', '--help']);
  assert.equal(code, 0);
  assert.match(stdout, /tdeploy check model\.fp16\.onnx --against model\.onnx/);
  assert.match(stdout, /--tolerance <name=atol\[:rtol\]>/);
});
