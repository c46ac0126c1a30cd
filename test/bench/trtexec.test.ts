import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { bench } from '../../src/bench/bench.js';
import { summarize } from '../../src/bench/stats.js';
import { generateInputs } from '../../src/runtime/inputs.js';
import { toBytes } from '../../src/tensor/tensor.js';
import { fixture, listFiles, runCli, tempDir } from '../helpers.js';
import { fakeTrtexec, log } from '../trt/fake.js';

const encoder = fixture('encoder.onnx');
const encoderInputs = [
  { name: 'input_ids', dtype: 'int64' as const, shape: ['batch', 'seq'] },
  { name: 'attention_mask', dtype: 'int64' as const, shape: ['batch', 'seq'] },
];
const quick = { window: { iterations: 5, durationMs: 0 }, warmup: 1 };

/** A fake trtexec replaying `logNumber` that also keeps a copy of every --loadInputs file, in order, in `kept/`. */
function keepingFake(dir: string, logNumber: string) {
  const fake = fakeTrtexec(path.join(dir, 'fake'), { log: log(logNumber) });
  const kept = path.join(dir, 'kept');
  fs.mkdirSync(kept);
  const wrapper = path.join(dir, 'trtexec');
  fs.writeFileSync(wrapper, [
    '#!/bin/sh',
    'n=0',
    'for arg in "$@"; do case "$arg" in --loadInputs=*)',
    '  IFS=,; for spec in ${arg#--loadInputs=}; do n=$((n+1)); cp "${spec##*:}" "' + kept + '/$(ls ' + kept + ' | wc -l)-${spec%%:*}.bin"; done;;',
    'esac; done',
    `exec '${fake.path}' "$@"`,
    '',
  ].join('\n'), { mode: 0o755 });
  return { path: wrapper, runs: fake.runs, kept: () => listFiles(kept).map((f) => ({ name: f, bytes: fs.readFileSync(path.join(kept, f)) })) };
}

function plan(dir: string): string {
  const file = path.join(dir, 'model.plan');
  fs.writeFileSync(file, 'engine');
  return file;
}

/** The per-inference latencies the fake writes with --exportTimes: the host latency of each trace line of the log. */
function traceLatencies(logNumber: string): number[] {
  return fs.readFileSync(log(logNumber), 'utf8').split('\n').flatMap((l) => {
    const m = /Host latency: ([\d.e-]+) ms/.exec(l);
    return m ? [Number(m[1])] : [];
  });
}

test('an engine beside its ONNX model: trtexec --loadEngine at each case, the same inputs, its samples', async () => {
  const dir = tempDir();
  const engine = plan(dir);
  const fake = keepingFake(dir, '07');
  const report = await bench([encoder, engine], { ...quick, batch: [1, 2], trtexec: fake.path });
  assert.deepEqual(report.results.map((r) => [r.label, r.backend, r.provider, r.batch]), [
    ['encoder.onnx', 'onnxruntime', 'cpu', 1], ['encoder.onnx', 'onnxruntime', 'cpu', 2],
    ['model.plan', 'trtexec', 'tensorrt', 1], ['model.plan', 'trtexec', 'tensorrt', 2],
  ]);
  const expected = summarize(traceLatencies('07'));
  const engineResult = report.results[2];
  assert.equal(engineResult.iterations, traceLatencies('07').length);
  assert.ok(Math.abs(engineResult.latencyMs.p50 - expected.p50) < 1e-6 && Math.abs(engineResult.latencyMs.p99 - expected.p99) < 1e-6);
  assert.equal(engineResult.throughput.inferencesPerSec, Math.round((engineResult.iterations / 3.00005) * 1000) / 1000, "over trtexec's Total Host Walltime");
  assert.ok(Math.abs(engineResult.speedup - report.results[0].latencyMs.p50 / engineResult.latencyMs.p50) < 1e-3);

  const runs = fake.runs().filter((argv) => argv[0] !== '--help');
  assert.equal(runs.length, 2, 'one trtexec run per case');
  for (const [i, batch] of [1, 2].entries()) {
    assert.deepEqual(runs[i].slice(0, 4), [`--loadEngine=${engine}`, `--shapes=input_ids:${batch}x16,attention_mask:${batch}x16`, '--iterations=5', '--duration=0']);
    assert.match(runs[i].at(-1)!, /^--loadInputs=input_ids:\/.+\.bin\..+\.tmp,attention_mask:\/.+\.tmp$/);
  }
  // TensorRT 10 binds int64: the files hold the very tensors onnxruntime was fed.
  const kept = fake.kept();
  assert.deepEqual(kept.map((k) => k.name), ['0-input_ids.bin', '1-attention_mask.bin', '2-input_ids.bin', '3-attention_mask.bin']);
  const fed = generateInputs(encoderInputs, new Map([['input_ids', [2, 16]], ['attention_mask', [2, 16]]]), { seed: 0 });
  assert.deepEqual(kept[2].bytes, Buffer.from(toBytes(fed.get('input_ids')!)));
  assert.deepEqual(kept[3].bytes, Buffer.from(toBytes(fed.get('attention_mask')!)));
  const leftovers = fs.readdirSync(path.dirname(runs[0].at(-1)!.split(',')[0].split(':')[1])).filter((f) => f.includes('tdeploy-bench-case'));
  assert.deepEqual(leftovers, [], 'the input files are removed');
});

test('TensorRT 8 binds int64 inputs as int32; --warmup 0 turns trtexec\'s warm-up off; --io-from feeds an engine alone', async () => {
  const dir = tempDir();
  const fake = keepingFake(dir, '04');
  const report = await bench([plan(dir)], { ...quick, warmup: 0, ioFrom: encoder, trtexec: fake.path });
  assert.deepEqual(report.results.map((r) => [r.backend, r.batch, r.shapes, r.speedup]), [['trtexec', 1, { input_ids: [1, 16], attention_mask: [1, 16] }, 1]]);
  const [run] = fake.runs().filter((argv) => argv[0] !== '--help');
  assert.ok(run.includes('--warmUp=0'), run.join(' '));
  const fed = generateInputs(encoderInputs, new Map([['input_ids', [1, 16]], ['attention_mask', [1, 16]]]), { seed: 0 });
  const ids = fake.kept()[0].bytes;
  assert.equal(ids.length, 16 * 4);
  assert.deepEqual([...new Int32Array(ids.buffer, ids.byteOffset, 16)], [...(fed.get('input_ids')!.data as BigInt64Array)].map(Number));
});

test('engines: no ONNX model to take inputs from is exit 2; no trtexec or a failing one is exit 3, before anything is timed', () => {
  const dir = tempDir();
  const engine = plan(dir);
  const alone = runCli(['bench', engine, '--trtexec', fakeTrtexec(path.join(dir, 'ok'), { log: log('07') }).path]);
  assert.equal(alone.code, 2, alone.stderr);
  assert.match(alone.stderr, /^tdeploy: error: .*model\.plan does not say what its inputs are\nhint: a TensorRT engine is fed the inputs of an ONNX model/);
  const missing = runCli(['bench', encoder, engine, '--trtexec', path.join(dir, 'nowhere', 'trtexec'), '--iterations', '5']);
  assert.equal(missing.code, 3, missing.stderr);
  assert.match(missing.stderr, /^tdeploy: error: trtexec not found: .*nowhere\/trtexec \(from --trtexec\) is not an executable file/);
  assert.doesNotMatch(missing.stderr, /note: dims/, 'failed before the ONNX model was timed');
  const failing = runCli(['bench', encoder, engine, '--trtexec', fakeTrtexec(path.join(dir, 'bad'), { log: log('09') }).path, '--iterations', '5', '--warmup', '1']);
  assert.equal(failing.code, 3, failing.stderr);
  assert.match(failing.stderr, /^tdeploy: error: trtexec could not benchmark .*model\.plan: /m);
  assert.equal(failing.stdout, '');
});
