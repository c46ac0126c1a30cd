import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { shared } from '../helpers.js';
import { layerInfoBindings, parseExportProfile, parseExportTimes, parseLayerInfo } from '../../src/trt/json-parsers.js';

const json = (name: string) => fs.readFileSync(shared('trtexec-logs', 'json', name), 'utf8');

test('--exportProfile (real file): the iteration count and every layer', () => {
  const profile = parseExportProfile(json('exportProfile.detr.json'));
  assert.equal(profile.iterations, 641);
  assert.equal(profile.layers.length, 840);
  assert.deepEqual(profile.layers[0], { name: '/model/model/Transpose_1_output_0', timeMs: 0, averageMs: 0, medianMs: 0, percentage: 0 });
  assert.deepEqual(profile.layers.at(-1), { name: 'PWN(/Mul_2)', timeMs: 1.97908, averageMs: 0.00308749, medianMs: 0.003072, percentage: 0.0741898 });
  assert.equal(Math.round(profile.layers.reduce((sum, l) => sum + l.percentage, 0) * 1000) / 1000, 100);
  assert.equal(profile.total, null);
});

test('--exportLayerInfo detailed (real 10.16 file): layers, fused ONNX nodes and the bindings with dims and types', () => {
  const info = parseLayerInfo(json('exportLayerInfo.detailed.trt10.16.json'));
  assert.equal(info.verbosity, 'detailed');
  assert.equal(info.layers.length, 9);
  assert.deepEqual(info.layers[0].onnxNodes, ['node_conv2d', 'node_relu']);
  assert.equal(info.layers[0].type, 'CaskConvolution');
  assert.deepEqual(info.layers[0].inputs, [{ name: 'x', dims: [1, 1, 28, 28], format: 'Float' }]);
  assert.deepEqual(layerInfoBindings(info), [
    { name: 'x', io: 'input', dtype: 'float32', dims: [1, 1, 28, 28] },
    { name: 'y', io: 'output', dtype: 'float32', dims: [1, 10] },
    { name: 'z', io: 'output', dtype: 'int64', dims: [1] },
  ]);
});

test('--exportLayerInfo with layer names only (real file): names, and nothing invented about the bindings', () => {
  const info = parseLayerInfo(json('exportLayerInfo.layer-names-only.detr.json'));
  assert.equal(info.verbosity, 'layer_names_only');
  assert.equal(info.layers.length, 840);
  assert.equal(info.layers[9].name, 'Reformatting CopyNode for Input Tensor 0 to PWN(PWN(/Sub), PWN(/Div))');
  assert.deepEqual(layerInfoBindings(info).map((b) => [b.name, b.io, b.dtype, b.dims]), [
    ['image', null, null, null], ['boxes', null, null, null], ['logits', null, null, null], ['classes', null, null, null],
  ]);
});

test('--exportTimes in the 8.x+ layout (reference section 4) and the 7.0 and 7.2 ones', () => {
  const current = [
    '[',
    '  { "startEnqMs" : 203.2, "endEnqMs" : 203.3, "startH2dMs" : 203.2, "endH2dMs" : 203.3, "startComputeMs" : 203.3, "endComputeMs" : 203.45, "startD2hMs" : 203.45, "endD2hMs" : 203.5, "h2dMs" : 0.01, "computeMs" : 0.15, "d2hMs" : 0.01, "latencyMs" : 0.17 }',
    ', { "startEnqMs" : 203.5, "endEnqMs" : 203.52, "startH2dMs" : 203.5, "endH2dMs" : 203.51, "startComputeMs" : 203.51, "endComputeMs" : 203.67, "startD2hMs" : 203.67, "endD2hMs" : 203.69, "h2dMs" : 0.01, "computeMs" : 0.16, "d2hMs" : 0.02, "latencyMs" : 0.19 }',
    ']',
  ].join('\n');
  const samples = parseExportTimes(current);
  assert.equal(samples.length, 2);
  assert.deepEqual(samples.map((s) => [s.h2dMs, s.computeMs, s.d2hMs, s.latencyMs]), [[0.01, 0.15, 0.01, 0.17], [0.01, 0.16, 0.02, 0.19]]);
  assert.ok(Math.abs(samples[1].enqueueMs! - 0.02) < 1e-9);
  const old = parseExportTimes('[{ "startInMs" : 1, "endInMs" : 1.1, "startComputeMs" : 1.1, "endComputeMs" : 2, "startOutMs" : 2, "endOutMs" : 2.2, "inMs" : 0.1, "computeMs" : 0.9, "outMs" : 0.2, "latencyMs" : 1.2, "endToEndMs" : 1.5 }]');
  assert.deepEqual(old, [{ h2dMs: 0.1, computeMs: 0.9, d2hMs: 0.2, latencyMs: 1.2, endToEndMs: 1.5 }]);
  // 7.2 swapped the names: its "Enq" pair holds the H2D times (0.25 ms here), its "In" pair the enqueue times (0.5 ms)
  const v72 = parseExportTimes('[{ "startEnqMs" : 1.5, "endEnqMs" : 1.75, "startInMs" : 1, "endInMs" : 1.5, "startComputeMs" : 1.75, "endComputeMs" : 2.75, "startOutMs" : 2.75, "endOutMs" : 3, "inMs" : 0.25, "computeMs" : 1, "outMs" : 0.25, "latencyMs" : 1.5, "endToEndMs" : 2 }]');
  assert.deepEqual(v72, [{ enqueueMs: 0.5, h2dMs: 0.25, computeMs: 1, d2hMs: 0.25, latencyMs: 1.5, endToEndMs: 2 }]);
});

test('files that are not these exports are input errors', () => {
  assert.throws(() => parseExportTimes('{"a": 1}'), /not a trtexec --exportTimes file: expected a JSON array/);
  assert.throws(() => parseExportTimes('[{"computeMs": 1}]'), /entry 0 has no computeMs\/latencyMs/);
  assert.throws(() => parseExportProfile('[{"name": "x"}]'), /not a trtexec --exportProfile file/);
  assert.throws(() => parseLayerInfo('not json'), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /not a trtexec --exportLayerInfo file/.test(e.message));
});
