import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { layerwise } from '../../src/accuracy/check.js';
import { compareLayers } from '../../src/accuracy/layerwise.js';
import { errorJumps, matchLayers } from '../../src/accuracy/layerwise-graph.js';
import { GraphProtoSchema, NodeProtoSchema } from '../../src/onnx/gen/onnx_pb.js';
import { loadModel } from '../../src/onnx/model.js';
import { saveModel } from '../../src/onnx/save.js';
import { quantize } from '../../src/quantize/quantize.js';
import { readNpz } from '../../src/tensor/npz.js';
import { listFiles, runCli, tempDir } from '../helpers.js';
import { type PlantedModel, plantedModel } from './planted.js';

let dir: string;
let outlier: PlantedModel;
let overflow: PlantedModel;

before(async () => {
  dir = tempDir();
  outlier = await plantedModel(dir, 'outlier');
  overflow = await plantedModel(dir, 'overflow');
});

async function quantized(p: PlantedModel, to: 'int8' | 'fp16', mode?: 'dynamic' | 'static'): Promise<string> {
  const output = path.join(dir, `${path.basename(p.model, '.onnx')}.${to}${mode ? `.${mode}` : ''}.onnx`);
  const calibration = mode === 'static' ? { calibration: p.calibration } : {};
  await quantize(p.model, { output, to, ...(mode ? { mode } : {}), ...calibration, inputs: p.inputs, gate: false });
  return output;
}

const node = (name: string, opType: string, input: string[], output: string[]) => create(NodeProtoSchema, { name, opType, input, output });

for (const mode of ['dynamic', 'static'] as const) {
  test(`int8 ${mode}: the outlier read by one MatMul is the first divergent layer and the largest error jump`, async () => {
    const candidate = await quantized(outlier, 'int8', mode);
    const report = await layerwise(candidate, { against: outlier.model, inputs: outlier.inputs });
    assert.equal(report.passed, false, 'the planted outlier ruins the output');
    assert.deepEqual(report.firstDivergent && { tensor: report.firstDivergent.tensor, node: report.firstDivergent.node, op: report.firstDivergent.op }, { tensor: outlier.tensor, node: 'sensitive', op: 'MatMul' });
    const byJump = [...report.layers!].sort((a, b) => b.jump - a.jump);
    assert.equal(byJump[0].tensor, outlier.tensor);
    assert.ok(byJump[0].cosine! < 0.9, `cosine ${byJump[0].cosine}`);
    // Everything before it is close: the outlier activation itself and the layers that made it.
    const at = report.layers!.findIndex((l) => l.tensor === outlier.tensor);
    assert.ok(at > 5);
    for (const l of report.layers!.slice(0, at)) assert.ok(l.cosine! > 0.999 && l.passed, `${l.tensor}: ${l.cosine}`);
    assert.equal(report.layers!.find((l) => l.tensor === 'source.biased')!.jump < 1e-3, true);
    assert.equal(report.layerwise!.minCosine, 0.999);
  });
}

test('fp16: an activation beyond 65504 is the first divergent layer, error 1, though the constants all fit', async () => {
  const candidate = await quantized(overflow, 'fp16');
  const report = await layerwise(candidate, { against: overflow.model, inputs: overflow.inputs });
  const first = report.layers!.find((l) => !l.passed)!;
  assert.equal(first.tensor, overflow.tensor);
  assert.equal(report.firstDivergent!.node, 'sensitive');
  assert.equal(first.error, 1);
  assert.equal(first.nonFinite, 32, 'column 0 of 32 rows');
  assert.ok(first.jump > 0.999999, `jump ${first.jump}`);
  const norm = report.layers!.find((l) => l.tensor === 'norm.out')!;
  assert.deepEqual([norm.error, norm.jump, norm.passed, norm.maxAbsError], [1, 0, false, Infinity], 'NaN after it is carried, not made');
  assert.ok(report.layers!.find((l) => l.tensor === 'source.biased')!.cosine! > 0.99999, 'the 40000 before it is exact enough in float16');
});

test('the layer order is the original\'s topological order, and a tensor produced from constants alone is not a layer', async () => {
  const candidate = await quantized(outlier, 'int8', 'static');
  const report = await layerwise(candidate, { against: outlier.model, inputs: outlier.inputs });
  const order = report.layers!.map((l) => l.tensor);
  assert.deepEqual(order.slice(0, 4), ['before0.mm', 'before0.out', 'before1.mm', 'before1.out']);
  assert.equal(order.at(-1), 'y');
  assert.equal(order.length, (await loadModel(outlier.model)).proto.graph!.node.length);
});

test('batches of bounded size give the same comparisons as one batch', async () => {
  const candidate = await quantized(outlier, 'int8', 'dynamic');
  const x = (await readNpz(outlier.inputs)).get('x')!;
  const sets = [new Map([['x', x]])];
  const whole = await compareLayers(outlier.model, candidate, sets);
  const tiny = await compareLayers(outlier.model, candidate, sets, { batchBytes: 1 });
  assert.equal(whole.batches, 1);
  assert.equal(tiny.batches, whole.layers.length);
  assert.deepEqual(tiny.layers, whole.layers);
  // 32 rows x 16 float32 = 2 KiB a layer: 5 KiB fetches two at a time, and y (32 x 4, 512 B) joins the last pair
  assert.equal(whole.layers.length, 24);
  assert.equal((await compareLayers(outlier.model, candidate, sets, { batchBytes: 5 * 1024 })).batches, 12);
});

test('an external-data model: the exposing copy is written beside it and removed; results equal the single-file model\'s', async () => {
  const ext = tempDir();
  const model = await loadModel(outlier.model);
  await saveModel(model, path.join(ext, 'model.onnx'), { externalData: 'always', sizeThreshold: 0 });
  const candidate = await quantized(outlier, 'int8', 'dynamic');
  const before = listFiles(ext);
  const external = await layerwise(candidate, { against: path.join(ext, 'model.onnx'), inputs: outlier.inputs });
  const single = await layerwise(candidate, { against: outlier.model, inputs: outlier.inputs });
  assert.deepEqual(listFiles(ext), before);
  assert.deepEqual(external.layers, single.layers);
  assert.ok(fs.statSync(path.join(ext, 'model.onnx.data')).size > 16 * 16 * 4 * 10);
});

test('generated inputs: symbolic dims from shapes, and the note says how they were made', async () => {
  const candidate = await quantized(outlier, 'int8', 'dynamic');
  const generated = await layerwise(candidate, { against: outlier.model, shapes: { shapes: {}, dims: { batch: [8] } } });
  assert.equal(generated.firstDivergent!.tensor, outlier.tensor);
  assert.equal(generated.outputs[0].shape[0], 8);
  assert.match(generated.notes.join('\n'), /inputs generated with seed 0/);
});

test('a tensor the candidate renamed is matched through its node; a bias folded into the node\'s output is not', () => {
  const graph = (nodes: ReturnType<typeof node>[]) => create(GraphProtoSchema, { node: nodes, input: [{ name: 'x' }], initializer: [{ name: 'w' }, { name: 'b' }] });
  const original = graph([node('mm', 'MatMul', ['x', 'w'], ['p']), node('add', 'Add', ['p', 'b'], ['q']), node('act', 'Relu', ['q'], ['r'])]);
  const renamed = graph([node('mm', 'MatMul', ['x', 'w'], ['p']), node('add', 'Add', ['p', 'b'], ['q2']), node('act', 'Relu', ['q2'], ['r'])]);
  const folded = graph([node('mm', 'DynamicQuantizeMatMul', ['x', 'w', 'b'], ['q']), node('act', 'Relu', ['q'], ['r'])]);
  const all = () => true;
  assert.deepEqual(matchLayers(original, renamed, all).matched.map((m) => [m.tensor, m.candidateTensor, m.matchedBy]), [['p', 'p', 'name'], ['q', 'q2', 'node'], ['r', 'r', 'name']]);
  const f = matchLayers(original, folded, all);
  assert.deepEqual(f.matched.map((m) => m.tensor), ['q', 'r']);
  assert.deepEqual(f.unmatched, ['p']);
  // r's error jump is over q's, the nearest compared layer; q's over the graph input through the uncompared p
  const jumps = errorJumps(original, new Map([['q', 0.25], ['r', 0.5]]));
  assert.deepEqual([...jumps], [['q', 0.25], ['r', 0.25]]);
});

test('check --layerwise: the table names the first divergent layer and the largest jumps; JSON has layers and firstDivergent', async () => {
  const candidate = await quantized(outlier, 'int8', 'dynamic');
  const text = runCli(['check', candidate, '--against', outlier.model, '--inputs', outlier.inputs, '--layerwise']);
  assert.equal(text.code, 1, text.stderr);
  assert.match(text.stdout, /first divergent layer: #\d+ sensitive\.mm \(MatMul node sensitive\), cosine 0\.\d+/);
  assert.match(text.stdout, /│ +12 │ sensitive\.mm +│ MatMul +│ sensitive +│ +0\.\d+ │/);
  const json = runCli(['check', candidate, '--against', outlier.model, '--inputs', outlier.inputs, '--layerwise', '--min-cosine', '0.5', '--json']);
  const doc = JSON.parse(json.stdout);
  assert.equal(doc.layerwise.minCosine, 0.5);
  assert.deepEqual(Object.keys(doc.layers[0]).sort(), ['cosine', 'error', 'jump', 'maxAbsError', 'meanAbsError', 'node', 'nonFinite', 'op', 'passed', 'tensor']);
  assert.equal(doc.layers.length, 24, "25 nodes, less the MatMul product its bias Add was folded into");
  const usage = runCli(['check', candidate, '--inputs', outlier.inputs, '--layerwise']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /tdeploy: error: --layerwise compares with a baseline model: give --against/);
});
