import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { shared } from '../helpers.js';
import { type TrtexecReport, parseTrtexecLog } from '../../src/trt/log-parser.js';
import { formatVersion } from '../../src/trt/version.js';
import { log } from './fake.js';

/** The log without its `# source:` line, as trtexec printed it. */
const read = (number: string) => fs.readFileSync(log(number), 'utf8').split('\n').slice(1).join('\n');

const stats = (min: number, max: number, mean: number, median: number, ...percentiles: [string, number][]) =>
  ({ min, max, mean, median, ...Object.fromEntries(percentiles) });
const zero7 = stats(0, 0, 0, 0, ['p90', 0], ['p95', 0], ['p99', 0]);

interface Expected {
  version: string;
  build?: number;
  outcome: TrtexecReport['outcome'];
  failure?: string;
  precision: string[];
  buildSeconds: number | null;
  summary: TrtexecReport['summary'];
}

/** Every log in the shared set, with the numbers copied from its summary lines. */
const EXPECTED: Record<string, Expected> = {
  '01': {
    version: '8.0.3', outcome: 'passed', precision: ['fp32', 'fp16'], buildSeconds: 5.1349,
    summary: {
      throughputQps: 6182.1,
      latencyMs: stats(0.155029, 0.435913, 0.158729, 0.158081, ['p99', 0.166382]),
      gpuComputeMs: stats(0.149414, 0.427979, 0.15217, 0.151611, ['p99', 0.157715]),
      enqueueMs: stats(0.0292969, 0.174316, 0.0399243, 0.0373535, ['p99', 0.081665]),
      h2dMs: stats(0.00317383, 0.0803223, 0.00420331, 0.00378418, ['p99', 0.00933838]),
      d2hMs: stats(0.00170898, 0.012207, 0.00235952, 0.00222778, ['p99', 0.00341797]),
      totalHostWalltimeS: 3.00109, totalGpuComputeS: 2.82322,
    },
  },
  '02': { version: '8.2.3', outcome: 'failed', failure: 'unknown', precision: ['fp32', 'fp16'], buildSeconds: null, summary: null },
  '03': { version: '8.2.4', outcome: 'failed', failure: 'parse-error', precision: [], buildSeconds: null, summary: null },
  '04': {
    version: '8.4.1', outcome: 'passed', precision: [], buildSeconds: null,
    summary: {
      throughputQps: 6207.5,
      latencyMs: stats(0.15918, 0.523193, 0.166299, 0.161987, ['p99', 0.388947]),
      gpuComputeMs: stats(0.153564, 0.516113, 0.159919, 0.15564, ['p99', 0.382935]),
      enqueueMs: stats(0.0263672, 0.072998, 0.032451, 0.0305176, ['p99', 0.0473022]),
      h2dMs: stats(0.00317383, 0.026123, 0.00404536, 0.00378418, ['p99', 0.00585938]),
      d2hMs: stats(0.00189209, 0.0109863, 0.00234753, 0.00222778, ['p99', 0.00341797]),
      totalHostWalltimeS: 3.0004, totalGpuComputeS: 2.97849,
    },
  },
  '05': { version: '8.6.0', outcome: 'passed', precision: ['fp32', 'fp16'], buildSeconds: 9.55249, summary: null },
  '06': {
    version: '10.14.1', build: 48, outcome: 'passed', precision: ['fp32'], buildSeconds: 2.60577,
    summary: {
      throughputQps: 23188.6,
      latencyMs: stats(0.0333252, 0.26416, 0.0385501, 0.0383301, ['p90', 0.0395508], ['p95', 0.0400391], ['p99', 0.046875]),
      gpuComputeMs: stats(0.0266113, 0.255997, 0.0287623, 0.0285645, ['p90', 0.0297241], ['p95', 0.0302734], ['p99', 0.0368652]),
      enqueueMs: stats(0.0212402, 0.112549, 0.0228688, 0.0222168, ['p90', 0.0233154], ['p95', 0.0267334], ['p99', 0.034668]),
      h2dMs: stats(0.00292969, 0.140869, 0.00430425, 0.00450134, ['p90', 0.00512695], ['p95', 0.00512695], ['p99', 0.00537109]),
      d2hMs: stats(0.00317383, 0.0306396, 0.00548477, 0.00561523, ['p90', 0.00628662], ['p95', 0.00634766], ['p99', 0.0065918]),
      totalHostWalltimeS: 3.00014, totalGpuComputeS: 2.00097,
    },
  },
  '07': {
    version: '10.16.1', build: 11, outcome: 'passed', precision: [], buildSeconds: null,
    summary: {
      throughputQps: 24896.9,
      latencyMs: stats(0.0383301, 0.0651855, 0.0387646, 0.0388184, ['p90', 0.0388489], ['p95', 0.0389404], ['p99', 0.0390625]),
      gpuComputeMs: stats(0.0383301, 0.0651855, 0.0387646, 0.0388184, ['p90', 0.0388489], ['p95', 0.0389404], ['p99', 0.0390625]),
      enqueueMs: stats(0.00158691, 0.0428467, 0.00197413, 0.00195312, ['p90', 0.00219727], ['p95', 0.00219727], ['p99', 0.00244141]),
      h2dMs: zero7, d2hMs: zero7,
      totalHostWalltimeS: 3.00005, totalGpuComputeS: 2.89541,
    },
  },
  '08': { version: '10.16.1', build: 11, outcome: 'passed', precision: [], buildSeconds: null, summary: null },
  '09': { version: '10.16.0', build: 72, outcome: 'failed', failure: 'unsupported-op', precision: ['fp32'], buildSeconds: null, summary: null },
};

test('every log in the shared set has an expectation here', () => {
  const numbers = fs.readdirSync(shared('trtexec-logs')).filter((f) => f.endsWith('.log')).map((f) => f.slice(0, 2));
  assert.deepEqual(numbers.sort(), Object.keys(EXPECTED).sort());
});

for (const [number, want] of Object.entries(EXPECTED)) {
  test(`log ${number}: ${want.version} ${want.outcome}${want.failure ? ` (${want.failure})` : ''}, exact summary numbers`, () => {
    const report = parseTrtexecLog(read(number));
    assert.equal(report.version && formatVersion(report.version), want.version);
    assert.equal(report.version?.build, want.build);
    assert.equal(report.outcome, want.outcome);
    assert.equal(report.failure?.kind, want.failure);
    assert.deepEqual(report.precision, want.precision);
    assert.equal(report.buildSeconds, want.buildSeconds);
    assert.deepEqual(report.summary, want.summary);
    assert.equal(report.recognized, true);
  });
}

test('the source comment line changes nothing', () => {
  for (const number of Object.keys(EXPECTED)) {
    assert.deepEqual(parseTrtexecLog(fs.readFileSync(log(number), 'utf8')), parseTrtexecLog(read(number)));
  }
});

test('log 01: a line after PASSED, colon names in the profile, the build and inference shapes', () => {
  const report = parseTrtexecLog(read('01'));
  assert.deepEqual(report.shapes, { 'x:0': { min: [1, 1, 28, 28], opt: [4, 1, 28, 28], max: [16, 1, 28, 28] } });
  assert.deepEqual(report.inferenceShapes, { 'x:0': [4, 1, 28, 28] });
  assert.equal(report.engine, 'model-FP16.plan');
  assert.equal(report.device, 'NVIDIA GeForce GTX 1070');
  assert.match(report.command!, /^trtexec --onnx=model.onnx --minShapes=x:0:1x1x28x28 .* --fp16$/);
});

test('log 02: FAILED with no error line says where it stopped', () => {
  const { failure } = parseTrtexecLog(read('02'));
  assert.equal(failure?.message, 'trtexec reported FAILED without an error line; the last step it logged: Finish parsing network model');
});

test('log 03: the parse error keeps the decisive lines, drops the node dump and the generic chain', () => {
  const { failure, errors } = parseTrtexecLog(read('03'));
  assert.deepEqual(failure?.message.split('\n'), [
    '[shuffleNode.cpp::symbolicExecute::387] Error Code 4: Internal Error (Reshape_3: IShuffleLayer applied to shape tensor must have 0 or 1 reshape dimensions: dimensions were [-1,2])',
    'While parsing node number 13 [Pad -> "output"]:',
    'ERROR: parsers/onnx/ModelImporter.cpp:179 In function parseGraph:',
    '[6] Invalid Node - Pad_13',
  ]);
  assert.equal(errors.length, 10);
  assert.match(failure!.hint, /ONNX parser rejected the model/);
});

test('log 05: build only, with every [W] line as a warning', () => {
  const report = parseTrtexecLog(read('05'));
  assert.equal(report.inferenceSkipped, true);
  assert.equal(report.loadSeconds, 0.00143286);
  assert.deepEqual(report.shapes, { 'tensor-0': { min: [1, 1, 28, 28], opt: [4, 1, 28, 28], max: [16, 1, 28, 28] } });
  assert.equal(report.warnings.length, 6);
  assert.equal(report.warnings[5], '[TRT] - 2 weights are affected by this issue: Detected subnormal FP16 values.');
});

test('log 06: 10.x build markers and the performance hints as warnings', () => {
  const report = parseTrtexecLog(read('06'));
  assert.equal(report.engineSizeMiB, 12.5724);
  assert.equal(report.loadSeconds, 0.00336446);
  assert.deepEqual(report.shapes, { x: { min: [1, 1, 28, 28], opt: [1, 1, 28, 28], max: [1, 1, 28, 28] } });
  assert.deepEqual(report.warnings.slice(2), [
    '* GPU compute time is unstable, with coefficient of variance = 12.8763%.',
    'If not already in use, locking GPU clock frequency or adding --useSpinWait may improve the stability.',
  ]);
});

test('loaded engines: no build profile or precision claimed, the engine path from the command line', () => {
  const r04 = parseTrtexecLog(read('04'));
  assert.deepEqual([r04.shapes, r04.precision, r04.engine, r04.loadSeconds], [{}, [], './model-FP32.plan', 0.429032]);
  const r07 = parseTrtexecLog(read('07'));
  assert.deepEqual([r07.engine, r07.inferenceShapes], ['model-trained.trt', { x: [4, 1, 28, 28] }]);
});

test('log 08: no summary with the profiler attached, the --dumpProfile table instead', () => {
  const { profile, summary } = parseTrtexecLog(read('08'));
  assert.equal(summary, null);
  assert.equal(profile?.iterations, 18362);
  assert.equal(profile?.layers.length, 15);
  assert.deepEqual(profile?.layers[0], { timeMs: 31.4, averageMs: 0.0017, medianMs: 0.0018, percentage: 2.1, name: '__mye59_0_myl0_0' });
  assert.deepEqual(profile?.layers[3], {
    timeMs: 101.96, averageMs: 0.0056, medianMs: 0.0044, percentage: 6.7,
    name: 'Reformatting CopyNode for Input Tensor 0 to {ForeignNode[node_conv2d_1...node_relu_1]}',
  });
  assert.deepEqual(profile?.total, { timeMs: 1529.13, averageMs: 0.0833, medianMs: 0.0804, percentage: 100, name: 'Total' });
});

test('log 09: plugin not found is an unsupported op, named in the hint', () => {
  const { failure, warnings } = parseTrtexecLog(read('09'));
  assert.deepEqual(failure?.message.split('\n'), [
    'While parsing node number 0 [AddScalar -> "CustomOpModel-V-0-AddScalar-0"]:',
    'ERROR: onnxOpCheckers.cpp:923 In function checkFallbackPluginImporter:',
    '[6] creator && "Plugin not found, are the plugin name, version, and namespace correct?"',
  ]);
  assert.match(failure!.hint, /for the 'AddScalar' op/);
  assert.deepEqual(warnings, ['--plugins flag has been deprecated, use --staticPlugins flag instead.']);
});

test('outcome: fatal [E] lines without FAILED mean failed; a cut-off log without them is incomplete', () => {
  const lines = read('09').split('\n');
  const cutBeforeVerdict = lines.filter((l) => !l.startsWith('&&&& FAILED')).join('\n');
  assert.equal(parseTrtexecLog(cutBeforeVerdict).outcome, 'failed');
  assert.equal(parseTrtexecLog(cutBeforeVerdict).failure?.kind, 'unsupported-op');
  const build = read('06').split('\n');
  const cutMidBuild = build.slice(0, build.findIndex((l) => l.includes('Engine built in'))).join('\n');
  const report = parseTrtexecLog(cutMidBuild);
  assert.deepEqual([report.outcome, report.failure, report.summary, report.lastStep], ['incomplete', null, null, 'Created engine with size: 12.5724 MiB']);
});

test('an [F] line fails the run; PASSED wins over non-fatal error lines', () => {
  const fatal = parseTrtexecLog('&&&& RUNNING TensorRT.trtexec [TensorRT v100001] # trtexec\n[01/01/2024-00:00:00] [F] [TRT] Assertion failed: x');
  assert.deepEqual([fatal.outcome, fatal.version && formatVersion(fatal.version)], ['failed', '10.0.1']);
  const passed = parseTrtexecLog('[01/01/2024-00:00:00] [E] [TRT] 3: [builderConfig.cpp::getMaxAuxStreams] Error Code 3: API Usage Error\n&&&& PASSED TensorRT.trtexec [TensorRT v8601] # trtexec');
  assert.deepEqual([passed.outcome, passed.errors.length], ['passed', 1]);
});

test('timestamps may be missing or doubled (7.x/8.0 split streams), CRLF endings are fine', () => {
  const text = [
    '&&&& RUNNING TensorRT.trtexec [TensorRT v8003] # trtexec --onnx=m.onnx',
    '[W] [TRT] Detected invalid timing cache',
    '[03/19/2022-12:28:30] [03/19/2022-12:28:30] [I] === Performance summary ===',
    '[03/19/2022-12:28:38] [I] Throughput: 1.5e+03 qps\r',
    '&&&& PASSED TensorRT.trtexec [TensorRT v8003] # trtexec --onnx=m.onnx',
  ].join('\n');
  const report = parseTrtexecLog(text);
  assert.deepEqual(report.warnings, ['[TRT] Detected invalid timing cache']);
  assert.equal(report.summary?.throughputQps, 1500);
});

test('the 7.x report: Host Latency / Enqueue Time / GPU Compute sections, percentile "at 99%", no version tag', () => {
  // the layout of a 7.2 report (reference section 3); 7.2 prints no mean for the enqueue time
  const ts = '[10/20/2020-19:56:29] [I] ';
  const text = [
    'Host Latency', 'min: 4.3 ms (end to end 4.4 ms)', 'max: 7.1 ms (end to end 7.2 ms)', 'mean: 4.5 ms (end to end 4.6 ms)',
    'median: 4.45 ms (end to end 4.5 ms)', 'percentile: 5.4 ms at 99% (end to end 6.1 ms at 99%)', 'throughput: 220.5 qps', 'walltime: 3.01 s',
    'Enqueue Time', 'min: 2.3 ms', 'max: 4.8 ms', 'median: 2.6 ms',
    'GPU Compute', 'min: 4.2 ms', 'max: 7 ms', 'mean: 4.4 ms', 'median: 4.39 ms', 'percentile: 5.3 ms at 99%', 'total compute time: 2.93 s',
  ].map((l) => ts + l).concat('&&&& PASSED TensorRT.trtexec # /usr/src/tensorrt/bin/trtexec --onnx=m.onnx').join('\n');
  const report = parseTrtexecLog(text);
  assert.deepEqual([report.outcome, report.version], ['passed', null]);
  assert.deepEqual(report.summary, {
    throughputQps: 220.5,
    latencyMs: { min: 4.3, max: 7.1, mean: 4.5, median: 4.45, p99: 5.4 },
    gpuComputeMs: { min: 4.2, max: 7, mean: 4.4, median: 4.39, p99: 5.3 },
    enqueueMs: { min: 2.3, max: 4.8, median: 2.6 },
    h2dMs: null, d2hMs: null,
    totalHostWalltimeS: 3.01, totalGpuComputeS: 2.93,
  });
});

test('8.5 percentile lists and the 8.4/8.5 name-first profile table', () => {
  const ts = '[01/01/2023-00:00:00] [I] ';
  const text = [
    '=== Performance summary ===',
    'Latency: min = 1 ms, max = 2 ms, mean = 1.5 ms, median = 1.4 ms, percentile(50%) = 1.4 ms, percentile(99.9%) = 1.99 ms',
    '',
    '=== Profile (641 iterations ) ===',
    'Layer   Time (ms)   Avg. Time (ms)   Median Time (ms)   Time %',
    'PWN(/Mul_2) + conv 1          1.97908        0.00309        0.00307        7.4',
    'Total          26.7        0.0417        0.0412        100.0',
    '',
  ].map((l) => ts + l).join('\n');
  const report = parseTrtexecLog(text);
  assert.deepEqual(report.summary?.latencyMs, { min: 1, max: 2, mean: 1.5, median: 1.4, p50: 1.4, 'p99.9': 1.99 });
  assert.deepEqual(report.profile, {
    iterations: 641,
    layers: [{ name: 'PWN(/Mul_2) + conv 1', timeMs: 1.97908, averageMs: 0.00309, medianMs: 0.00307, percentage: 7.4 }],
    total: { name: 'Total', timeMs: 26.7, averageMs: 0.0417, medianMs: 0.0412, percentage: 100 },
  });
});

test('text that is not a trtexec log is not recognized', () => {
  assert.equal(parseTrtexecLog('hello\nworld').recognized, false);
  assert.equal(parseTrtexecLog('').outcome, 'incomplete');
});
