import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { BenchReportSchema } from '../../src/bench/result.js';
import { exampleConfig } from '../../src/pipeline/example.js';
import { runPipeline } from '../../src/pipeline/run.js';
import { fixture, runCli, shared, skipWithoutPython, tempDir } from '../helpers.js';

interface Report {
  passed: boolean;
  failedStep?: string;
  steps: { name: string; status: string; reason?: string; result: unknown }[];
  artifacts: { name: string; path: string; sizeBytes: number; accuracy: { passed: boolean; minCosine: number; maxAbsError: number } | null; p50Ms: number | null; speedup: number | null }[];
  outputs: { folder: string; reference?: string; engine?: string; bench?: string; repository?: string };
}

function statuses(report: Report): Record<string, string> {
  return Object.fromEntries(report.steps.map((s) => [s.name, s.status]));
}

test('tdeploy run with no config runs the bundled example from TorchScript, every step passing', { skip: skipWithoutPython(['torch']) }, () => {
  const dir = tempDir();
  const r = runCli(['run', '--json'], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const report: Report = JSON.parse(r.stdout);
  assert.equal(report.passed, true);
  assert.deepEqual(statuses(report), { convert: 'passed', quantize: 'passed', check: 'passed', engine: 'skipped', bench: 'passed', package: 'passed' });
  assert.match(report.steps.find((s) => s.name === 'engine')!.reason!, /no trtexec found/);
  assert.equal(report.outputs.folder, path.join(fs.realpathSync(dir), 'tdeploy-out'));

  const [fp32, fp16, int8] = report.artifacts;
  assert.deepEqual(report.artifacts.map((a) => a.name), ['fp32', 'fp16', 'int8']);
  assert.ok(fp16.sizeBytes <= 0.55 * fp32.sizeBytes, `fp16 ${fp16.sizeBytes} vs fp32 ${fp32.sizeBytes}`);
  assert.ok(int8.sizeBytes <= 0.35 * fp32.sizeBytes, `int8 ${int8.sizeBytes} vs fp32 ${fp32.sizeBytes}`);
  for (const a of report.artifacts) {
    assert.ok(a.accuracy?.passed, `${a.name} passes its gate against the reference`);
    assert.ok(a.p50Ms! > 0 && a.speedup! > 0);
    assert.ok(fs.existsSync(a.path));
  }
  assert.ok(fp32.accuracy!.maxAbsError < 1e-4);
  assert.ok(fp16.accuracy!.minCosine > 0.9999);
  assert.ok(int8.accuracy!.minCosine > 0.995);
  assert.equal(fp32.speedup, 1);

  const benchReport = BenchReportSchema.parse(JSON.parse(fs.readFileSync(report.outputs.bench!, 'utf8')));
  assert.deepEqual(benchReport.results.map((x) => x.label), ['fp32', 'fp16', 'int8']);

  const verify = runCli(['package', '--verify', report.outputs.repository!, '--json']);
  assert.equal(verify.code, 0, verify.stdout);
  assert.deepEqual(JSON.parse(verify.stdout).models.map((m: { name: string }) => m.name).sort(), ['encoder', 'encoder_pipeline', 'encoder_tokenize']);

  // A second run replaces the first one's outputs rather than refusing them.
  const again = runCli(['run', '--json', '-o', path.join(dir, 'tdeploy-out')], { cwd: dir });
  assert.equal(again.code, 0, again.stderr);
});

test('without a Python that has torch, the bundled example starts from its ONNX export and every other step passes', async () => {
  const dir = tempDir();
  const { config, notes } = await exampleConfig(dir, async () => undefined);
  assert.deepEqual(config.model, { source: fixture('encoder.onnx'), name: 'encoder', reference: fixture('encoder.reference.npz') });
  assert.match(notes[0], /no Python with torch found .*starts from its ONNX export/);
  const report = await runPipeline(config);
  assert.equal(report.passed, true);
  assert.deepEqual(report.steps.map((s) => [s.name, s.status]), [
    ['convert', 'skipped'], ['quantize', 'passed'], ['check', 'passed'], ['engine', 'skipped'], ['bench', 'passed'], ['package', 'passed'],
  ]);
  assert.deepEqual(report.artifacts.map((a) => [a.name, a.accuracy?.passed]), [['fp32', true], ['fp16', true], ['int8', true]]);
  assert.equal(report.outputs.reference, fixture('encoder.reference.npz'));
});

/** A config for the bundled ONNX encoder, in `dir`, with `extra` merged in. */
function onnxConfig(dir: string, extra: Record<string, unknown> = {}): string {
  const config = {
    output: 'out',
    model: { source: fixture('encoder.onnx'), reference: fixture('encoder.reference.npz') },
    calibration: fixture('encoder.calibration.npz'),
    quantize: [{ name: 'int8', to: 'int8', mode: 'static', method: 'minmax' }],
    bench: { iterations: 20 },
    ...extra,
  };
  const file = path.join(dir, 'tdeploy.config.json');
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

test('an ONNX source skips convert; engine and bench run through trtexec when one is found', () => {
  const dir = tempDir();
  const log = shared('trtexec-logs', '06-trt10.14.1-onnx-defaults-pass.log');
  const config = onnxConfig(dir, {
    engine: { trtexec: fixture('fake-trtexec'), dims: { batch: [1, 2, 4], seq: [8, 16, 32] } },
    package: { model: 'int8', name: 'enc' },
  });
  const r = runCli(['run', '--config', config, '--json'], { env: { FAKE_TRTEXEC_LOG: log } });
  assert.equal(r.code, 0, r.stderr);
  const report: Report = JSON.parse(r.stdout);
  assert.deepEqual(statuses(report), { convert: 'skipped', quantize: 'passed', check: 'passed', engine: 'passed', bench: 'passed', package: 'passed' });
  assert.equal(report.outputs.engine, path.join(dir, 'out', 'encoder.plan'));
  assert.ok(fs.existsSync(`${report.outputs.engine}.log`));
  assert.deepEqual(report.artifacts.map((a) => a.name), ['fp32', 'int8', 'engine']);
  assert.equal(report.artifacts[0].path, fixture('encoder.onnx'));
  assert.ok(report.artifacts[2].p50Ms! > 0, 'the engine was timed through trtexec');
  assert.ok(fs.existsSync(path.join(dir, 'out', 'models', 'enc', '1', 'model.onnx')));
});

test('a failing gate stops the pipeline with exit 1 after the report, naming the step', () => {
  const dir = tempDir();
  const config = onnxConfig(dir, { quantize: [{ name: 'int8', to: 'int8', gate: { minCosine: 0.9999999, atol: 1e-6 } }] });
  const r = runCli(['run', '--config', config, '--json']);
  assert.equal(r.code, 1);
  const report: Report = JSON.parse(r.stdout);
  assert.equal(report.passed, false);
  assert.equal(report.failedStep, 'check');
  assert.deepEqual(statuses(report), { convert: 'skipped', quantize: 'passed', check: 'failed' });
  assert.match(report.steps[2].reason!, /int8 against the reference: logits \(.*cosine/);
  assert.match(r.stderr, /tdeploy: error: the check step failed: int8 against the reference/);
  assert.equal(fs.existsSync(path.join(dir, 'out', 'models')), false, 'nothing packaged after the failure');

  const human = runCli(['run', '--config', config]);
  assert.equal(human.code, 1);
  assert.match(human.stdout, /pipeline stopped: the check step failed/);
});

test('a repository that fails verification stops the package step; the artifacts keep what the bench measured', () => {
  const dir = tempDir();
  const stale = path.join(dir, 'out', 'models', 'stale');
  fs.mkdirSync(path.join(stale, '1'), { recursive: true });
  fs.writeFileSync(path.join(stale, 'config.pbtxt'), 'nme: "stale"\n');
  const config = onnxConfig(dir, { quantize: [], engine: false, bench: { iterations: 5, warmup: 1 } });
  const r = runCli(['run', '--config', config, '--json']);
  assert.equal(r.code, 1, r.stderr);
  const report: Report = JSON.parse(r.stdout);
  assert.deepEqual([report.passed, report.failedStep], [false, 'package']);
  assert.deepEqual(statuses(report), { convert: 'skipped', quantize: 'skipped', check: 'passed', engine: 'skipped', bench: 'passed', package: 'failed' });
  assert.match(report.steps[5].reason!, /^the repository fails verification: stale: line 1: unknown field "nme"/);
  assert.deepEqual(report.artifacts.map((a) => [a.name, a.accuracy?.passed, a.speedup]), [['fp32', true, 1]]);
  assert.ok(report.artifacts[0].p50Ms! > 0, 'the bench figure survives the later gate');
});

test('config errors exit 2 naming the key; paths are relative to the config file', () => {
  const dir = tempDir();
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ quantize: [{ name: 'int8', to: 'int8', perchannel: true }] }, /quantize\[0\]: Unrecognized key: "perchannel"/],
    [{ package: { model: 'fp16' } }, /package\.model: no artifact 'fp16'/],
    [{ quantize: [{ name: 'x', to: 'int4' }] }, /quantize\[0\]\.to: /],
    [{ bench: { iterations: 0 } }, /bench\.iterations: must be more than 0$/],
    [{ bench: { warmup: 1.5 } }, /bench\.warmup: expected a whole number$/],
    [{ model: { source: 'nope.onnx' } }, /tdeploy\.config\.json: model\.source not found: .*nope\.onnx$/],
    [{ model: { source: fixture('encoder.onnx'), opset: 17 } }, /model\.opset applies to a PyTorch source, and the source is .*encoder\.onnx$/],
    [{ model: { source: fixture('encoder.pt'), reference: fixture('encoder.reference.npz') } }, /model\.reference applies to an ONNX source, and the source is .*encoder\.pt$/],
    [{ calibration: undefined }, /quantize\[0\]: static quantization needs calibration data$/],
    [{ bench: { provider: 'gpu' } }, /bench\.provider: expected one of cpu, cuda, tensorrt, or a list of them tried in order$/],
    // Every problem at once, and a key an earlier release spelt otherwise names its new spelling.
    [{ bench: { iterations: 0, warmup: 1.5 }, package: { warmup: 2 } },
      /: 3 problems: bench\.iterations: must be more than 0; bench\.warmup: expected a whole number; package: Unrecognized key: "warmup" \(now package\.warmupBatch\)$/],
  ];
  for (const [extra, message] of cases) {
    const r = runCli(['run', '--config', onnxConfig(dir, extra)]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr.split('\n')[0], message);
  }
  fs.writeFileSync(path.join(dir, 'bad.json'), '{ not json');
  assert.match(runCli(['run', '--config', path.join(dir, 'bad.json')]).stderr, /bad\.json: not valid JSON/);
  assert.match(runCli(['run', '--config', path.join(dir, 'missing.json')]).stderr, /config file not found/);

  const relative = path.join(dir, 'rel.json');
  fs.copyFileSync(fixture('encoder.onnx'), path.join(dir, 'm.onnx'));
  fs.writeFileSync(relative, JSON.stringify({ model: { source: 'm.onnx' }, output: 'o', engine: false, bench: false, package: false }));
  const r = runCli(['run', '--config', relative, '--json'], { cwd: tempDir() });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).artifacts[0].path, path.join(dir, 'm.onnx'));
});

test('tdeploy schema prints the JSON Schema of the config', () => {
  const r = runCli(['schema']);
  assert.equal(r.code, 0);
  const schema = JSON.parse(r.stdout);
  assert.equal(schema.type, 'object');
  assert.deepEqual(schema.required, ['model']);
  assert.equal(schema.additionalProperties, false);
  assert.ok(schema.properties.quantize.items.properties.maxDriftCosine);
});

test('the committed tdeploy.schema.json is what tdeploy schema prints', () => {
  assert.equal(fs.readFileSync(fixture('..', 'tdeploy.schema.json'), 'utf8'), runCli(['schema']).stdout);
});
