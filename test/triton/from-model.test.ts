import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../../src/errors.js';
import { loadModel } from '../../src/onnx/model.js';
import { type ModelSignature, signature } from '../../src/onnx/signature.js';
import { type Labels, batchBlocker, modelConfig } from '../../src/triton/from-model.js';
import { DataType, ModelInstanceGroup_Kind } from '../../src/triton/gen/model_config_pb.js';
import { type PackageOptionsInput, ServingOptions } from '../../src/triton/options.js';
import { type SourceKind, sourceKind } from '../../src/triton/platforms.js';
import { configText, parseConfig } from '../../src/triton/text.js';
import { fixture } from '../helpers.js';

const onnx = sourceKind('m.onnx')!;
const plan = sourceKind('m.plan')!;
const encoder = async () => signature((await loadModel(fixture('encoder.onnx'))).proto);
const convnet = async () => signature((await loadModel(fixture('convnet.onnx'))).proto);

function derive(sig: ModelSignature, options: Partial<PackageOptionsInput> = {}, kind: SourceKind = onnx, labels?: Labels) {
  const derived = modelConfig('m', kind, sig, ServingOptions.parse(options), labels);
  // Every config is checked through its text: what Triton reads is what the test asserts.
  return { ...derived, config: parseConfig(configText(derived.config)) };
}

const rows = (tensors: { name: string; dataType: DataType; dims: bigint[] }[]) => tensors.map((t) => [t.name, DataType[t.dataType], t.dims.map(Number)]);

test('the encoder: names, TYPE_* and dims from its signature, batch dim dropped with the default max_batch_size 4', async () => {
  const { config, notes } = derive(await encoder());
  assert.equal(config.name, 'm');
  assert.equal(config.platform, 'onnxruntime_onnx');
  assert.equal(config.maxBatchSize, 4);
  assert.deepEqual(rows(config.input), [['input_ids', 'TYPE_INT64', [-1]], ['attention_mask', 'TYPE_INT64', [-1]]]);
  assert.deepEqual(rows(config.output), [['logits', 'TYPE_FP32', [4]], ['hidden_states', 'TYPE_FP32', [-1, 64]]]);
  assert.equal(config.schedulingChoice.case, undefined);
  assert.equal(config.instanceGroup.length, 0);
  assert.deepEqual(notes, ["max_batch_size 4, Triton's default for a model that batches (set it with `maxBatchSize`)"]);
});

test('max_batch_size 0 keeps full shapes; the default rises to the largest preferred batch size', async () => {
  const sig = await convnet();
  const unbatched = derive(sig, { maxBatchSize: '0' }).config;
  assert.deepEqual(rows(unbatched.input), [['image', 'TYPE_FP32', [-1, 3, 32, 32]]]);
  assert.deepEqual(rows(unbatched.output), [['logits', 'TYPE_FP32', [-1, 10]]]);
  const batched = derive(sig, { preferredBatchSize: '4,16' }).config;
  assert.equal(batched.maxBatchSize, 16);
  assert.deepEqual(batched.schedulingChoice.case === 'dynamicBatching' && batched.schedulingChoice.value.preferredBatchSize, [4, 16]);
});

test('a fixed leading dim: no batching by default, and --max-batch-size N > 0 is refused naming the tensor', () => {
  const sig: ModelSignature = {
    inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 8] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [1, 8] }],
  };
  assert.equal(batchBlocker(sig), "'y' has a fixed leading dimension 1 ([1, 8])");
  const { config, notes } = derive(sig);
  assert.equal(config.maxBatchSize, 0);
  assert.deepEqual(rows(config.output), [['y', 'TYPE_FP32', [1, 8]]]);
  assert.deepEqual(notes, ["max_batch_size 0 (no batching): 'y' has a fixed leading dimension 1 ([1, 8])"]);
  assert.throws(() => derive(sig, { maxBatchSize: 8 }), (e: unknown) => e instanceof InputError && /`maxBatchSize: 8` needs .* but 'y' has a fixed leading dimension 1/.test(e.message));
});

test('a [batch] tensor becomes dims [1] reshaped to a scalar; a true scalar needs batching', () => {
  const sig: ModelSignature = { inputs: [{ name: 'len', dtype: 'int32', shape: ['batch'] }], outputs: [{ name: 'y', dtype: 'float16', shape: ['batch', 2] }] };
  const { config } = derive(sig);
  assert.deepEqual(rows(config.input), [['len', 'TYPE_INT32', [1]]]);
  assert.deepEqual(config.input[0].reshape?.shape, []);
  assert.deepEqual(rows(config.output), [['y', 'TYPE_FP16', [2]]]);
  const scalar: ModelSignature = { inputs: [{ name: 'a', dtype: 'float32', shape: [] }], outputs: [{ name: 'b', dtype: 'float32', shape: [] }] };
  assert.throws(() => derive(scalar), /'a' is a scalar; Triton serves scalars only in batches/);
});

test('types Triton lacks and non-tensor values are refused by name', () => {
  const io = (dtype: 'float8e4m3fn' | 'float32', container?: 'sequence') => ({ inputs: [{ name: 'q', dtype, shape: ['n'], container }], outputs: [{ name: 'o', dtype: 'float32' as const, shape: ['n'] }] });
  assert.throws(() => derive(io('float8e4m3fn')), /'q' is float8e4m3fn, which Triton has no data type for/);
  assert.throws(() => derive(io('float32', 'sequence')), /'q' is a sequence of float32; Triton serves plain tensors only/);
});

test('each backend gets only the types it serves: BF16 is TensorRT\'s, FP64 and STRING are ONNX Runtime\'s', () => {
  const io = (dtype: 'bfloat16' | 'float64' | 'string' | 'bool' | 'float16') => ({ inputs: [{ name: 'x', dtype, shape: ['n'] }], outputs: [{ name: 'y', dtype: 'float32' as const, shape: ['n'] }] });
  assert.throws(() => derive(io('bfloat16')), /'x' is bfloat16: Triton's onnxruntime backend has no TYPE_BF16$/);
  assert.equal(derive(io('bfloat16'), {}, plan).config.input[0].dataType, DataType.TYPE_BF16);
  assert.throws(() => derive(io('float64'), {}, plan), /'x' is float64: Triton's tensorrt backend has no TYPE_FP64$/);
  assert.throws(() => derive(io('string'), {}, plan), /'x' is string: Triton's tensorrt backend has no TYPE_STRING$/);
  assert.deepEqual((['float64', 'string', 'bool', 'float16'] as const).map((d) => DataType[derive(io(d)).config.input[0].dataType]), ['TYPE_FP64', 'TYPE_STRING', 'TYPE_BOOL', 'TYPE_FP16']);
  assert.deepEqual((['bool', 'float16'] as const).map((d) => DataType[derive(io(d), {}, plan).config.input[0].dataType]), ['TYPE_BOOL', 'TYPE_FP16']);
});

test('serving options: dynamic batcher, instances, the TensorRT accelerator and a version policy', async () => {
  const { config } = derive(await encoder(), {
    maxBatchSize: '8', dynamicBatching: true, preferredBatchSize: '4,8', maxQueueDelayUs: '500',
    instances: '2', kind: 'gpu', trtAccelerator: 'fp16', versionPolicy: 'specific:1,3',
  });
  assert.equal(config.maxBatchSize, 8);
  assert.equal(config.schedulingChoice.case, 'dynamicBatching');
  assert.deepEqual(config.schedulingChoice.value.preferredBatchSize, [4, 8]);
  assert.equal(config.schedulingChoice.value.maxQueueDelayMicroseconds, 500n);
  assert.deepEqual(config.instanceGroup.map((g) => [g.count, g.kind]), [[2, ModelInstanceGroup_Kind.GPU]]);
  const accelerator = config.optimization?.executionAccelerators?.gpuExecutionAccelerator;
  assert.deepEqual(accelerator?.map((a) => [a.name, a.parameters]), [['tensorrt', { precision_mode: 'FP16' }]]);
  assert.equal(config.versionPolicy?.policyChoice.case, 'specific');
  assert.deepEqual(config.versionPolicy?.policyChoice.value, { $typeName: 'inference.ModelVersionPolicy.Specific', versions: [1n, 3n] });
  assert.deepEqual(derive(await encoder(), { versionPolicy: 'latest:2' }).config.versionPolicy?.policyChoice.value?.$typeName, 'inference.ModelVersionPolicy.Latest');
  assert.equal(derive(await encoder(), { versionPolicy: 'all' }).config.versionPolicy?.policyChoice.case, 'all');
  assert.throws(() => ServingOptions.parse({ versionPolicy: 'newest' }), /'newest' is not latest:N, all or specific:1,3/);
});

test('serving options that contradict each other or the model are refused', async () => {
  const sig = await encoder();
  const refused: [Partial<PackageOptionsInput>, RegExp, SourceKind?][] = [
    [{ maxBatchSize: 0, dynamicBatching: true }, /dynamic batching needs max_batch_size > 0/],
    [{ maxBatchSize: 4, preferredBatchSize: '2,8' }, /`preferredBatchSize: 8` is larger than max_batch_size 4/],
    [{ kind: 'cpu', trtAccelerator: 'fp16' }, /`trtAccelerator` runs on GPU instances/],
    [{ trtAccelerator: 'fp32' }, /a tensorrt_plan model is already an engine/, plan],
    [{ kind: 'cpu' }, /`kind: cpu`: tensorrt_plan models run on GPUs only/, plan],
    [{ warmupBatch: 8 }, /`warmupBatch: 8` is larger than max_batch_size 4/],
    [{ maxBatchSize: 0, warmupBatch: 2 }, /`warmupBatch: 2`: without batching/],
    [{ shapes: { shapes: {}, dims: { seq: [16] } } }, /`dims` and `shapes` set the shapes of the warm-up request: give `warmupBatch: N` too/],
  ];
  for (const [options, message, kind] of refused) assert.throws(() => derive(sig, options, kind), message, JSON.stringify(options));
});

test('warm-up: random floats, zeros for token ids (random bytes are out of any vocabulary), symbolic dims from --dim', async () => {
  const encoderWarmup = derive(await encoder(), { warmupBatch: 2, shapes: { shapes: {}, dims: { seq: [128] } } });
  const [sample] = encoderWarmup.config.modelWarmup;
  assert.equal(sample.name, 'warmup_batch_2');
  assert.equal(sample.batchSize, 2);
  assert.equal(sample.count, 1);
  assert.deepEqual(Object.entries(sample.inputs).map(([k, v]) => [k, DataType[v.dataType], v.dims.map(Number), v.inputDataType.case]), [
    ['input_ids', 'TYPE_INT64', [128], 'zeroData'],
    ['attention_mask', 'TYPE_INT64', [128], 'zeroData'],
  ]);
  assert.deepEqual(encoderWarmup.notes.filter((n) => n.startsWith('warm-up')), []);

  const defaulted = derive(await encoder(), { warmupBatch: 1 });
  assert.deepEqual(defaulted.config.modelWarmup[0].inputs.input_ids.dims, [16n]);
  assert.ok(defaulted.notes.includes('warm-up shapes take seq=16 (set them with `dims`)'));

  const image = derive(await convnet(), { warmupBatch: 4 }).config.modelWarmup[0].inputs.image;
  assert.deepEqual([image.dims.map(Number), image.inputDataType.case], [[3, 32, 32], 'randomData']);
});

test('a label file attaches to the one classifier output, and must have one line per class', async () => {
  const sig = await encoder();
  const { config } = derive(sig, {}, onnx, { fileName: 'labels.txt', lines: 4 });
  assert.deepEqual(config.output.map((o) => o.labelFilename), ['labels.txt', '']);
  assert.throws(() => derive(sig, {}, onnx, { fileName: 'labels.txt', lines: 3 }), /labels\.txt` has 3 lines but output 'logits' has 4 classes/);
  assert.throws(() => derive(sig, {}, onnx, { output: 'hidden_states', fileName: 'l.txt', lines: 64 }), /output 'hidden_states' \[batch, seq, 64\] is not \[batch, classes\]/);
  const two: ModelSignature = { inputs: [{ name: 'x', dtype: 'float32', shape: ['n', 3] }], outputs: [{ name: 'a', dtype: 'float32', shape: ['n', 5] }, { name: 'b', dtype: 'float32', shape: ['n', 5] }] };
  assert.throws(() => derive(two, {}, onnx, { fileName: 'l.txt', lines: 5 }), /several outputs could be classifiers \(a, b\)/);
  assert.deepEqual(derive(two, {}, onnx, { output: 'b', fileName: 'l.txt', lines: 5 }).config.output.map((o) => o.labelFilename), ['', 'l.txt']);
});
