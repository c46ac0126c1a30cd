import { toJsonString } from '@bufbuild/protobuf';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { openSession } from '../../src/runtime/session.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { DataType, type ModelConfig, ModelConfigSchema } from '../../src/triton/gen/model_config_pb.js';
import { PackageOptions, type PackageOptionsInput } from '../../src/triton/options.js';
import { packageModel } from '../../src/triton/package.js';
import { readConfig } from '../../src/triton/text.js';
import { readTokenizer } from '../../src/triton/tokenizer.js';
import { fixture, pythonWith, repoRoot, skipWithoutPython, tempDir } from '../helpers.js';
import { identityModel } from './models.js';

const pack = (model: string, options: PackageOptionsInput) => packageModel(model, PackageOptions.parse(options));

function writeTokenizer(dir: string, edit: (json: Record<string, unknown>) => void): string {
  const json = JSON.parse(fs.readFileSync(fixture('tokenizer', 'tokenizer.json'), 'utf8'));
  edit(json);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
  return dir;
}

test('the fixture tokenizer: [PAD] is id 0 and tokenizer.json truncates at 128', async () => {
  const source = await readTokenizer(fixture('tokenizer'));
  assert.equal(source.padId, 0);
  assert.equal(source.padTypeId, 0);
  assert.deepEqual(source.maxLength, { value: 128, from: 'tokenizer.json truncation' });
  assert.deepEqual(source.notes, []);
});

test('padding id: tokenizer.json padding first, then a pad token in the vocabulary, else 0 with a note', async () => {
  const dir = tempDir();
  const configured = writeTokenizer(path.join(dir, 'a'), (j) => { j.padding = { pad_id: 7, pad_type_id: 1, pad_token: '[MASK]' }; });
  assert.deepEqual([(await readTokenizer(configured)).padId, (await readTokenizer(configured)).padTypeId], [7, 1]);
  const renamed = writeTokenizer(path.join(dir, 'b'), (j) => {
    const vocab = (j.model as { vocab: Record<string, number> }).vocab;
    vocab['<pad>'] = vocab['[PAD]'];
    delete vocab['[PAD]'];
    j.added_tokens = [];
    j.truncation = null;
  });
  const b = await readTokenizer(renamed);
  assert.deepEqual([b.padId, b.maxLength], [0, undefined]);
  const none = writeTokenizer(path.join(dir, 'c'), (j) => {
    (j.model as { vocab: Record<string, number> }).vocab = { '[UNK]': 0, hello: 1 };
    j.added_tokens = [];
  });
  assert.deepEqual((await readTokenizer(none)).notes, ['the tokenizer has no padding token: padding with id 0']);
  fs.writeFileSync(path.join(dir, 'c', 'tokenizer_config.json'), JSON.stringify({ model_max_length: 1e30 }));
  const d = writeTokenizer(path.join(dir, 'd'), (j) => { j.truncation = null; });
  fs.writeFileSync(path.join(d, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 512 }));
  assert.deepEqual((await readTokenizer(d)).maxLength, { value: 512, from: 'tokenizer_config.json model_max_length' });
});

test('a folder that is not a Hugging Face tokenizer is refused', async () => {
  const dir = tempDir();
  await assert.rejects(readTokenizer(dir), /has no tokenizer.json/);
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{"model": ');
  await assert.rejects(readTokenizer(dir), /tokenizer\.json: not valid JSON/);
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{"version": "1.0"}');
  await assert.rejects(readTokenizer(dir), /is not a Hugging Face tokenizer \(model: /);
  await assert.rejects(readTokenizer(path.join(dir, 'tokenizer.json')), /is not a folder/);
  const folder = tempDir();
  fs.mkdirSync(path.join(folder, 'tokenizer.json'));
  await assert.rejects(readTokenizer(folder), (e: Error & { exitCode?: number }) =>
    e.exitCode === 2 && e.message === `tokenizer file is a directory, not a file: ${path.join(folder, 'tokenizer.json')}`);
});

test('tokenizer step and ensemble: the model\'s integer inputs exactly, wired TEXT -> tokenizer -> model', async () => {
  const repo = path.join(tempDir(), 'repo');
  const result = await pack(fixture('encoder.onnx'), { output: repo, maxBatchSize: 8, tokenizer: fixture('tokenizer') });
  assert.deepEqual(result.models.map((m) => [m.name, m.role, m.platform]), [
    ['encoder', 'model', 'onnxruntime_onnx'], ['encoder_tokenize', 'tokenizer', 'python'], ['encoder_pipeline', 'ensemble', 'ensemble'],
  ]);
  assert.ok(result.notes.includes('the tokenizer truncates to 128 tokens (tokenizer.json truncation; set it with `maxLength`)'));
  const model = await readConfig(path.join(repo, 'encoder', 'config.pbtxt'));
  const tokenizer = await readConfig(path.join(repo, 'encoder_tokenize', 'config.pbtxt'));
  assert.equal(tokenizer.backend, 'python');
  assert.equal(tokenizer.platform, '');
  assert.equal(tokenizer.maxBatchSize, 8);
  assert.deepEqual(tokenizer.input.map((t) => [t.name, DataType[t.dataType], t.dims]), [['TEXT', 'TYPE_STRING', [1n]]]);
  assert.deepEqual(tokenizer.output.map((t) => [t.name, t.dataType, t.dims]), model.input.map((t) => [t.name, t.dataType, t.dims]));
  assert.deepEqual(Object.fromEntries(Object.entries(tokenizer.parameters).map(([k, v]) => [k, v.stringValue])), {
    tokenizer_file: 'tokenizer.json', padding: 'longest', max_length: '128', pad_id: '0', pad_type_id: '0',
    'source.input_ids': 'ids', 'source.attention_mask': 'attention_mask',
  });
  const ensemble = await readConfig(path.join(repo, 'encoder_pipeline', 'config.pbtxt'));
  assert.equal(ensemble.platform, 'ensemble');
  assert.deepEqual(ensemble.output.map((t) => [t.name, t.dims]), model.output.map((t) => [t.name, t.dims]));
  assert.equal(ensemble.schedulingChoice.case, 'ensembleScheduling');
  assert.deepEqual(ensemble.schedulingChoice.value.step.map((s) => [s.modelName, s.modelVersion, s.inputMap, s.outputMap]), [
    ['encoder_tokenize', -1n, { TEXT: 'TEXT' }, { input_ids: 'input_ids', attention_mask: 'attention_mask' }],
    ['encoder', -1n, { input_ids: 'input_ids', attention_mask: 'attention_mask' }, { logits: 'logits', hidden_states: 'hidden_states' }],
  ]);
  assert.deepEqual(fs.readdirSync(path.join(repo, 'encoder_tokenize', '1')).sort(), ['model.py', 'tokenizer.json']);
  assert.deepEqual(fs.readdirSync(path.join(repo, 'encoder_pipeline', '1')), []);
});

test('a fixed sequence length is padded to exactly; inputs the tokenizer cannot feed are refused', async () => {
  const dir = tempDir();
  const fixed = identityModel(dir, 'fixed.onnx', { name: 'input_ids', dtype: 'int32', shape: ['batch', 12] }, { name: 'out', dtype: 'int32', shape: ['batch', 12] });
  await pack(fixed, { output: path.join(dir, 'repo'), tokenizer: fixture('tokenizer') });
  const params = (await readConfig(path.join(dir, 'repo', 'fixed_tokenize', 'config.pbtxt'))).parameters;
  assert.deepEqual([params.padding.stringValue, params.max_length.stringValue], ['max_length', '12']);
  await assert.rejects(pack(fixed, { output: path.join(dir, 'r2'), tokenizer: fixture('tokenizer'), maxLength: 16 }), /`maxLength: 16`: the model takes exactly 12 tokens/);
  const odd = identityModel(dir, 'odd.onnx', { name: 'pixels', dtype: 'int64', shape: ['batch', 4] }, { name: 'out', dtype: 'int64', shape: ['batch', 4] });
  await assert.rejects(pack(odd, { output: path.join(dir, 'r3'), tokenizer: fixture('tokenizer') }), /cannot tell which tokenizer output feeds the model's input 'pixels'/);
  const float = identityModel(dir, 'float.onnx', { name: 'input_ids', dtype: 'float32', shape: ['batch', 4] }, { name: 'out', dtype: 'float32', shape: ['batch', 4] });
  await assert.rejects(pack(float, { output: path.join(dir, 'r4'), tokenizer: fixture('tokenizer') }), /input 'input_ids' is float32; token inputs are integers/);
  await assert.rejects(pack(fixture('encoder.onnx'), { output: path.join(dir, 'r5'), maxLength: 16 }), /`maxLength` applies to the tokenizer step/);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['fixed.onnx', 'float.onnx', 'odd.onnx', 'repo']);
});

test('the written model.py compiles', { skip: skipWithoutPython(['py_compile']) }, () => {
  const repo = path.join(tempDir(), 'repo');
  return pack(fixture('encoder.onnx'), { output: repo, tokenizer: fixture('tokenizer') }).then(() => {
    execFileSync(pythonWith(['py_compile'])!, ['-m', 'py_compile', path.join(repo, 'encoder_tokenize', '1', 'model.py')]);
  });
});

/**
 * Runs the written model.py as Triton's Python backend would: initialize() with the config as
 * JSON (proto field names, as Triton passes it), then execute() on one request per text batch.
 * triton_python_backend_utils is a stub; `tokenizers` is the real package when installed.
 */
function runTokenizer(repo: string, name: string, config: ModelConfig, batches: string[][]): { name: string; dtype: string; shape: number[]; data: number[][] }[][] {
  const python = pythonWith(['numpy'])!;
  let hasTokenizers = true;
  try {
    execFileSync(python, ['-c', 'import tokenizers'], { stdio: 'ignore' });
  } catch {
    hasTokenizers = false;
  }
  const paths = [path.join(repoRoot, 'test', 'triton', 'python', 'backend'), ...(hasTokenizers ? [] : [path.join(repoRoot, 'test', 'triton', 'python', 'tokenizers_stub')])];
  const args = { model_config: toJsonString(ModelConfigSchema, config, { useProtoFieldName: true }), model_repository: path.join(repo, name), model_version: '1' };
  const driver = `
import importlib.util, json, sys
import numpy as np
import triton_python_backend_utils as pb_utils
spec = importlib.util.spec_from_file_location("model", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
model = module.TritonPythonModel()
model.initialize(json.loads(sys.argv[2]))
requests = [pb_utils.InferenceRequest([pb_utils.Tensor("TEXT", np.array([[t.encode()] for t in batch], dtype=object))]) for batch in json.loads(sys.argv[3])]
print(json.dumps([[{"name": t.name(), "dtype": str(t.as_numpy().dtype), "shape": list(t.as_numpy().shape), "data": t.as_numpy().tolist()} for t in r.output_tensors()] for r in model.execute(requests)]))
`;
  const out = execFileSync(python, ['-c', driver, path.join(repo, name, '1', 'model.py'), JSON.stringify(args), JSON.stringify(batches)], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: paths.join(path.delimiter), PYTHONDONTWRITEBYTECODE: '1' },
  });
  return JSON.parse(out);
}

test('model.py tokenizes, pads to the longest text and emits the encoder\'s int64 inputs, which the encoder runs on', { skip: skipWithoutPython(['numpy']) }, async () => {
  const repo = path.join(tempDir(), 'repo');
  await pack(fixture('encoder.onnx'), { output: repo, tokenizer: fixture('tokenizer') });
  const config = await readConfig(path.join(repo, 'encoder_tokenize', 'config.pbtxt'));
  const [first, second] = runTokenizer(repo, 'encoder_tokenize', config, [['Hello world!', 'the quick brown fox jumps over the lazy dog.'], ['Triton serves']]);
  // [CLS]=2 hello=15 world=16 !=29 [SEP]=3, padded with [PAD]=0 to the longer text's 13 tokens.
  assert.deepEqual(first.map((t) => [t.name, t.dtype, t.shape]), [['input_ids', 'int64', [2, 13]], ['attention_mask', 'int64', [2, 13]]]);
  assert.deepEqual(first[0].data, [
    [2, 15, 16, 29, 3, 0, 0, 0, 0, 0, 0, 0, 0],
    [2, 5, 6, 7, 8, 9, 10, 12, 5, 13, 14, 27, 3],
  ]);
  assert.deepEqual(first[1].data, [[1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0], Array(13).fill(1)]);
  // Each request is padded on its own: "triton serve ##s".
  assert.deepEqual(second[0].data, [[2, 17, 18, 10, 3]]);

  const session = await openSession(fixture('encoder.onnx'));
  const feed = new Map<string, Tensor>(first.map((t) => [t.name, { dtype: 'int64', shape: t.shape, data: BigInt64Array.from(t.data.flat().map(BigInt)) }]));
  const outputs = await session.run(feed);
  await session.release();
  assert.deepEqual(outputs.get('logits')?.shape, [2, 4]);
  assert.deepEqual(outputs.get('hidden_states')?.shape, [2, 13, 64]);
  assert.ok([...(outputs.get('logits')!.data as Float32Array)].every(Number.isFinite));
});

test('model.py pads and truncates to a fixed sequence length in the model\'s own dtype', { skip: skipWithoutPython(['numpy']) }, async () => {
  const dir = tempDir();
  const model = identityModel(dir, 'fixed.onnx', { name: 'input_ids', dtype: 'int32', shape: ['batch', 6] }, { name: 'out', dtype: 'int32', shape: ['batch', 6] });
  await pack(model, { output: path.join(dir, 'repo'), tokenizer: fixture('tokenizer') });
  const config = await readConfig(path.join(dir, 'repo', 'fixed_tokenize', 'config.pbtxt'));
  const [[ids]] = runTokenizer(path.join(dir, 'repo'), 'fixed_tokenize', config, [['hello', 'the quick brown fox jumps']]);
  assert.deepEqual([ids.name, ids.dtype, ids.shape], ['input_ids', 'int32', [2, 6]]);
  // Truncation keeps [SEP]: 6 tokens are [CLS] + 4 word pieces + [SEP].
  assert.deepEqual(ids.data, [[2, 15, 3, 0, 0, 0], [2, 5, 6, 7, 8, 3]]);
});
