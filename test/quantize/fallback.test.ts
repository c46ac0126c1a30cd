import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import { loadModel } from '../../src/onnx/model.js';
import { quantize } from '../../src/quantize/quantize.js';
import type { QuantizeReport } from '../../src/quantize/result.js';
import { listFiles, runCli, tempDir } from '../helpers.js';
import { type PlantedModel, plantedModel } from '../accuracy/planted.js';

let dir: string;
let outlier: PlantedModel;
let overflow: PlantedModel;

before(async () => {
  dir = tempDir();
  outlier = await plantedModel(dir, 'outlier');
  overflow = await plantedModel(dir, 'overflow');
});

const worst = (r: QuantizeReport) => Math.min(...r.drift.outputs.map((o) => o.cosine!));

async function opOf(file: string, node: string): Promise<string> {
  return (await loadModel(file)).proto.graph!.node.find((n) => n.name === node)!.opType;
}

for (const mode of ['dynamic', 'static'] as const) {
  test(`int8 ${mode}: --fallback keeps the MatMul that reads the outlier, and only it, and meets the gate`, async () => {
    const data = { inputs: outlier.inputs, ...(mode === 'static' ? { calibration: outlier.calibration } : {}) };
    const plain = await quantize(outlier.model, { output: path.join(dir, `plain.${mode}.onnx`), to: 'int8', mode, ...data, gate: false });
    assert.ok(worst(plain) < 0.5, `plain INT8 is ruined by the outlier: ${worst(plain)}`);
    const output = path.join(dir, `fallback.${mode}.onnx`);
    const report = await quantize(outlier.model, { output, to: 'int8', mode, ...data, maxDriftCosine: 0.995, fallback: true });
    assert.deepEqual(report.fallback!.kept.map((k) => [k.node, k.op]), [['sensitive', 'MatMul']]);
    assert.equal(report.fallback!.met, true);
    assert.equal(report.fallback!.max, 1, '10% of 13 MatMuls, rounded down');
    assert.equal(report.drift.passed, true);
    assert.ok(worst(report) >= 0.995, `${worst(report)}`);
    assert.equal(report.fallback!.kept[0].cosine, worst(report));
    assert.equal(report.nodesConverted, 12);
    assert.equal(await opOf(output, 'sensitive'), 'MatMul');
    assert.equal(await opOf(output, 'after0'), mode === 'dynamic' ? 'DynamicQuantizeMatMul' : 'MatMul');
    assert.match(report.notes.join('\n'), /`fallback`: met the gate keeping 1 node\(s\) in float32 after \d+ attempts .*`excludeNodes: sensitive`/);
    // No attempt is left beside the output.
    assert.deepEqual(listFiles(dir).filter((f) => /attempt|scratch|ranked|\.tmp$/.test(f)), []);
  });
}

test('fp16: an overflowing activation needs its producer and its reader kept float32; the search finds both', async () => {
  const plain = await quantize(overflow.model, { output: path.join(dir, 'plain.fp16.onnx'), to: 'fp16', inputs: overflow.inputs, gate: false });
  assert.equal(plain.drift.passed, null);
  assert.deepEqual(plain.drift.outputs.map((o) => [o.name, o.maxAbsError, o.mismatches]), [['y', Infinity, 128], ['norm.out', Infinity, 512]], 'NaN everywhere');
  const report = await quantize(overflow.model, { output: path.join(dir, 'fallback.fp16.onnx'), to: 'fp16', inputs: overflow.inputs, fallback: true });
  assert.deepEqual(report.fallback!.kept.map((k) => k.node).sort(), ['norm', 'sensitive']);
  assert.equal(report.fallback!.met, true);
  assert.equal(report.drift.passed, true);
  assert.ok(worst(report) > 0.9999);
  assert.deepEqual(report.blockedNodes.filter((b) => ['sensitive', 'norm'].includes(b.node)).length, 2);
  // On this CPU keeping the LayerNormalization alone passes the drift (onnxruntime computes the Add in
  // float32 and drops the Casts around it), but the Add overflows in float16 on GPUs: the search keeps both.
  const normOnly = await quantize(overflow.model, { output: path.join(dir, 'norm-only.fp16.onnx'), to: 'fp16', inputs: overflow.inputs, blockNodes: ['norm'] });
  assert.equal(normOnly.drift.passed, true);
});

test('a bound too small: the best set found is written, met is false, and the CLI exits 1 saying so', async () => {
  const report = await quantize(overflow.model, { output: path.join(dir, 'bounded.fp16.onnx'), to: 'fp16', inputs: overflow.inputs, fallback: true, fallbackMax: 1 });
  // Neither node alone repairs it, so the best set within the bound is the empty one.
  assert.equal(report.fallback!.met, false);
  assert.deepEqual(report.fallback!.kept, []);
  assert.equal(report.drift.passed, false);
  assert.match(report.notes.join('\n'), /missed the gate with the best set found \(the bound is 1 nodes/);
  const cli = runCli(['quantize', overflow.model, '-o', path.join(dir, 'bounded.cli.onnx'), '--to', 'fp16', '--inputs', overflow.inputs, '--fallback', '--fallback-max', '1', '--json']);
  assert.equal(cli.code, 1);
  const doc = JSON.parse(cli.stdout);
  assert.deepEqual(Object.keys(doc.fallback).sort(), ['attempts', 'kept', 'max', 'met', 'seconds']);
  assert.equal(doc.fallback.met, false);
  assert.match(cli.stderr, /with the best set --fallback found \(0 node\(s\) kept float32, --fallback-max 1\)/);
});

test('the kept list is reusable: as excludeNodes, and as fallback: [nodes] (what a run config variant takes)', async () => {
  const searched = await quantize(outlier.model, { output: path.join(dir, 'searched.onnx'), to: 'int8', inputs: outlier.inputs, maxDriftCosine: 0.999, fallback: true });
  const kept = searched.fallback!.kept.map((k) => k.node);
  const excluded = await quantize(outlier.model, { output: path.join(dir, 'excluded.onnx'), to: 'int8', inputs: outlier.inputs, maxDriftCosine: 0.999, excludeNodes: kept });
  const listed = await quantize(outlier.model, { output: path.join(dir, 'listed.onnx'), to: 'int8', inputs: outlier.inputs, maxDriftCosine: 0.999, fallback: kept });
  assert.equal(worst(excluded), worst(searched));
  assert.equal(worst(listed), worst(searched));
  assert.equal(listed.fallback, undefined);
});

test('a model that meets the gate keeps nothing; --fallback-max without --fallback and --fallback with --no-gate are usage errors', async () => {
  const report = await quantize(outlier.model, { output: path.join(dir, 'loose.onnx'), to: 'int8', inputs: outlier.inputs, maxDriftCosine: -1, fallback: true });
  assert.deepEqual(report.fallback!.kept, []);
  assert.equal(report.fallback!.attempts, 1);
  const bound = runCli(['quantize', outlier.model, '-o', path.join(dir, 'x.onnx'), '--to', 'int8', '--fallback-max', '2']);
  assert.equal(bound.code, 2);
  assert.match(bound.stderr, /--fallback-max bounds the search that --fallback makes/);
  const ungated = runCli(['quantize', outlier.model, '-o', path.join(dir, 'x.onnx'), '--to', 'int8', '--fallback', '--no-gate']);
  assert.equal(ungated.code, 2);
  assert.match(ungated.stderr, /--fallback searches for what meets the drift gate, which --no-gate turns off/);
});
