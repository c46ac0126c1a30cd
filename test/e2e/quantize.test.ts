import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { writeNpz } from '../../src/tensor/npz.js';
import { fixture, listFiles, runCli, tempDir } from '../helpers.js';

test('quantize --json prints one document with the size, the conversion and the notes', () => {
  const dir = tempDir();
  const out = path.join(dir, 'encoder.int8.onnx');
  const r = runCli(['quantize', fixture('encoder.onnx'), '-o', out, '--to', 'int8', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(report), ['output', 'to', 'mode', 'target', 'sizeBefore', 'sizeAfter', 'nodesConverted', 'blockedNodes', 'clamped', 'fused', 'weights', 'drift', 'speed', 'notes']);
  assert.equal(report.drift.passed, true);
  assert.deepEqual(Object.keys(report.speed), ['originalMs', 'quantizedMs', 'speedup', 'runs', 'provider', 'slower']);
  assert.equal(report.speed.speedup, report.speed.originalMs / report.speed.quantizedMs);
  assert.equal(report.speed.slower, report.speed.speedup < 0.95);
  assert.equal(report.notes.some((n: string) => n.startsWith('warning: the quantized model runs at')), report.speed.slower);
  assert.deepEqual(report.drift.outputs.map((o: { name: string }) => o.name), ['logits', 'hidden_states']);
  assert.ok(report.drift.outputs.every((o: { cosine: number }) => o.cosine > 0.999));
  assert.equal(report.output, out);
  assert.equal(report.mode, 'auto');
  assert.equal(report.target, 'cpu');
  assert.deepEqual(report.fused, { Attention: 2 });
  assert.equal(report.nodesConverted, 12);
  assert.ok(report.sizeAfter < 0.35 * report.sizeBefore);
  assert.ok(report.notes.includes('fused 2 Attention (com.microsoft ops ONNX Runtime runs as one kernel; --no-fuse keeps the graph as exported)'), report.notes.join('\n'));
  const unfused = JSON.parse(runCli(['quantize', fixture('encoder.onnx'), '-o', path.join(dir, 'unfused.onnx'), '--to', 'int8', '--no-fuse', '--json']).stdout);
  assert.deepEqual([unfused.fused, unfused.nodesConverted], [{}, 16]);
  assert.deepEqual(unfused.blockedNodes[0], { node: '/blocks.0/attention/MatMul', op: 'MatMul', reason: 'its weight is computed at run time, not a float32 constant' });
  assert.deepEqual(listFiles(dir), ['encoder.int8.onnx', 'unfused.onnx']);
});

test('quantize prints a table for people, with the blocked nodes grouped', () => {
  const dir = tempDir();
  const r = runCli(['quantize', fixture('encoder.onnx'), '-o', path.join(dir, 'e.onnx'), '--to', 'fp16', '--block-op', 'Softmax']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /│ precision\s+│ fp16\s+│/);
  assert.match(r.stdout, /│ size\s+│ 716 KiB → 3\d\d KiB \(5\d\.\d %\)/);
  assert.match(r.stdout, /│ speed-up\s+│ \d+\.\d\d× \([\d.]+ ms against [\d.]+ ms, cpu\)( slower)?\s+│/);
  assert.match(r.stdout, /│ Softmax\s+│ 2 \(\/blocks\.0\/attention\/Softmax, …\) │ op type named by --block-op │/);
});

test('--max-drift-cosine gates on the drift: exit 1 after the report, which is still one JSON document', () => {
  const dir = tempDir();
  const args = ['quantize', fixture('encoder.onnx'), '-o', path.join(dir, 'e.onnx'), '--to', 'int8', '--inputs', fixture('encoder.holdout.npz'), '--json'];
  const strict = runCli([...args, '--max-drift-cosine', '0.99999']);
  assert.equal(strict.code, 1, strict.stderr);
  const report = JSON.parse(strict.stdout);
  assert.equal(report.drift.passed, false);
  assert.deepEqual(report.drift.outputs.filter((o: { passed: boolean }) => !o.passed).map((o: { name: string }) => o.name), ['logits', 'hidden_states']);
  assert.match(strict.stderr, /^tdeploy: error: drift beyond --max-drift-cosine 0\.99999: logits \(cosine 0\.999\d+ < 0\.99999\), hidden_states \(cosine 0\.999\d+ < 0\.99999\); the model was written to .*e\.onnx\nhint: .*--no-gate to only report\n$/m);
  const loose = runCli([...args, '--max-drift-cosine', '0.995']);
  assert.equal(loose.code, 0, loose.stderr);
  assert.equal(JSON.parse(loose.stdout).drift.passed, true);
  assert.equal(runCli([...args, '--max-drift-cosine', '2']).code, 2);
});

test('bad input exits 2 with one clear line and writes nothing', () => {
  const dir = tempDir();
  const quantized = path.join(dir, 'done.onnx');
  assert.equal(runCli(['quantize', fixture('encoder.onnx'), '-o', quantized, '--to', 'int8']).code, 0);
  const out = path.join(dir, 'out', 'model.onnx');
  const cases: [string[], RegExp][] = [
    [['--to', 'int4'], /option '--to <precision>' argument 'int4' is invalid\. Allowed choices are fp16, int8\./],
    [['--to', 'int8', '--mode', 'half'], /option '--mode <mode>' argument 'half' is invalid\. Allowed choices are auto, dynamic, static\./],
    [['--to', 'int8', '--mode', 'static', '--method', 'mean', '--calibration', fixture('encoder.calibration.npz')], /argument 'mean' is invalid\. Allowed choices are minmax, percentile, entropy\./],
    [['--to', 'int8', '--mode', 'static'], /static quantization needs calibration data/],
    [['--to', 'int8', '--mode', 'static', '--calibration', fixture('convnet.reference.npz')], /calibration data .*convnet\.reference\.npz has no tensor for input 'input_ids'/],
    [['--to', 'fp16', '--mode', 'dynamic'], /--mode applies to --to int8, not --to fp16/],
    [['--to', 'fp16', '--no-fuse'], /--no-fuse applies to --to int8, not --to fp16/],
    [['--to', 'fp16', '--block-node', 'nope'], /--block-node nope: the model has no node named 'nope'/],
    [['--to', 'int8', '--op-types', ','], /--op-types: no op type given; it knows MatMul, /],
    [['--to', 'int8', '--percentile', '99', '--mode', 'static', '--calibration', fixture('encoder.calibration.npz')], /--percentile applies to --method percentile only/],
  ];
  for (const [args, message] of cases) {
    const r = runCli(['quantize', fixture('encoder.onnx'), '-o', out, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^tdeploy: error: /);
    assert.match(r.stderr.split('\n')[0], message);
    assert.deepEqual(listFiles(path.join(dir, 'out')), [], `${args.join(' ')} wrote nothing`);
  }
  for (const to of ['int8', 'fp16']) {
    const r = runCli(['quantize', quantized, '-o', out, '--to', to, '--json']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^tdeploy: error: .*done\.onnx is already quantized \(it has 14 DequantizeLinear, DynamicQuantizeLinear, QAttention, DynamicQuantizeMatMul nodes\)\nhint: quantize the float32 model instead\n$/);
    assert.equal(JSON.parse(r.stdout).error.kind, 'already-quantized');
  }
  assert.deepEqual(listFiles(path.join(dir, 'out')), []);
});

test('calibration data whose shapes do not fit the model is refused', async () => {
  const dir = tempDir();
  const small = path.join(dir, 'small-images.npz');
  await writeNpz(small, new Map([['image', { dtype: 'float32', shape: [2, 3, 16, 16], data: new Float32Array(2 * 3 * 16 * 16) }]]));
  const out = path.join(dir, 'out', 'c.onnx');
  const r = runCli(['quantize', fixture('convnet.onnx'), '-o', out, '--to', 'int8', '--mode', 'static', '--calibration', small]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^tdeploy: error: calibration data .*small-images\.npz: 'image' has shape \[2, 3, 16, 16\] but the model expects \[batch, 3, 32, 32\]\n$/);
  assert.deepEqual(listFiles(path.join(dir, 'out')), []);
});

test('an output that would replace the model or its weights is refused, through links too, and the input stays whole', () => {
  const dir = tempDir();
  fs.cpSync(fixture('encoder_external'), path.join(dir, 'ext'), { recursive: true });
  fs.copyFileSync(fixture('encoder.onnx'), path.join(dir, 'model.onnx'));
  fs.symlinkSync('model.onnx', path.join(dir, 'link.onnx'));
  const before = fs.readFileSync(path.join(dir, 'ext', 'encoder.onnx.data'));
  const cases: [string, string, RegExp][] = [
    ['ext/encoder.onnx', 'ext/encoder.onnx.data', /the output would overwrite .*ext\/encoder\.onnx\.data, which holds the weights of the model being quantized$/],
    ['ext/encoder.onnx', 'ext/../ext/encoder.onnx', /the output would overwrite the model being quantized$/],
    ['link.onnx', 'model.onnx', /the output would overwrite the model being quantized$/],
  ];
  for (const [model, output, message] of cases) {
    const r = runCli(['quantize', path.join(dir, model), '-o', path.join(dir, output), '--to', 'fp16']);
    assert.equal(r.code, 2, `${model} -o ${output}: ${r.stderr}`);
    assert.match(r.stderr.split('\n')[0], message);
    assert.equal(r.stderr.split('\n')[1], 'hint: give -o another file name');
  }
  assert.deepEqual(listFiles(dir), ['ext/encoder.onnx', 'ext/encoder.onnx.data', 'model.onnx']);
  assert.equal(fs.readlinkSync(path.join(dir, 'link.onnx')), 'model.onnx');
  assert.deepEqual(fs.readFileSync(path.join(dir, 'ext', 'encoder.onnx.data')), before);
  assert.deepEqual(fs.readFileSync(path.join(dir, 'model.onnx')), fs.readFileSync(fixture('encoder.onnx')));
});
