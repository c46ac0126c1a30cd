import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { identityModel } from '../triton/models.js';
import { type CliResult, fixture, listFiles, runCli, tempDir } from '../helpers.js';
import { loadModel } from '../../src/onnx/model.js';
import { saveModel } from '../../src/onnx/save.js';

/** A copy of a model stamped with another IR version (and ai.onnx opset). */
async function withIrVersion(from: string, to: string, ir: number, opset?: number): Promise<void> {
  const model = await loadModel(from);
  model.proto.irVersion = BigInt(ir);
  if (opset) model.proto.opsetImport.find((o) => o.domain === '' || o.domain === 'ai.onnx')!.version = BigInt(opset);
  await saveModel(model, to);
}

function assertUsageError(r: CliResult, message: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr.split('\n')[0], message);
  assert.match(r.stderr, /^tdeploy: error: /);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(r.stdout, '');
}

test('package --json prints one document describing the repository it wrote', () => {
  const repo = path.join(tempDir(), 'models');
  const r = runCli(['package', fixture('encoder.onnx'), '-o', repo, '--tokenizer', fixture('tokenizer'), '--json', '--dynamic-batching']);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(result), ['repository', 'version', 'models', 'files', 'replaced', 'triton', 'notes']);
  assert.deepEqual(result.models.map((m: { name: string; maxBatchSize: number }) => [m.name, m.maxBatchSize]), [['encoder', 4], ['encoder_tokenize', 4], ['encoder_pipeline', 4]]);
  assert.deepEqual(result.files, [
    'encoder/config.pbtxt', 'encoder/1/model.onnx',
    'encoder_tokenize/config.pbtxt', 'encoder_tokenize/1/model.py', 'encoder_tokenize/1/tokenizer.json',
    'encoder_pipeline/config.pbtxt', 'encoder_pipeline/1/',
  ]);
  assert.equal(result.notes.filter((n: string) => !/tritonserver 26\.08|for 26\.08/.test(n)).length, 2);
  assert.ok(result.notes.includes("checked against tritonserver 26.08 (the newest in tdeploy's release table; --triton YY.MM for another)"));
  // Notes also go to stderr for people; stdout stays one JSON document.
  assert.match(r.stderr, /note: max_batch_size 4, Triton's default/);
  const verify = runCli(['package', '--verify', repo]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.equal(verify.stdout, 'passed: 3 models (encoder, encoder_pipeline, encoder_tokenize)\n');
});

test('bad input exits 2 with one line and writes nothing', () => {
  const dir = tempDir();
  const repo = path.join(dir, 'models');
  const fixed = identityModel(dir, 'fixed.onnx', { name: 'x', dtype: 'float32', shape: [1, 3] }, { name: 'y', dtype: 'float32', shape: [1, 3] });
  const noTokenizer = path.join(dir, 'tok');
  fs.mkdirSync(noTokenizer);
  fs.writeFileSync(path.join(noTokenizer, 'vocab.txt'), '[PAD]\n');
  const cases: [string[], RegExp][] = [
    [['--name', '../evil'], /^tdeploy: error: --name: model names may use only letters, digits, _ \. - and may not be \. or \.\.$/],
    [['--name', '..'], /--name: model names may use only/],
    [[fixed, '--max-batch-size', '4'], /--max-batch-size 4 needs every input and output to have a dynamic leading \(batch\) dimension, but 'x' has a fixed leading dimension 1/],
    [['--tokenizer', noTokenizer], /--tokenizer .*tok has no tokenizer.json$/],
    [['--max-batch-size', 'many'], /^tdeploy: error: --max-batch-size: expected a whole number$/],
    [['--model-version', 'last'], /^tdeploy: error: --model-version: expected a version number \(1 or more\) or 'next'$/],
    [['--kind', 'tpu'], /option '--kind <kind>' argument 'tpu' is invalid/],
    [['--version-policy', 'latest'], /--version-policy: 'latest' is not latest:N, all or specific:1,3/],
    [['--label-file', `nosuch=${path.join(noTokenizer, 'vocab.txt')}`], /^tdeploy: error: --label-file nosuch=.*vocab\.txt: the model has no output 'nosuch'$/],
  ];
  for (const [args, message] of cases) {
    const model = args[0]?.endsWith('.onnx') ? [] : [fixture('encoder.onnx')];
    assertUsageError(runCli(['package', ...model, '-o', repo, ...args]), message);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['fixed.onnx', 'tok'], args.join(' '));
  }
  assertUsageError(runCli(['package', fixture('encoder.onnx')]), /^tdeploy: error: --output: the repository folder is required \(-o <repo>\)$/);
  const json = runCli(['package', fixture('encoder.onnx'), '-o', repo, '--name', 'a b', '--json']);
  assert.equal(json.code, 2);
  assert.equal(JSON.parse(json.stdout).error.code, 2);
});

test('an existing version is not overwritten without --force', () => {
  const repo = path.join(tempDir(), 'models');
  assert.equal(runCli(['package', fixture('convnet.onnx'), '-o', repo, '--quiet']).code, 0);
  const config = fs.readFileSync(path.join(repo, 'convnet', 'config.pbtxt'), 'utf8');
  const again = runCli(['package', fixture('convnet.onnx'), '-o', repo, '--max-batch-size', '16']);
  assertUsageError(again, /^tdeploy: error: .*convnet\/1 already exists$/);
  assert.match(again.stderr, /hint: add --force to replace it, or --model-version next for a new version/);
  assert.equal(fs.readFileSync(path.join(repo, 'convnet', 'config.pbtxt'), 'utf8'), config);
  assert.deepEqual(listFiles(repo), ['convnet/1/model.onnx', 'convnet/config.pbtxt', 'tdeploy.json']);
  const forced = runCli(['package', fixture('convnet.onnx'), '-o', repo, '--max-batch-size', '16', '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(fs.readFileSync(path.join(repo, 'convnet', 'config.pbtxt'), 'utf8'), /^max_batch_size: 16$/m);
});

test('package --verify: exit 1 with every problem; --json gives {passed, models: [{name, problems}]}', () => {
  const repo = path.join(tempDir(), 'models');
  assert.equal(runCli(['package', fixture('encoder.onnx'), '-o', repo, '--tokenizer', fixture('tokenizer'), '--quiet']).code, 0);
  const config = path.join(repo, 'encoder', 'config.pbtxt');
  fs.writeFileSync(config, fs.readFileSync(config, 'utf8').replace('TYPE_INT64', 'TYPE_INT32'));
  fs.rmSync(path.join(repo, 'encoder_pipeline', '1'), { recursive: true });
  const r = runCli(['package', '--verify', repo, '--json']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.split('\n').at(-2), 'tdeploy: error: the repository has 3 problems');
  assert.match(r.stderr, /^tdeploy: note: checked against tritonserver 26\.08 \(the newest/);
  const report = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(report), ['passed', 'triton', 'models', 'notes']);
  assert.equal(report.passed, false);
  assert.deepEqual(report.models.map((m: { name: string; problems: unknown[] }) => [m.name, m.problems.length]), [['encoder', 1], ['encoder_pipeline', 2], ['encoder_tokenize', 0]]);
  assert.deepEqual(report.models[0].problems[0], {
    file: 'encoder/1/model.onnx', field: 'input[0].data_type', message: "'input_ids' is TYPE_INT32 in the config but int64 (TYPE_INT64) in the model",
  });
  const human = runCli(['package', '--verify', repo]);
  assert.equal(human.code, 1);
  assert.match(human.stdout, /encoder_pipeline │ encoder_pipeline\/ +│ - +│ no version folder/);
  assertUsageError(runCli(['package', '--verify', repo, '--force']), /--verify takes only the repository and --triton, not --force/);
});

test('package --triton: an IR-10 model is refused for 22.12 naming both IR versions, accepted for 26.08', async () => {
  const dir = tempDir();
  const model = path.join(dir, 'enc.onnx');
  await withIrVersion(fixture('encoder.onnx'), model, 10);
  const refused = runCli(['package', model, '-o', path.join(dir, 'old'), '--triton', '22.12']);
  assertUsageError(refused, /enc\.onnx is IR version 10; tritonserver 22\.12 \(.*\) loads IR 8 at most/);
  assert.match(refused.stderr, /hint: package with --ir-version 8 \(nothing in the model needs more than IR 4\)/);
  assert.equal(fs.existsSync(path.join(dir, 'old')), false, 'nothing written');
  const accepted = runCli(['package', model, '-o', path.join(dir, 'new'), '--triton', '26.08', '--json']);
  assert.equal(accepted.code, 0, accepted.stderr);
  const result = JSON.parse(accepted.stdout);
  assert.equal(result.triton.release, '26.08');
  assert.equal(result.triton.onnxruntime, '1.28.0');
  const recorded = JSON.parse(fs.readFileSync(path.join(dir, 'new', 'tdeploy.json'), 'utf8'));
  assert.equal(recorded.triton.image, 'nvcr.io/nvidia/tritonserver:26.08-py3');
  assert.match(recorded.triton.docker, /-v \S+new:\/models nvcr\.io\/nvidia\/tritonserver:26\.08-py3 tritonserver --model-repository=\/models$/);
});

test('package --triton: an opset newer than the release\'s onnxruntime loads is refused', async () => {
  const dir = tempDir();
  const model = path.join(dir, 'enc.onnx');
  await withIrVersion(fixture('encoder.onnx'), model, 8, 19);
  const r = runCli(['package', model, '-o', path.join(dir, 'repo'), '--triton', '23.04']);
  assertUsageError(r, /uses ai\.onnx opset 19; tritonserver 23\.04 \(onnxruntime 1\.14\.1\) loads up to opset 18/);
  assert.match(r.stderr, /tdeploy convert --opset 18/);
});

test('package --ir-version 8 writes a model that onnxruntime-node loads and that matches the original', async () => {
  const dir = tempDir();
  const model = path.join(dir, 'enc.onnx');
  await withIrVersion(fixture('encoder.onnx'), model, 10);
  const repo = path.join(dir, 'repo');
  const r = runCli(['package', model, '-o', repo, '--triton', '22.12', '--ir-version', '8']);
  assert.equal(r.code, 0, r.stderr);
  const written = path.join(repo, 'enc', '1', 'model.onnx');
  const inspected = JSON.parse(runCli(['inspect', written, '--json']).stdout);
  assert.equal(inspected.irVersion, 8);
  const check = runCli(['check', written, '--against', model, '--dim', 'seq=16', '--json']);
  assert.equal(check.code, 0, check.stderr);
  assert.equal(JSON.parse(check.stdout).passed, true);
  assert.deepEqual(listFiles(dir).filter((f) => f.includes('.tdeploy-ir-')), [], 'the scratch copy is gone');
  const verify = runCli(['package', '--verify', repo, '--triton', '22.12', '--json']);
  assert.equal(verify.code, 0, verify.stderr);
  const lower = runCli(['package', fixture('encoder.onnx'), '-o', path.join(dir, 'r2'), '--ir-version', '3']);
  assertUsageError(lower, /--ir-version 3: the model needs IR 4 for the initializer/);
});

test('package --verify --triton reports a model the release cannot load as a problem (exit 1)', async () => {
  const dir = tempDir();
  const model = path.join(dir, 'enc.onnx');
  await withIrVersion(fixture('encoder.onnx'), model, 10);
  const repo = path.join(dir, 'repo');
  assert.equal(runCli(['package', model, '-o', repo]).code, 0);
  const r = runCli(['package', '--verify', repo, '--triton', '23.04', '--json']);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.triton.release, '23.04');
  const problem = report.models[0].problems[0];
  assert.equal(problem.field, 'triton 23.04: ir_version');
  assert.match(problem.message, /IR version 10; tritonserver 23\.04 \(onnxruntime 1\.14\.1\) loads IR 8 at most/);
});

test('--warmup-batch writes one warm-up request; --warmup, its old spelling, writes the same with a note', () => {
  const dir = tempDir();
  const config = (repo: string) => fs.readFileSync(path.join(repo, 'encoder', 'config.pbtxt'), 'utf8');
  const r = runCli(['package', fixture('encoder.onnx'), '-o', path.join(dir, 'new'), '--warmup-batch', '2', '--dim', 'seq=16']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(config(path.join(dir, 'new')), /model_warmup: \{\n {2}name: "warmup_batch_2"\n {2}batch_size: 2\n/);
  const old = runCli(['package', fixture('encoder.onnx'), '-o', path.join(dir, 'old'), '--warmup', '2', '--dim', 'seq=16']);
  assert.equal(old.code, 0, old.stderr);
  assert.equal(config(path.join(dir, 'old')), config(path.join(dir, 'new')));
  assert.match(old.stderr, /^tdeploy: note: --warmup is deprecated and will be removed; use --warmup-batch$/m);
  const both = runCli(['package', fixture('encoder.onnx'), '-o', path.join(dir, 'both'), '--warmup', '2', '--warmup-batch', '2']);
  assertUsageError(both, /^tdeploy: error: --warmup is the old spelling of --warmup-batch: give one of them$/);
  const run = runCli(['run', '--out', path.join(dir, 'a'), '-o', path.join(dir, 'b')]);
  assertUsageError(run, /^tdeploy: error: --out is the old spelling of -o\/--output: give one of them$/);
});
