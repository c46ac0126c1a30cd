import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { PackageOptions } from '../../src/triton/options.js';
import { packageModel } from '../../src/triton/package.js';
import { readConfig } from '../../src/triton/text.js';
import { type Problem, verifyRepository } from '../../src/triton/verify.js';
import { fixture, shared, tempDir } from '../helpers.js';
import { identityModel } from './models.js';

/** A fresh repository with the encoder, its tokenizer step and the ensemble, all valid. */
async function pipelineRepo(): Promise<string> {
  const repo = path.join(tempDir(), 'models');
  await packageModel(fixture('encoder.onnx'), PackageOptions.parse({ output: repo, maxBatchSize: 8, tokenizer: fixture('tokenizer'), warmupBatch: 1 }));
  return repo;
}

function edit(repo: string, file: string, change: (text: string) => string): void {
  const p = path.join(repo, file);
  const before = fs.readFileSync(p, 'utf8');
  const after = change(before);
  assert.notEqual(after, before, `the edit of ${file} changed nothing`);
  fs.writeFileSync(p, after);
}

async function problemsOf(repo: string): Promise<(Problem & { model: string })[]> {
  const report = await verifyRepository(repo);
  const problems = report.models.flatMap((m) => m.problems.map((p) => ({ model: m.name, ...p })));
  assert.equal(report.passed, problems.length === 0);
  return problems;
}

test('a repository tdeploy wrote verifies clean', async () => {
  const report = await verifyRepository(await pipelineRepo());
  assert.equal(report.passed, true);
  assert.deepEqual(report.models, [{ name: 'encoder', problems: [] }, { name: 'encoder_pipeline', problems: [] }, { name: 'encoder_tokenize', problems: [] }]);
  // The newest release's Python version is not in the table: the tokenizer's model.py is not claimed parsed.
  assert.equal(report.triton.release, '26.08');
  assert.deepEqual(report.triton.notChecked.map((u) => u.field), ['python']);
});

test('planted: a tensor name the model does not have', async () => {
  const repo = await pipelineRepo();
  edit(repo, 'encoder/config.pbtxt', (t) => t.replace('name: "attention_mask"', 'name: "attn_mask"'));
  const problems = await problemsOf(repo);
  assert.deepEqual(problems.filter((p) => p.file === 'encoder/1/model.onnx'), [
    { model: 'encoder', file: 'encoder/1/model.onnx', field: 'input[1].name', message: "'attn_mask' is not an input of the model (its inputs: input_ids, attention_mask)" },
    { model: 'encoder', file: 'encoder/1/model.onnx', field: 'input', message: "the model's input 'attention_mask' [batch, seq] is missing from the config" },
  ]);
  // The ensemble still maps the old name: that is reported on the ensemble.
  assert.ok(problems.some((p) => p.model === 'encoder_pipeline' && p.field === 'ensemble_scheduling.step[1].input_map' && p.message === "input 'attn_mask' of model 'encoder' is not mapped"));
});

test('planted: a wrong data type and wrong dims', async () => {
  const repo = await pipelineRepo();
  edit(repo, 'encoder/config.pbtxt', (t) => t.replace(/(name: "logits"\n\s+data_type: )TYPE_FP32(\n\s+dims: )4/, '$1TYPE_FP16$25'));
  const problems = await problemsOf(repo);
  const onModel = problems.filter((p) => p.model === 'encoder');
  assert.deepEqual(onModel, [
    { model: 'encoder', file: 'encoder/1/model.onnx', field: 'output[0].data_type', message: "'logits' is TYPE_FP16 in the config but float32 (TYPE_FP32) in the model" },
    { model: 'encoder', file: 'encoder/1/model.onnx', field: 'output[0].dims', message: "'logits': dims [batch, 5] do not fit the model's shape [batch, 4]" },
  ]);
  assert.ok(problems.some((p) => p.model === 'encoder_pipeline' && /ensemble tensor 'logits' is TYPE_FP16 at model 'encoder' output 'logits' but TYPE_FP32 at ensemble output 'logits'/.test(p.message)));
});

test('planted: a missing version folder and a missing model file', async () => {
  const repo = await pipelineRepo();
  fs.rmSync(path.join(repo, 'encoder', '1'), { recursive: true });
  fs.rmSync(path.join(repo, 'encoder_tokenize', '1', 'model.py'));
  fs.mkdirSync(path.join(repo, 'encoder', '01'));
  assert.deepEqual(await problemsOf(repo), [
    { model: 'encoder', file: 'encoder/01/', field: '', message: "Triton ignores '01': version folders are numbers without a leading 0" },
    { model: 'encoder', file: 'encoder/', field: '', message: 'no version folder (e.g. 1/): Triton will not load the model' },
    { model: 'encoder_tokenize', file: 'encoder_tokenize/1/model.py', field: 'backend', message: 'missing: python models load model.py from each version folder' },
  ]);
});

test('planted: an ensemble step calling a model that is not in the repository', async () => {
  const repo = await pipelineRepo();
  edit(repo, 'encoder_pipeline/config.pbtxt', (t) => t.replace('model_name: "encoder"', 'model_name: "encoder_v2"'));
  assert.deepEqual(await problemsOf(repo), [
    { model: 'encoder_pipeline', file: 'encoder_pipeline/config.pbtxt', field: 'ensemble_scheduling.step[1].model_name', message: "model 'encoder_v2' is not in the repository" },
  ]);
});

test('planted: an unknown field, named with its line', async () => {
  const repo = await pipelineRepo();
  edit(repo, 'encoder_tokenize/config.pbtxt', (t) => t.replace('backend: "python"', 'backend: "python"\nmax_batch: 8'));
  const problems = await problemsOf(repo);
  assert.deepEqual(problems[0], {
    model: 'encoder_tokenize', file: 'encoder_tokenize/config.pbtxt', field: 'max_batch',
    message: 'line 3: unknown field "max_batch" for message inference.ModelConfig',
  });
  // A config that does not parse cannot be checked further; the ensemble that uses it is still checked.
  assert.equal(problems.length, 1);
});

test('planted: ensemble wiring: an unmapped input, a tensor produced twice, a step that never runs', async () => {
  const repo = await pipelineRepo();
  edit(repo, 'encoder_pipeline/config.pbtxt', (t) => t
    .replace(/input_map: \{\n\s+key: "attention_mask"\n\s+value: "attention_mask"\n\s+\}\n/, '')
    .replace('key: "hidden_states"\n      value: "hidden_states"', 'key: "hidden_states"\n      value: "logits"'));
  const fields = (await problemsOf(repo)).map((p) => `${p.field}: ${p.message}`);
  assert.deepEqual(fields, [
    'ensemble_scheduling.step[1].output_map["hidden_states"]: ensemble tensor \'logits\' is already produced by step 1',
    'ensemble_scheduling.step[1].output_map["hidden_states"]: ensemble tensor \'logits\' has shape [-1, -1, 64] at model \'encoder\' output \'hidden_states\' but [-1, 4] at ensemble output \'logits\'',
    "ensemble_scheduling.step[1].input_map: input 'attention_mask' of model 'encoder' is not mapped",
    "output[1]: ensemble output 'hidden_states' is not produced by any step",
    'ensemble_scheduling.step[0].output_map["attention_mask"]: ensemble tensor \'attention_mask\' is produced but never used',
  ]);
});

/** A model whose output is only [batch] (dims [1] reshaped to []), with its tokenizer and ensemble. */
async function scoreRepo(): Promise<string> {
  const dir = tempDir();
  const model = identityModel(dir, 'score.onnx', { name: 'input_ids', dtype: 'int64', shape: ['batch', 'seq'] }, { name: 'score', dtype: 'int64', shape: ['batch'] });
  const repo = path.join(dir, 'models');
  await packageModel(model, PackageOptions.parse({ output: repo, maxBatchSize: 8, tokenizer: fixture('tokenizer') }));
  return repo;
}

test('an output reshaped to [batch] reaches the ensemble at its dims: the ensemble output has no reshape', async () => {
  const repo = await scoreRepo();
  const model = await readConfig(path.join(repo, 'score', 'config.pbtxt'));
  assert.deepEqual([model.output[0].dims, model.output[0].reshape?.shape], [[1n], []]);
  const ensemble = await readConfig(path.join(repo, 'score_pipeline', 'config.pbtxt'));
  assert.deepEqual([ensemble.output[0].name, ensemble.output[0].dims, ensemble.output[0].reshape], ['score', [1n], undefined]);
  assert.deepEqual(await problemsOf(repo), []);
});

test('planted: ensemble tensor shapes Triton finds inconsistent (a reshaped ensemble output, other tokenizer dims)', async () => {
  const repo = await scoreRepo();
  edit(repo, 'score_pipeline/config.pbtxt', (t) => t.replace(/(name: "score"\n\s+data_type: TYPE_INT64\n\s+dims: 1\n)/, '$1  reshape: {}\n'));
  edit(repo, 'score_tokenize/config.pbtxt', (t) => t.replace(/(name: "input_ids"\n\s+data_type: TYPE_INT64\n\s+)dims: -1/, '$1dims: 5\n  dims: 2'));
  assert.deepEqual((await problemsOf(repo)).map((p) => `${p.field}: ${p.message}`), [
    'ensemble_scheduling.step[1].input_map["input_ids"]: ensemble tensor \'input_ids\' has shape [-1, -1] at model \'score\' input \'input_ids\' but [-1, 5, 2] at model \'score_tokenize\' output \'input_ids\'',
    'ensemble_scheduling.step[1].output_map["score"]: ensemble tensor \'score\' has shape [-1, 1] at model \'score\' output \'score\' but [-1] at ensemble output \'score\'',
  ]);
});

test('a model that does not batch may serve a batching ensemble when its full shapes agree', async () => {
  const repo = await scoreRepo();
  edit(repo, 'score/config.pbtxt', (t) => t
    .replace('max_batch_size: 8', 'max_batch_size: 0')
    .replace('dims: -1', 'dims: -1\n  dims: -1')
    .replace('dims: 1\n  reshape: {}', 'dims: -1'));
  assert.deepEqual(await problemsOf(repo), []);
  edit(repo, 'score/config.pbtxt', (t) => t.replace('max_batch_size: 0', 'max_batch_size: 4').replace('dims: -1\n  dims: -1', 'dims: -1').replace(/(name: "score"\n\s+data_type: TYPE_INT64\n\s+)dims: -1/, '$1dims: 1\n  reshape: {}'));
  assert.deepEqual((await problemsOf(repo)).map((p) => `${p.field}: ${p.message}`), [
    "ensemble_scheduling.step[1].model_name: the ensemble's max_batch_size 8 exceeds model 'score''s 4",
  ]);
});

test('semantics Triton checks on its own: folder name, batching vs the model, ensemble restrictions', async () => {
  const repo = await pipelineRepo();
  edit(repo, 'encoder/config.pbtxt', (t) => t
    .replace('name: "encoder"', 'name: "bert"')
    .replace('name: "logits"', 'name: "logits"\n  label_filename: "labels.txt"')
    .concat('version_policy { specific { versions: [1, 3] } }\n'));
  edit(repo, 'encoder_pipeline/config.pbtxt', (t) => `${t}instance_group { kind: KIND_CPU }\n`);
  const dir = path.join(repo, 'fixed');
  fs.mkdirSync(path.join(dir, '1'), { recursive: true });
  identityModel(path.join(dir, '1'), 'model.onnx', { name: 'x', dtype: 'float32', shape: [1, 3] }, { name: 'y', dtype: 'float32', shape: [1, 3] });
  fs.writeFileSync(path.join(dir, 'config.pbtxt'), [
    'platform: "onnxruntime_onnx"', 'max_batch_size: 4',
    'input { name: "x" data_type: TYPE_FP32 dims: [ 3 ] }', 'output { name: "y" data_type: TYPE_FP32 dims: [ 3 ] }',
    'dynamic_batching { preferred_batch_size: [ 8 ] }',
  ].join('\n'));
  assert.deepEqual((await problemsOf(repo)).map((p) => [p.model, p.field, p.message]), [
    ['encoder', 'name', "is 'bert' but the folder is 'encoder'; Triton requires them to be equal"],
    ['encoder', 'version_policy.specific.versions', 'version 3 has no folder'],
    ['encoder', 'output[0].label_filename', 'encoder/labels.txt is missing'],
    ['encoder_pipeline', 'instance_group', 'an ensemble cannot have instance groups'],
    ['fixed', 'dynamic_batching.preferred_batch_size', '8 is not between 1 and max_batch_size 4'],
    ['fixed', 'input[0].dims', "'x': max_batch_size 4 needs a dynamic leading (batch) dim, but the model's shape is [1, 3]"],
    ['fixed', 'output[0].dims', "'y': max_batch_size 4 needs a dynamic leading (batch) dim, but the model's shape is [1, 3]"],
  ]);
});

test('planted: a data type the backend does not serve (BF16 in an ONNX Runtime config)', async () => {
  const repo = path.join(tempDir(), 'models');
  const dir = path.join(repo, 'half');
  fs.mkdirSync(path.join(dir, '1'), { recursive: true });
  identityModel(path.join(dir, '1'), 'model.onnx', { name: 'x', dtype: 'bfloat16', shape: ['n', 3] }, { name: 'y', dtype: 'bfloat16', shape: ['n', 3] });
  fs.writeFileSync(path.join(dir, 'config.pbtxt'), [
    'backend: "onnxruntime"', 'max_batch_size: 4',
    'input { name: "x" data_type: TYPE_BF16 dims: [ 3 ] }', 'output { name: "y" data_type: TYPE_BF16 dims: [ 3 ] }',
  ].join('\n'));
  assert.deepEqual(await problemsOf(repo), [
    { model: 'half', file: 'half/config.pbtxt', field: 'input[0].data_type', message: "'x' is TYPE_BF16, which Triton's onnxruntime backend does not serve" },
    { model: 'half', file: 'half/config.pbtxt', field: 'output[0].data_type', message: "'y' is TYPE_BF16, which Triton's onnxruntime backend does not serve" },
  ]);
});

test('the real tokenizer ensemble, laid out as a repository without its other models', async () => {
  const repo = path.join(tempDir(), 'models');
  for (const [name, file] of [['ensemble', '03a-ensemble-python-tokenizer.ensemble.config.pbtxt'], ['preprocessing', '03b-ensemble-python-tokenizer.preprocessing.config.pbtxt']]) {
    fs.mkdirSync(path.join(repo, name, '1'), { recursive: true });
    fs.copyFileSync(shared('triton-examples', file), path.join(repo, name, 'config.pbtxt'));
  }
  fs.writeFileSync(path.join(repo, 'preprocessing', '1', 'model.py'), '');
  assert.deepEqual((await problemsOf(repo)).map((p) => `${p.field}: ${p.message}`), [
    "ensemble_scheduling.step[1].model_name: model 'tensorrt_llm' is not in the repository",
    "ensemble_scheduling.step[2].model_name: model 'postprocessing' is not in the repository",
  ]);
});

test('a path that is not a repository is a usage error; an empty one is a failed check', async () => {
  const dir = tempDir();
  await assert.rejects(verifyRepository(path.join(dir, 'none')), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /repository not found/.test(e.message));
  fs.writeFileSync(path.join(dir, 'file'), '');
  await assert.rejects(verifyRepository(path.join(dir, 'file')), /is not a folder/);
  fs.mkdirSync(path.join(dir, 'empty'));
  const empty = await verifyRepository(path.join(dir, 'empty'));
  assert.equal(empty.passed, false);
  assert.deepEqual(empty.models, [{ name: '.', problems: [{ file: '.', field: '', message: 'the repository holds no model folders' }] }]);
});
