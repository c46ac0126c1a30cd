/**
 * torchvision architectures (random weights, exported by Debian's torch at the opsets fetch.sh
 * gives): inspect, FP16 through the CLI (its exit code is the verdict), INT8 dynamic and static,
 * check reproducing the static drift, and the Triton repository of the static model.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import { check } from '../../src/accuracy/check.js';
import { inspect } from '../../src/onnx/inspect.js';
import { quantize } from '../../src/quantize/quantize.js';
import type { QuantizeReport } from '../../src/quantize/result.js';
import { writeNpz } from '../../src/tensor/npz.js';
import { runCli, tempDir } from '../helpers.js';
import { corpus, cosines, failure, minCosine, normal, packageAndVerify, skipWithoutCorpus, within } from './corpus.js';

type Range = [number, number];

interface Case {
  name: string;
  opset: number;
  nodes: number;
  parameters: number;
  /** FP16: passes its gate, with the file's share of the original; or fails it (exit 1) */
  fp16: { size: Range } | { fails: RegExp };
  /** dynamic INT8: the size share and cosine, or the error (Conv stays float32 in dynamic mode) */
  dynamic: { size: Range; cosine: Range } | { error: RegExp };
  /** static INT8 for the CPU (QDQ where the kernel table says it pays): size share and cosine; placement changes move these */
  static: { size: Range; cosine: Range };
}

const CASES: Case[] = [
  {
    name: 'squeezenet1_1', opset: 13, nodes: 83, parameters: 1_233_288,
    fp16: { size: [0.49, 0.51] },
    dynamic: { error: /changed nothing .*\(Conv: no faster INT8 kernel on this CPU/ },
    static: { size: [0.25, 0.3], cosine: [0.999, 1] },
  },
  {
    name: 'resnet18', opset: 13, nodes: 65, parameters: 11_680_872,
    fp16: { size: [0.49, 0.51] },
    // dynamic: the classifier Gemm alone (Conv stays float32 in dynamic mode)
    dynamic: { size: [0.95, 0.98], cosine: [0.9999, 1] },
    static: { size: [0.24, 0.27], cosine: [0.999, 1] },
  },
  {
    name: 'shufflenet_v2_x0_5', opset: 15, nodes: 938, parameters: 1_360_032,
    fp16: { size: [0.49, 0.52] },
    // Random weights: the 1024x1000 classifier is half the file, and its bias dominates the logits.
    dynamic: { size: [0.42, 0.47], cosine: [0.9999, 1] },
    static: { size: [0.42, 0.47], cosine: [0.9999, 1] },
  },
  {
    // Random weights without trained BatchNorm statistics shrink its logits to ~1e-9, below
    // float16's smallest subnormal: FP16 flushes them to 0, and the gate says so.
    name: 'mobilenet_v3_small', opset: 17, nodes: 159, parameters: 2_529_712,
    fp16: { fails: /cosine 0 < 0\.999/ },
    dynamic: { size: [0.5, 0.55], cosine: [0.999, 1] },
    // static: its int8 islands lose on this CPU's kernels, so all but 2 Convs stay float32
    static: { size: [0.5, 0.56], cosine: [0.995, 1] },
  },
];

const sizeShare = (r: QuantizeReport) => r.sizeAfter / r.sizeBefore;

// Every model takes image [batch, 3, 224, 224]: 2 calibration images, 1 held out for the drift.
const dir = tempDir('tdeploy-corpus-');
const calibration = path.join(dir, 'calibration.npz');
const holdout = path.join(dir, 'holdout.npz');
before(async () => {
  await writeNpz(calibration, new Map([['image', normal([2, 3, 224, 224], 1)]]));
  await writeNpz(holdout, new Map([['image', normal([1, 3, 224, 224], 2)]]));
});

for (const c of CASES) {
  const model = corpus('torchvision', `${c.name}.onnx`);
  const skip = skipWithoutCorpus([model]);
  let staticReport: QuantizeReport | undefined;

  test(`${c.name}: inspect counts its nodes and parameters`, { skip }, async () => {
    const report = await inspect(model);
    assert.deepEqual([report.opsets['ai.onnx'], report.nodes, report.parameters, report.subgraphs], [c.opset, c.nodes, c.parameters, 0]);
    assert.deepEqual(report.inputs.map((i) => [i.name, i.shape]), [['image', ['batch', 3, 224, 224]]]);
  });

  test(`${c.name}: FP16 exits 0 within its gate, or 1 with the report`, { skip }, (t) => {
    const out = path.join(dir, `${c.name}.fp16.onnx`);
    const result = runCli(['quantize', model, '-o', out, '--to', 'fp16', '--inputs', holdout, '--json']);
    const report = JSON.parse(result.stdout) as QuantizeReport;
    t.diagnostic(`fp16: exit ${result.code}, size ${sizeShare(report)}, cosine ${minCosine(report.drift)}`);
    if ('fails' in c.fp16) {
      assert.equal(result.code, 1, result.stderr);
      assert.equal(report.drift.passed, false);
      assert.match(result.stderr, c.fp16.fails);
      return;
    }
    assert.equal(result.code, 0, result.stderr);
    assert.equal(report.drift.passed, true);
    assert.ok(minCosine(report.drift) >= 0.999, JSON.stringify(cosines(report.drift)));
    within(sizeShare(report), c.fp16.size, 'fp16 size share');
  });

  test(`${c.name}: INT8 dynamic`, { skip }, async (t) => {
    const run = quantize(model, { output: path.join(dir, `${c.name}.dynamic.onnx`), to: 'int8', mode: 'dynamic', inputs: holdout });
    if ('error' in c.dynamic) {
      const error = await failure(run);
      assert.deepEqual([error.exitCode, error.kind], [2, 'nothing-converted']);
      assert.match(error.message, c.dynamic.error);
      return;
    }
    const report = await run;
    t.diagnostic(`dynamic: size ${sizeShare(report)}, cosine ${minCosine(report.drift)}`);
    assert.equal(report.drift.passed, true);
    within(minCosine(report.drift), c.dynamic.cosine, 'dynamic cosine');
    within(sizeShare(report), c.dynamic.size, 'dynamic size share');
  });

  test(`${c.name}: INT8 static from a calibration file`, { skip }, async (t) => {
    staticReport = await quantize(model, { output: path.join(dir, `${c.name}.static.onnx`), to: 'int8', mode: 'static', calibration, inputs: holdout });
    t.diagnostic(`static: size ${sizeShare(staticReport)}, cosine ${minCosine(staticReport.drift)}, ${staticReport.nodesConverted} nodes`);
    assert.equal(staticReport.drift.passed, true);
    within(minCosine(staticReport.drift), c.static.cosine, 'static cosine');
    within(sizeShare(staticReport), c.static.size, 'static size share');
    assert.ok(staticReport.nodesConverted > 0);
  });

  test(`${c.name}: check reproduces the static drift, and the static model packages and verifies`, { skip }, async () => {
    assert.ok(staticReport, 'the static test ran');
    const report = await check(staticReport.output, { against: model, inputs: holdout });
    assert.equal(report.passed, true);
    assert.deepEqual(cosines(report), cosines(staticReport.drift));
    const packaged = await packageAndVerify(staticReport.output, c.name.replace(/\W/g, '_'));
    assert.deepEqual(packaged.inputs, [{ name: 'image', dataType: 'TYPE_FP32', dims: [3, 224, 224] }]);
    assert.deepEqual(packaged.outputs, [{ name: 'logits', dataType: 'TYPE_FP32', dims: [1000] }]);
  });
}
