/**
 * A model's config.pbtxt derived from the model itself: tensor names, TYPE_* and dims from its
 * signature, and the serving options on top.
 */
import { create } from '@bufbuild/protobuf';
import { InputError } from '../errors.js';
import { type ModelSignature, type TensorInfo, formatShape } from '../onnx/signature.js';
import { resolveShapes } from '../runtime/shapes.js';
import { type Dtype, dtypeInfo } from '../tensor/dtype.js';
import {
  type ModelConfig, type ModelInput, type ModelOutput, type ModelVersionPolicy, type ModelWarmup,
  DataType, ModelConfigSchema, ModelDynamicBatchingSchema, ModelInputSchema, ModelInstanceGroupSchema,
  ModelInstanceGroup_Kind, ModelOptimizationPolicySchema, ModelOutputSchema, ModelTensorReshapeSchema,
  ModelVersionPolicySchema, ModelVersionPolicy_AllSchema, ModelVersionPolicy_LatestSchema,
  ModelVersionPolicy_SpecificSchema, ModelWarmupSchema, ModelWarmup_InputSchema,
} from './gen/model_config_pb.js';
import type { ServingOptions, VersionPolicy } from './options.js';
import type { SourceKind } from './platforms.js';
import { opt } from '../option-ref.js';

/** Triton's default max_batch_size when it auto-completes a config (tritonserver's backend config default-max-batch-size). */
const TRITON_DEFAULT_MAX_BATCH = 4;

export function tritonType(dtype: Dtype): DataType | undefined {
  const name = dtypeInfo(dtype).triton;
  return name === undefined ? undefined : DataType[name as keyof typeof DataType];
}

/** Why the model cannot batch (a tensor without a dynamic leading dim), or undefined when it can. */
export function batchBlocker(signature: ModelSignature): string | undefined {
  for (const t of [...signature.inputs, ...signature.outputs]) {
    if (!t.shape || t.shape.length === 0) return `'${t.name}' has no leading dimension (${formatShape(t.shape)})`;
    if (typeof t.shape[0] === 'number') return `'${t.name}' has a fixed leading dimension ${t.shape[0]} (${formatShape(t.shape)})`;
  }
  return undefined;
}

export interface Labels {
  /** the output the labels are for; undefined: the one classifier output */
  output?: string;
  /** the file's name in the model folder */
  fileName: string;
  lines: number;
}

export interface DerivedConfig {
  config: ModelConfig;
  notes: string[];
}

export function modelConfig(name: string, kind: SourceKind, signature: ModelSignature, serving: ServingOptions, labels?: Labels): DerivedConfig {
  const notes: string[] = [];
  const maxBatchSize = resolveMaxBatchSize(signature, serving, notes);
  const batched = maxBatchSize > 0;
  const config = create(ModelConfigSchema, {
    name,
    platform: kind.platform,
    maxBatchSize,
    input: signature.inputs.map((t) => create(ModelInputSchema, { name: t.name, dataType: tensorType(t, kind), ...tensorDims(t, batched) })),
    output: signature.outputs.map((t) => create(ModelOutputSchema, { name: t.name, dataType: tensorType(t, kind), ...tensorDims(t, batched) })),
  });
  if (labels) labelOutput(config.output, signature, labels).labelFilename = labels.fileName;
  applyScheduler(config, serving);
  applyInstances(config, kind, serving);
  if (serving.warmupBatch !== undefined) config.modelWarmup = [warmup(signature, kind, maxBatchSize, serving, notes)];
  else if (Object.keys(serving.shapes.dims).length + Object.keys(serving.shapes.shapes).length > 0) {
    throw new InputError(`${opt('dims')} and ${opt('shapes')} set the shapes of the warm-up request: give ${opt('warmupBatch', 'N')} too`);
  }
  if (serving.versionPolicy) config.versionPolicy = versionPolicy(serving.versionPolicy);
  return { config, notes };
}

function resolveMaxBatchSize(signature: ModelSignature, serving: ServingOptions, notes: string[]): number {
  const blocker = batchBlocker(signature);
  const asked = serving.maxBatchSize;
  if (asked !== undefined && asked > 0 && blocker) {
    throw new InputError(`${opt('maxBatchSize', asked)} needs every input and output to have a dynamic leading (batch) dimension, but ${blocker}`, {
      hint: `use ${opt('maxBatchSize', 0)} (Triton then takes whole shapes and does not batch), or export the model with a dynamic batch axis`,
    });
  }
  if (asked !== undefined) return asked;
  if (blocker) {
    notes.push(`max_batch_size 0 (no batching): ${blocker}`);
    return 0;
  }
  const value = Math.max(TRITON_DEFAULT_MAX_BATCH, ...(serving.preferredBatchSize ?? []));
  notes.push(`max_batch_size ${value}, Triton's default for a model that batches (set it with ${opt('maxBatchSize')})`);
  return value;
}

function tensorType(t: TensorInfo, kind: SourceKind): DataType {
  if (t.container) throw new InputError(`'${t.name}' is a ${t.container} of ${t.dtype}; Triton serves plain tensors only`);
  const type = tritonType(t.dtype);
  if (type === undefined) throw new InputError(`'${t.name}' is ${t.dtype}, which Triton has no data type for`);
  if (kind.unsupportedTypes?.includes(DataType[type])) throw new InputError(`'${t.name}' is ${t.dtype}: Triton's ${kind.backend} backend has no ${DataType[type]}`);
  return type;
}

/**
 * Config dims: symbolic and unknown dims become -1, and with batching the leading dim is implied.
 * Triton needs rank >= 1, so a tensor that is only `[batch]` becomes `dims: [1]` reshaped to `[]`.
 */
function tensorDims(t: TensorInfo, batched: boolean): Pick<ModelInput, 'dims' | 'reshape'> {
  if (!t.shape) throw new InputError(`'${t.name}' has no shape in the model; Triton needs its dims`);
  const shape = batched ? t.shape.slice(1) : t.shape;
  if (shape.some((d) => d === 0)) throw new InputError(`'${t.name}' has a zero-sized dimension ${formatShape(t.shape)}, which Triton cannot describe`);
  const dims = shape.map((d) => (typeof d === 'number' ? BigInt(d) : -1n));
  if (dims.length > 0) return { dims };
  if (!batched) {
    throw new InputError(`'${t.name}' is a scalar; Triton serves scalars only in batches`, { hint: `package with ${opt('maxBatchSize', 'N')}, if the other tensors have a batch axis` });
  }
  return { dims: [1n], reshape: create(ModelTensorReshapeSchema, { shape: [] }) };
}

/** A classifier output: `[batch, classes]` or `[classes]` with a fixed class count of at least 2. */
function classCount(t: TensorInfo): number | undefined {
  const shape = t.shape ?? [];
  const last = shape[shape.length - 1];
  const lead = shape.length === 2 ? shape[0] : 1;
  return shape.length <= 2 && typeof last === 'number' && last >= 2 && (typeof lead !== 'number' || lead === 1) ? last : undefined;
}

function labelOutput(outputs: ModelOutput[], signature: ModelSignature, labels: Labels): ModelOutput {
  const classifiers = signature.outputs.filter((t) => classCount(t) !== undefined);
  const chosen = labels.output !== undefined
    ? signature.outputs.find((t) => t.name === labels.output)
    : classifiers.length === 1 ? classifiers[0] : undefined;
  if (!chosen) {
    const names = classifiers.map((t) => t.name);
    throw new InputError(
      labels.output !== undefined ? `${opt('labelFile')}: the model has no output '${labels.output}'` : `${opt('labelFile')}: ${names.length ? `several outputs could be classifiers (${names.join(', ')})` : 'no output looks like a classifier ([batch, classes])'}`,
      { hint: `name the output: ${opt('labelFile', 'OUTPUT=FILE')}` },
    );
  }
  const classes = classCount(chosen);
  if (classes === undefined) throw new InputError(`${opt('labelFile')}: output '${chosen.name}' ${formatShape(chosen.shape)} is not [batch, classes]`);
  if (classes !== labels.lines) {
    const lines = `${labels.lines} line${labels.lines === 1 ? '' : 's'}`;
    throw new InputError(`${opt('labelFile', labels.fileName)} has ${lines} but output '${chosen.name}' has ${classes} classes`, { hint: 'one label per line, in class order' });
  }
  return outputs.find((o) => o.name === chosen.name)!;
}

function applyScheduler(config: ModelConfig, serving: ServingOptions): void {
  const { dynamicBatching, preferredBatchSize, maxQueueDelayUs } = serving;
  if (!dynamicBatching && preferredBatchSize === undefined && maxQueueDelayUs === undefined) return;
  if (config.maxBatchSize === 0) {
    throw new InputError('dynamic batching needs max_batch_size > 0', { hint: `give ${opt('maxBatchSize', 'N')} (the model must have a dynamic batch axis)` });
  }
  const tooLarge = (preferredBatchSize ?? []).filter((n) => n > config.maxBatchSize);
  if (tooLarge.length > 0) {
    throw new InputError(`${opt('preferredBatchSize', tooLarge.join(','))} is larger than max_batch_size ${config.maxBatchSize}`, { hint: `raise ${opt('maxBatchSize')} or lower the preferred sizes` });
  }
  config.schedulingChoice = {
    case: 'dynamicBatching',
    value: create(ModelDynamicBatchingSchema, { preferredBatchSize, maxQueueDelayMicroseconds: BigInt(maxQueueDelayUs ?? 0) }),
  };
}

const INSTANCE_KINDS = { gpu: ModelInstanceGroup_Kind.GPU, cpu: ModelInstanceGroup_Kind.CPU, auto: ModelInstanceGroup_Kind.AUTO };

function applyInstances(config: ModelConfig, kind: SourceKind, serving: ServingOptions): void {
  if (serving.kind === 'cpu' && kind.gpuOnly) throw new InputError(`${opt('kind', 'cpu')}: ${kind.platform} models run on GPUs only`);
  if (serving.instances !== undefined || serving.kind !== undefined) {
    config.instanceGroup = [create(ModelInstanceGroupSchema, { count: serving.instances, kind: INSTANCE_KINDS[serving.kind ?? 'auto'] })];
  }
  if (serving.trtAccelerator === undefined) return;
  if (kind.platform !== 'onnxruntime_onnx') throw new InputError(`${opt('trtAccelerator')} is ONNX Runtime's TensorRT accelerator; a ${kind.platform} model is already an engine`);
  if (serving.kind === 'cpu') throw new InputError(`${opt('trtAccelerator')} runs on GPU instances, not with ${opt('kind', 'cpu')}`);
  config.optimization = create(ModelOptimizationPolicySchema, {
    executionAccelerators: {
      gpuExecutionAccelerator: [{ name: 'tensorrt', parameters: { precision_mode: serving.trtAccelerator.toUpperCase() } }],
    },
  });
}

/**
 * One warm-up sample of `warmupBatch` requests (the batch size). Triton fills `random_data` with random bytes
 * (core GenerateWarmupData), which for integer inputs means token ids far outside any vocabulary
 * and a model that fails to load; integer and bool inputs therefore get zeros.
 */
function warmup(signature: ModelSignature, kind: SourceKind, maxBatchSize: number, serving: ServingOptions, notes: string[]): ModelWarmup {
  const batch = serving.warmupBatch!;
  if (maxBatchSize > 0 && batch > maxBatchSize) throw new InputError(`${opt('warmupBatch', batch)} is larger than max_batch_size ${maxBatchSize}`);
  if (maxBatchSize === 0 && batch !== 1) {
    throw new InputError(`${opt('warmupBatch', batch)}: without batching (max_batch_size 0) a warm-up request takes whole shapes`, { hint: `use ${opt('warmupBatch', 1)} and set the batch dim with ${opt('dims')}` });
  }
  const batched = maxBatchSize > 0;
  // With batching the leading dim is Triton's own; only the other symbolic dims need values.
  const leading = batched ? signature.inputs.map((t) => t.shape?.[0]).filter((d): d is string => typeof d === 'string') : [];
  const dims = { ...Object.fromEntries(leading.map((d) => [d, [1]])), ...serving.shapes.dims };
  const { shapes, defaulted } = resolveShapes(signature.inputs, { shapes: serving.shapes.shapes, dims });
  if (defaulted.length > 0) notes.push(`warm-up shapes take ${defaulted.join(', ')} (set them with ${opt('dims')})`);
  const inputs = Object.fromEntries(signature.inputs.map((t) => {
    const shape = batched ? shapes.get(t.name)!.slice(1) : shapes.get(t.name)!;
    const data = dtypeInfo(t.dtype).kind === 'float' ? { case: 'randomData' as const, value: true } : { case: 'zeroData' as const, value: true };
    return [t.name, create(ModelWarmup_InputSchema, { dataType: tensorType(t, kind), dims: (shape.length ? shape : [1]).map(BigInt), inputDataType: data })];
  }));
  return create(ModelWarmupSchema, { name: `warmup_batch_${batch}`, batchSize: batch, inputs, count: 1 });
}

function versionPolicy(policy: VersionPolicy): ModelVersionPolicy {
  const choice: ModelVersionPolicy['policyChoice'] = 'latest' in policy
    ? { case: 'latest', value: create(ModelVersionPolicy_LatestSchema, { numVersions: policy.latest }) }
    : 'all' in policy
      ? { case: 'all', value: create(ModelVersionPolicy_AllSchema) }
      : { case: 'specific', value: create(ModelVersionPolicy_SpecificSchema, { versions: policy.specific.map(BigInt) }) };
  return create(ModelVersionPolicySchema, { policyChoice: choice });
}
