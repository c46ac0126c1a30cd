import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { attr, makeNode } from '../../src/quantize/graph.js';
import { fixture, listFiles, runCli, tempDir } from '../helpers.js';
import { floats, value, writeModel } from '../quantize/helpers.js';

const CHANNELS = 16;

/**
 * y = (x · s) · W where s scales input channel 0 by 1000: the outlier sets the per-tensor scale
 * INT8 gives the MatMul's activation, and the other 15 channels, which carry most of y, round to 0.
 */
async function outlierModel(dir: string, extraOutputs = false): Promise<string> {
  const scale = floats([CHANNELS], (i) => (i === 0 ? 1000 : 1));
  const weight = floats([CHANNELS, CHANNELS], (i) => (i < CHANNELS ? 1e-3 : Math.sin(i * 1.7)));
  const nodes = [makeNode('Mul', ['x', 'scale'], ['scaled'], { name: 'scale' }), makeNode('MatMul', ['scaled', 'weight'], ['y'], { name: 'project' })];
  if (extraOutputs) nodes.push(makeNode('ArgMax', ['y'], ['label'], { name: 'argmax', attributes: [attr.int('axis', 1)] }));
  const outputs = [value('y', 'float32', ['batch', CHANNELS]), ...(extraOutputs ? [value('label', 'int64', ['batch', 1])] : [])];
  return writeModel(path.join(dir, 'outlier.onnx'), nodes, [value('x', 'float32', ['batch', CHANNELS])], outputs, { scale, weight });
}

test('quantize gates by default: an outlier channel INT8 destroys exits 1 with the report, FP16 of it passes', async () => {
  const dir = tempDir();
  const model = await outlierModel(dir);
  const out = path.join(dir, 'outlier.int8.onnx');
  const r = runCli(['quantize', model, '-o', out, '--to', 'int8', '--dim', 'batch=8', '--json']);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.drift.passed, false);
  const [y] = report.drift.outputs;
  assert.ok(y.cosine < 0.9, `cosine ${y.cosine}`);
  assert.deepEqual(report.drift.gate.minCosine, 0.99);
  assert.match(r.stderr, /^tdeploy: error: drift beyond the int8 drift gate: y \(cosine [\d.e-]+ < 0\.99\); the model was written to .*outlier\.int8\.onnx$/m);
  assert.ok(fs.existsSync(out), 'a failed gate keeps the model to examine');
  assert.ok(report.notes.length > 0 && report.drift.notes.some((n: string) => /^drift gate: cosine >= 0\.99 \(the int8 default; --max-drift-cosine sets the cosine; --no-gate only reports\)$/.test(n)));

  const human = runCli(['quantize', model, '-o', out, '--to', 'int8', '--dim', 'batch=8']);
  assert.equal(human.code, 1);
  assert.match(human.stdout, /^FAILED: 1 of 1 outputs beyond tolerance \(y\) over 1 input set$/m);
  assert.doesNotMatch(human.stdout, /PASSED|within tolerance/);

  const fp16 = runCli(['quantize', model, '-o', path.join(dir, 'outlier.fp16.onnx'), '--to', 'fp16', '--dim', 'batch=8', '--json']);
  assert.equal(fp16.code, 0, fp16.stderr);
  const half = JSON.parse(fp16.stdout).drift;
  assert.equal(half.passed, true);
  assert.deepEqual([half.gate.minCosine, half.gate.atol, half.gate.rtol], [0.999, { ofRange: 0.01 }, 0.01]);
  assert.ok(half.outputs[0].cosine > 0.999999);
  // the element tolerance follows the output's scale: 1% of y's range
  assert.ok(half.outputs[0].atol > 0 && half.outputs[0].atol < 1, `atol ${half.outputs[0].atol}`);
});

test('--no-gate reports the drift without judging it: exit 0, passed null, no PASSED for what was not judged', async () => {
  const dir = tempDir();
  const model = await outlierModel(dir, true);
  const out = path.join(dir, 'o.onnx');
  const r = runCli(['quantize', model, '-o', out, '--to', 'int8', '--dim', 'batch=8', '--no-gate', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const { drift } = JSON.parse(r.stdout);
  assert.deepEqual([drift.passed, drift.gate], [null, null]);
  assert.deepEqual(drift.outputs.map((o: { name: string; passed: null }) => [o.name, o.passed]), [['y', null], ['label', null]]);
  assert.ok(drift.notes.includes('no drift gate (--no-gate): the errors are reported, not judged'));
  const human = runCli(['quantize', model, '-o', out, '--to', 'int8', '--dim', 'batch=8', '--no-gate']);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /^NOT JUDGED: 2 outputs compared over 1 input set, without a gate$/m);
  assert.match(human.stdout, /│ tolerance │ none: the errors are reported, not judged │/);
  assert.doesNotMatch(human.stdout + human.stderr, /PASSED|within tolerance|undefined/);

  // an integer output is judged exactly under the default gate, and the failure says so (it said "undefined" before)
  const judged = runCli(['quantize', model, '-o', out, '--to', 'int8', '--dim', 'batch=8']);
  assert.equal(judged.code, 1);
  assert.doesNotMatch(judged.stderr, /undefined/);
  assert.match(judged.stderr, /^tdeploy: error: drift beyond the int8 drift gate: y \(cosine [\d.e-]+ < 0\.99\), label \(\d+ of 8 elements differ \(compared exactly\)\); the model/m);
  assert.equal(runCli(['quantize', model, '-o', out, '--to', 'int8', '--no-gate', '--max-drift-cosine', '0.9']).code, 2);
});

test('check judges a model by its precision: an fp16 model against its original passes the fp16 default, which it says', () => {
  const dir = tempDir();
  const fp16 = path.join(dir, 'e.fp16.onnx');
  assert.equal(runCli(['quantize', fixture('encoder.onnx'), '-o', fp16, '--to', 'fp16']).code, 0);
  const r = runCli(['check', fp16, '--against', fixture('encoder.onnx'), '--json']);
  assert.equal(r.code, 0, r.stdout);
  const report = JSON.parse(r.stdout);
  assert.deepEqual([report.gate.atol, report.gate.rtol, report.gate.minCosine], [{ ofRange: 0.01 }, 0.01, 0.999]);
  assert.ok(report.notes.some((n: string) => n.endsWith("computes in fp16: its default gate is atol 1% of the output's range, rtol 0.01, cosine >= 0.999")), report.notes.join('\n'));
  // an element tolerance that ignores the output's scale is still there for the asking
  const strict = runCli(['check', fp16, '--against', fixture('encoder.onnx'), '--atol', '1e-6', '--rtol', '0']);
  assert.equal(strict.code, 1);
  const relative = runCli(['check', fp16, '--against', fixture('encoder.onnx'), '--atol', '0.5%', '--json']);
  assert.equal(relative.code, 0, relative.stdout);
  assert.deepEqual(JSON.parse(relative.stdout).gate.atol, { ofRange: 0.005 });
  assert.match(runCli(['check', fp16, '--against', fixture('encoder.onnx'), '--atol', '1%%']).stderr, /^tdeploy: error: --atol: expected a number >= 0, or a share of the output's range such as 1%$/m);
});

test('a quantize whose drift cannot be measured leaves what was at the destination, byte for byte', () => {
  const dir = tempDir();
  const out = path.join(dir, 'e.onnx');
  fs.copyFileSync(fixture('convnet.onnx'), out);
  fs.writeFileSync(`${out}.data`, 'weights of another model');
  const before = [fs.readFileSync(out), fs.readFileSync(`${out}.data`)];
  // token ids beyond the vocabulary: the conversion succeeds, running the models does not
  for (const source of [fixture('encoder.onnx'), fixture('encoder_external', 'encoder.onnx')]) {
    const r = runCli(['quantize', source, '-o', out, '--to', 'fp16', '--int-range', '0..100000']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^tdeploy: error: .*encoder\.onnx/m);
    assert.deepEqual([fs.readFileSync(out), fs.readFileSync(`${out}.data`)], before);
    assert.deepEqual(listFiles(dir), ['e.onnx', 'e.onnx.data'], 'no staged or temporary file left behind');
  }
  // and a run that can be measured replaces both, the data file with the model that points at it
  const ok = runCli(['quantize', fixture('encoder_external', 'encoder.onnx'), '-o', out, '--to', 'fp16']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.notDeepEqual(fs.readFileSync(`${out}.data`), before[1]);
  assert.deepEqual(listFiles(dir), ['e.onnx', 'e.onnx.data']);
});
