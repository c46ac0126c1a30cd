import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_TRTEXEC } from '../../src/trt/locate.js';
import { fixture, listFiles, repoRoot, runCli, tempDir } from '../helpers.js';
import { fakeTrtexec, log, processGone } from '../trt/fake.js';

const encoderDims = ['--dim', 'batch=1,8,32', '--dim', 'seq=16,128,512'];

/** Runs `tdeploy engine` with a fake trtexec replaying `number` as `version`. */
function engine(args: string[], setup: { log: string; version?: string; hang?: number }) {
  const dir = tempDir();
  const fake = fakeTrtexec(path.join(dir, 'bin'), setup);
  const out = path.join(dir, 'out');
  const result = runCli(['engine', ...args.map((a) => a.replace('$OUT', out))], { env: { TDEPLOY_TRTEXEC: fake.path } });
  return { ...result, out, fake, build: fake.runs().find((argv) => argv[0] !== '--help') ?? [] };
}

test('engine --json prints exactly the report the issue specifies', () => {
  const r = engine([fixture('encoder.onnx'), '-o', '$OUT/enc.plan', '--fp16', '--json', ...encoderDims], { log: log('06') });
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(report), ['engine', 'trtVersion', 'passed', 'outcome', 'failure', 'precision', 'shapes', 'buildSeconds', 'summary', 'warnings', 'log', 'notes']);
  assert.deepEqual(Object.keys(report.summary), ['throughputQps', 'latencyMs', 'gpuComputeMs', 'enqueueMs', 'h2dMs', 'd2hMs', 'totalHostWalltimeS', 'totalGpuComputeS']);
  assert.deepEqual(report.summary.latencyMs, { min: 0.0333252, max: 0.26416, mean: 0.0385501, median: 0.0383301, p90: 0.0395508, p95: 0.0400391, p99: 0.046875 });
  assert.deepEqual([report.engine, report.trtVersion, report.passed, report.outcome, report.failure, report.log], [path.join(r.out, 'enc.plan'), '10.14.1', true, 'passed', null, path.join(r.out, 'enc.plan.log')]);
  assert.deepEqual(listFiles(r.out), ['enc.plan', 'enc.plan.log']);
});

test('--shape takes a profile or one fixed shape; --shapes, its old spelling, still works with a note', () => {
  const profile = ['--shape', 'input_ids:1x16,8x128,32x512', '--shape', 'attention_mask:2x64'];
  const r = engine([fixture('encoder.onnx'), '-o', '$OUT/enc.plan', '--json', ...profile], { log: log('06') });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.build.includes('--minShapes=input_ids:1x16,attention_mask:2x64'), r.build.join(' '));
  assert.ok(r.build.includes('--optShapes=input_ids:8x128,attention_mask:2x64'), r.build.join(' '));
  assert.ok(r.build.includes('--maxShapes=input_ids:32x512,attention_mask:2x64'), r.build.join(' '));
  const old = engine([fixture('encoder.onnx'), '-o', '$OUT/enc.plan', '--json', '--shapes', 'input_ids:1x16,8x128,32x512', '--shape', 'attention_mask:2x64'], { log: log('06') });
  assert.equal(old.code, 0, old.stderr);
  const shapes = (argv: string[]) => argv.filter((a) => /^--(min|opt|max)?Shapes=/i.test(a));
  assert.deepEqual(shapes(old.build), shapes(r.build));
  assert.match(old.stderr, /^tdeploy: note: --shapes is deprecated and will be removed; use --shape$/m);
  assert.equal(JSON.parse(old.stdout).notes[0], '--shapes is deprecated and will be removed; use --shape');
});

/** Per release: what the build must pass for workspace and build-only, and what it must never pass. */
const RELEASES: [string, string, string, RegExp][] = [
  ['8.0.3', '--workspace=2048', '--buildOnly', /^--(memPoolSize|skipInference)/],
  ['8.4.1', '--memPoolSize=workspace:2048', '--buildOnly', /^--(workspace|skipInference)\b/],
  ['8.6.0', '--memPoolSize=workspace:2048', '--skipInference', /^--(workspace|buildOnly)\b/],
  ['10.0.1', '--memPoolSize=workspace:2048', '--skipInference', /^--(workspace|buildOnly|explicitBatch)\b/],
  ['10.16.1', '--memPoolSize=workspace:2048', '--skipInference', /^--(workspace|buildOnly|explicitBatch)\b/],
  ['11.0.0', '--memPoolSize=workspace:2048', '--skipInference', /^--(workspace|buildOnly|fp16)\b/],
];

for (const [release, workspace, buildOnly, never] of RELEASES) {
  test(`TensorRT ${release}: the fake (which refuses flags the release lacks) builds; shapes and flags as the release wants`, () => {
    const r = engine([fixture('encoder.onnx'), '-o', '$OUT/enc.plan', '--fp16', '--workspace', '2048', '--no-inference', ...encoderDims], { log: log('05'), version: release });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.build.includes(workspace), r.build.join(' '));
    assert.ok(r.build.includes(buildOnly), r.build.join(' '));
    assert.deepEqual(r.build.filter((a) => never.test(a)), []);
    assert.deepEqual(r.build.filter((a) => /Shapes=/.test(a)), [
      '--minShapes=input_ids:1x16,attention_mask:1x16', '--optShapes=input_ids:8x128,attention_mask:8x128', '--maxShapes=input_ids:32x512,attention_mask:32x512',
    ]);
    assert.ok(r.build.every((a) => a.startsWith('--') && (!a.includes(' '))));
    assert.equal(r.build.includes('--fp16'), release !== '11.0.0');
    assert.equal(/builds strongly typed networks only, so --fp16 is not passed/.test(r.stderr), release === '11.0.0');
  });
}

test('a removed flag through --extra is refused before running, with the release named', () => {
  const r = engine([fixture('convnet.onnx'), '-o', '$OUT/c.plan', '--dim', 'batch=1,4,8', '--extra', '--explicitBatch'], { log: log('06'), version: '10.16.1' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^tdeploy: error: --extra: TensorRT 10\.16\.1 has no --explicitBatch\nhint: trtexec has --explicitBatch from 8\.0 until 10\.0/);
  assert.deepEqual(r.fake.runs(), [['--help']]);
});

test('a failed build exits 3 with the failure class, keeps the log and leaves no engine', () => {
  const r = engine([fixture('convnet.onnx'), '-o', '$OUT/c.plan', '--dim', 'batch=1,4,8', '--json'], { log: log('09') });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /^tdeploy: error: trtexec failed \(unsupported-op\): While parsing node number 0 \[AddScalar -> "CustomOpModel-V-0-AddScalar-0"\]:\nhint: TensorRT has no importer or plugin for the 'AddScalar' op: .*; full log: .*c\.plan\.log\n$/);
  const report = JSON.parse(r.stdout);
  assert.deepEqual([report.engine, report.passed, report.outcome, report.failure.kind], [null, false, 'failed', 'unsupported-op']);
  assert.deepEqual(listFiles(r.out), ['c.plan.log']);
});

test('a hang is killed at --timeout: exit 3, no engine, the child process gone', async () => {
  const r = engine([fixture('convnet.onnx'), '-o', '$OUT/c.plan', '--dim', 'batch=1,4,8', '--timeout', '1'], { log: log('06'), hang: 140 });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /^tdeploy: error: trtexec did not finish \(timeout\): trtexec did not finish within 1 s and was killed/);
  assert.ok(await processGone(r.fake.childFile));
  assert.deepEqual(listFiles(r.out), ['c.plan.log']);
});

test('Ctrl-C kills trtexec\'s process group and leaves nothing behind', async () => {
  const dir = tempDir();
  const fake = fakeTrtexec(path.join(dir, 'bin'), { log: log('06'), hang: 140 });
  const out = path.join(dir, 'out');
  const child = spawn(process.execPath, [path.join(repoRoot, 'bin', 'tdeploy.js'), 'engine', fixture('convnet.onnx'), '-o', path.join(out, 'c.plan'), '--dim', 'batch=1,4,8'], {
    env: { ...process.env, CI: 'true', TDEPLOY_TRTEXEC: fake.path }, stdio: 'ignore',
  });
  for (let waited = 0; !fs.existsSync(fake.childFile) && waited < 20_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  assert.ok(listFiles(out).some((f) => f.endsWith('.tmp')), 'the build is under way');
  child.kill('SIGINT');
  const [code] = await once(child, 'exit');
  assert.equal(code, 130);
  assert.deepEqual(listFiles(out), []);
  assert.ok(await processGone(fake.childFile));
});

test('an engine path through a file is an input error naming the file in the way', () => {
  const model = fixture('convnet.onnx');
  const r = engine([model, '-o', path.join(model, 'x.plan'), '--dim', 'batch=1,4,8'], { log: log('06') });
  assert.deepEqual([r.code, r.stderr.split('\n')[0]], [2, `tdeploy: error: cannot create output folder ${model}: a file is in the way`]);
  assert.deepEqual(r.fake.runs().filter((argv) => argv[0] !== '--help' && argv[0] !== '--version'), []);
});

test('bad input exits 2 before trtexec is looked for; no trtexec exits 3 naming where it looked', (t) => {
  const env = { TDEPLOY_TRTEXEC: '', PATH: '/nonexistent/bin' };
  const missing = runCli(['engine', '/nonexistent/model.onnx'], { env });
  assert.deepEqual([missing.code, missing.stderr.split('\n')[0]], [2, 'tdeploy: error: model not found: /nonexistent/model.onnx']);
  const unknown = runCli(['engine', fixture('encoder.onnx'), '--shape', 'input_idz:1x16,8x128,32x512', '--dim', 'batch=1,8,32', '--dim', 'seq=16,128,512'], { env });
  assert.deepEqual([unknown.code, unknown.stderr.split('\n')[0]], [2, "tdeploy: error: --shape names 'input_idz', which is not an input of the model"]);
  const dynamic = runCli(['engine', fixture('encoder.onnx')], { env });
  assert.equal(dynamic.code, 2);
  assert.equal(dynamic.stderr, 'tdeploy: error: the model has dynamic inputs without a profile: input_ids [batch, seq], attention_mask [batch, seq]\n' +
    'hint: give min,opt,max for each dynamic dim, e.g. --dim batch=1,8,32 --dim seq=1,8,32, or --shape input_ids:MINxA,OPTxB,MAXxC\n');
  const twoValues = runCli(['engine', fixture('convnet.onnx'), '--dim', 'batch=1,8'], { env });
  assert.deepEqual([twoValues.code, twoValues.stderr.split('\n')[0]], [2, 'tdeploy: error: --dim batch: give one value or three (min,opt,max), not 2']);
  const twice = runCli(['engine', fixture('convnet.onnx'), '--dim', 'batch=1,4,8', '--dim', 'batch=2'], { env });
  assert.deepEqual([twice.code, twice.stderr], [2, "tdeploy: error: --dim batch=2: 'batch' is already set to 1,4,8\nhint: one --dim per dimension\n"]);
  for (const [flag, value, message] of [['--workspace', '0', 'must be more than 0'], ['--workspace', '1.5', 'expected a whole number'], ['--builder-level', '9', 'must be at most 5']]) {
    const r = runCli(['engine', fixture('convnet.onnx'), '--dim', 'batch=1,4,8', flag, value], { env });
    assert.deepEqual([r.code, r.stderr.split('\n')[0]], [2, `tdeploy: error: ${flag}: ${message}`]);
  }
  const dir = tempDir();
  fs.cpSync(fixture('encoder_external'), dir, { recursive: true });
  const model = path.join(dir, 'encoder.onnx');
  for (const output of [model, path.join(dir, 'encoder.onnx.data')]) {
    const r = runCli(['engine', model, '-o', output, ...encoderDims], { env });
    assert.deepEqual([r.code, r.stderr.split('\n')[0]], [2, `tdeploy: error: the engine or its log would overwrite ${output}, which the build reads`]);
  }
  assert.deepEqual(listFiles(dir), ['encoder.onnx', 'encoder.onnx.data']);
  if (fs.existsSync(DEFAULT_TRTEXEC)) return t.skip(`${DEFAULT_TRTEXEC} exists on this machine`);
  const none = runCli(['engine', fixture('convnet.onnx'), '--dim', 'batch=1,4,8', '--json'], { env });
  assert.equal(none.code, 3);
  assert.equal(none.stderr.split('\n')[0], 'tdeploy: error: trtexec not found; looked in --trtexec (not given), TDEPLOY_TRTEXEC (not set), PATH (/nonexistent/bin), /usr/src/tensorrt/bin/trtexec');
  assert.deepEqual(JSON.parse(none.stdout).error.kind, 'tool-missing');
  assert.match(JSON.parse(none.stdout).error.hint, /--trtexec PATH or TDEPLOY_TRTEXEC=PATH/);
});

test('--from-log reports any log that parses with exit 0, failed runs included', () => {
  const r = runCli(['engine', '--from-log', log('03'), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.deepEqual([report.trtVersion, report.passed, report.outcome, report.failure.kind, report.summary, report.log], ['8.2.4', false, 'failed', 'parse-error', null, log('03')]);
  const human = runCli(['engine', '--from-log', log('07')]);
  assert.equal(human.code, 0);
  assert.match(human.stdout, /throughput +│ 24,896\.9 qps/);
  assert.match(human.stdout, /│ latency +│ +0\.03833 │ +0\.06519 │ +0\.03876 │ +0\.03882 │ +0\.03885 │ +0\.03894 │ +0\.03906 │/);
});

test('--from-log refuses non-logs and build options', () => {
  const notLog = runCli(['engine', '--from-log', fixture('convnet.onnx')]);
  assert.deepEqual([notLog.code, /is not a trtexec log/.test(notLog.stderr)], [2, true]);
  const both = runCli(['engine', fixture('convnet.onnx'), '--from-log', log('06'), '--fp16']);
  assert.deepEqual([both.code, both.stderr.split('\n')[0]], [2, 'tdeploy: error: --from-log reads a finished run; it takes no <model>, --fp16']);
  const buildOnly = runCli(['engine', '--from-log', log('06'), '--no-inference']);
  assert.deepEqual([buildOnly.code, buildOnly.stderr.split('\n')[0]], [2, 'tdeploy: error: --from-log reads a finished run; it takes no --no-inference']);
  const neither = runCli(['engine']);
  assert.deepEqual([neither.code, neither.stderr.split('\n')[0]], [2, 'tdeploy: error: give a model to build, or --from-log <file> to read a log']);
});
