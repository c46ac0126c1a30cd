import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fixture, listFiles, tempDir } from '../helpers.js';
import { runEngineBenchmark } from '../../src/trt/benchmark.js';
import { buildEngine, engineFromLog } from '../../src/trt/engine.js';
import { findTrtexec } from '../../src/trt/locate.js';
import type { ProgressEvent } from '../../src/progress.js';
import { fakeTrtexec, log, processGone } from './fake.js';

const dims = { shapes: {}, dims: { batch: [1, 8, 32], seq: [16, 128, 512] } };

test('a passing build writes the engine and its log, and reports phases', async () => {
  const dir = tempDir();
  const fake = fakeTrtexec(path.join(dir, 'bin'), { log: log('06'), version: '10.14.1' });
  const events: ProgressEvent[] = [];
  const report = await buildEngine(fixture('encoder.onnx'), { output: path.join(dir, 'out', 'enc.plan'), trtexec: fake.path, precision: ['fp16'], shapes: dims }, (e) => events.push(e));
  assert.deepEqual(listFiles(path.join(dir, 'out')), ['enc.plan', 'enc.plan.log']);
  assert.match(fs.readFileSync(path.join(dir, 'out', 'enc.plan'), 'utf8'), /^fake TensorRT 10\.14\.1 engine/);
  assert.deepEqual([report.engine, report.trtVersion, report.outcome, report.failure, report.buildSeconds], [path.join(dir, 'out', 'enc.plan'), '10.14.1', 'passed', null, 2.60577]);
  assert.equal(report.summary?.throughputQps, 23188.6);
  assert.equal(report.log, path.join(dir, 'out', 'enc.plan.log'));
  const saved = fs.readFileSync(report.log, 'utf8').split('\n');
  assert.equal(saved.length, 577, 'every line of the run (576 replayed) and a final newline');
  assert.match(saved[0], /^&&&& RUNNING TensorRT\.trtexec \[TensorRT v101401\] \[b1\] # trtexec --onnx=/);
  const phases = events.filter((e) => e.kind === 'phase').map((e) => (e as { phase: string }).phase);
  assert.deepEqual([...new Set(phases)], ['asking trtexec its version', 'starting trtexec', 'parsing', 'building', 'loading', 'inference']);
  assert.equal(events.filter((e) => e.kind === 'log').length, 576);
  const [, buildRun] = fake.runs();
  assert.ok(buildRun.includes('--fp16'));
  assert.ok(buildRun.includes('--shapes=input_ids:8x128,attention_mask:8x128'));
});

for (const number of ['02', '03', '09']) {
  test(`a failed build (log ${number}) leaves no engine file, only the log`, async () => {
    const dir = tempDir();
    const fake = fakeTrtexec(path.join(dir, 'bin'), { log: log(number) });
    const report = await buildEngine(fixture('convnet.onnx'), { output: path.join(dir, 'c.plan'), trtexec: fake.path, shapes: { shapes: {}, dims: { batch: [1, 4, 8] } } });
    assert.equal(report.outcome, 'failed');
    assert.equal(report.engine, null);
    assert.deepEqual(listFiles(dir).filter((f) => !f.startsWith('bin/')), ['c.plan.log']);
  });
}

test('a hang is killed at the timeout with everything it started; nothing but the log stays', async () => {
  const dir = tempDir();
  const fake = fakeTrtexec(path.join(dir, 'bin'), { log: log('06'), hang: 140 });
  const started = performance.now();
  const report = await buildEngine(fixture('convnet.onnx'), { output: path.join(dir, 'c.plan'), trtexec: fake.path, shapes: { shapes: {}, dims: { batch: [1, 4, 8] } }, timeoutMs: 1500 });
  const seconds = (performance.now() - started) / 1000;
  assert.ok(seconds >= 1.5 && seconds < 10, `took ${seconds} s`);
  assert.deepEqual([report.outcome, report.failure?.kind], ['incomplete', 'timeout']);
  assert.match(report.failure!.message, /^trtexec did not finish within 1\.5 s and was killed; the last step it logged: /);
  assert.ok(await processGone(fake.childFile), 'the child trtexec started is gone');
  assert.deepEqual(listFiles(dir).filter((f) => !f.startsWith('bin/')), ['c.plan.log']);
});

test('the model and the options are checked before trtexec is looked for', async () => {
  const nowhere = { trtexec: '/nonexistent/trtexec' };
  await assert.rejects(buildEngine('/nonexistent/model.onnx', nowhere), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /model not found/.test(e.message));
  await assert.rejects(buildEngine(fixture('encoder.onnx'), nowhere), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /dynamic inputs without a profile/.test(e.message));
  await assert.rejects(buildEngine(fixture('encoder.onnx'), { ...nowhere, precision: ['fp16'], stronglyTyped: true }), /`stronglyTyped` cannot be combined with `precision: fp16`/);
  await assert.rejects(buildEngine(fixture('encoder.onnx'), { ...nowhere, calib: '/nonexistent/calib.cache', precision: ['int8'] }), /calibration cache not found/);
  await assert.rejects(buildEngine(fixture('encoder.onnx'), { ...nowhere, shapes: dims }), (e: Error & { exitCode?: number }) => e.exitCode === 3 && /not an executable file/.test(e.message));
  const folder = tempDir();
  fs.writeFileSync(path.join(folder, 'kept.txt'), 'kept');
  await assert.rejects(buildEngine(fixture('encoder.onnx'), { ...nowhere, shapes: dims, output: folder }), (e: Error & { exitCode?: number }) =>
    e.exitCode === 2 && e.message === `\`output: ${folder}\` is a folder; the engine is one file`);
  assert.deepEqual(listFiles(folder), ['kept.txt']);
});

test('no trtexec anywhere: exit 3 naming every place looked and how to point at one', () => {
  const env = { PATH: '/nonexistent/a:/nonexistent/b' };
  assert.throws(() => findTrtexec({ env }), (e: Error & { exitCode?: number; hint?: string }) =>
    e.exitCode === 3 &&
    e.message === 'trtexec not found; looked in `trtexec` (not given), TDEPLOY_TRTEXEC (not set), PATH (/nonexistent/a:/nonexistent/b), /usr/src/tensorrt/bin/trtexec' &&
    /`trtexec: PATH` or TDEPLOY_TRTEXEC=PATH/.test(e.hint!));
});

test('trtexec is found through TDEPLOY_TRTEXEC, then PATH', () => {
  const fake = fakeTrtexec(tempDir(), { log: log('06') });
  assert.deepEqual(findTrtexec({ env: { TDEPLOY_TRTEXEC: fake.path } }), { path: fake.path, source: 'TDEPLOY_TRTEXEC' });
  assert.deepEqual(findTrtexec({ env: { PATH: `/nonexistent:${path.dirname(fake.path)}` } }), { path: fake.path, source: 'PATH' });
});

test('engineFromLog reads a log of any size line by line; other files are input errors', async () => {
  const report = await engineFromLog(log('01'));
  assert.deepEqual([report.engine, report.trtVersion, report.outcome, report.summary?.latencyMs?.p99], ['model-FP16.plan', '8.0.3', 'passed', 0.166382]);
  const other = path.join(tempDir(), 'notes.txt');
  fs.writeFileSync(other, 'not a log\n');
  await assert.rejects(engineFromLog(other), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /is not a trtexec log/.test(e.message));
  await assert.rejects(engineFromLog('/nonexistent.log'), /log not found/);
  await assert.rejects(engineFromLog(tempDir()), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /^log is a directory, not a file: /.test(e.message));
});

test('runEngineBenchmark: --loadEngine with shapes, the summary and every sample', async () => {
  const dir = tempDir();
  const plan = path.join(dir, 'model.plan');
  fs.writeFileSync(plan, 'engine');
  const fake = fakeTrtexec(path.join(dir, 'bin'), { log: log('07') });
  const bench = await runEngineBenchmark(plan, { trtexec: fake.path, shapes: { x: [4, 1, 28, 28] }, iterations: 200, warmupMs: 100, logFile: path.join(dir, 'bench.log') });
  assert.equal(bench.trtVersion, '10.16.1');
  assert.deepEqual(bench.args.slice(0, 5), [`--loadEngine=${plan}`, '--shapes=x:4x1x28x28', '--iterations=200', '--duration=0', '--warmUp=100']);
  assert.match(bench.args[5], /^--exportTimes=/);
  assert.equal(bench.report.summary?.latencyMs?.median, 0.0388184);
  const traceLines = fs.readFileSync(log('07'), 'utf8').split('\n').filter((l) => l.includes('Average on 10 runs'));
  assert.equal(bench.samples?.length, traceLines.length);
  assert.equal(bench.samples?.[0].computeMs, Number(/GPU latency: ([\d.]+)/.exec(traceLines[0])![1]));
  assert.ok(fs.existsSync(path.join(dir, 'bench.log')));
  assert.ok(!fs.existsSync(bench.args[5].slice('--exportTimes='.length)), 'the times file is removed');
});

test('runEngineBenchmark on 11.x asks for the data transfers that 8.x-10.x time by default', async () => {
  const dir = tempDir();
  const plan = path.join(dir, 'model.plan');
  fs.writeFileSync(plan, 'engine');
  const bench = await runEngineBenchmark(plan, { trtexec: fakeTrtexec(path.join(dir, 'bin'), { log: log('07'), version: '11.0.0' }).path, iterations: 10 });
  assert.equal(bench.trtVersion, '11.0.0');
  assert.deepEqual(bench.args.slice(1, 3), ['--iterations=10', '--duration=0']);
  assert.equal(bench.args.at(-1), '--includeDataTransfers');
  const older = await runEngineBenchmark(plan, { trtexec: fakeTrtexec(path.join(dir, 'ten'), { log: log('07'), version: '10.16.1' }).path, iterations: 10 });
  assert.ok(!older.args.includes('--includeDataTransfers'));
});

test('runEngineBenchmark: no times without a summary, a failed run throws its failure class', async () => {
  const dir = tempDir();
  const plan = path.join(dir, 'model.plan');
  fs.writeFileSync(plan, 'engine');
  const profiled = await runEngineBenchmark(plan, { trtexec: fakeTrtexec(path.join(dir, 'a'), { log: log('08') }).path });
  assert.deepEqual([profiled.report.summary, profiled.samples, profiled.report.profile?.iterations], [null, null, 18362]);
  await assert.rejects(runEngineBenchmark(plan, { trtexec: fakeTrtexec(path.join(dir, 'b'), { log: log('09') }).path }), (e: Error & { exitCode?: number; kind?: string }) =>
    e.exitCode === 3 && e.kind === 'unsupported-op' && /could not benchmark/.test(e.message));
  await assert.rejects(runEngineBenchmark(path.join(dir, 'missing.plan')), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /engine not found/.test(e.message));
  await assert.rejects(runEngineBenchmark(plan, { iterations: 0 }), /iterations: '0' is not a positive integer/);
});
