import { compareModels } from '../accuracy/check.js';
import { generatedSets } from '../accuracy/inputs.js';
import { readDataSets } from '../accuracy/reference.js';
import { InputError } from '../errors.js';
import { removeIfFails } from '../io/atomic.js';
import { overwrittenInput } from '../io/same-file.js';
import { type OnnxModel, allTensors, externalDataFiles, hasExternalData, loadModel } from '../onnx/model.js';
import { type SavedModel, saveModel } from '../onnx/save.js';
import { keepIrVersion } from '../onnx/ir-version.js';
import { type ModelSignature, opsetVersion, signature } from '../onnx/signature.js';
import { type Progress, silent } from '../progress.js';
import { onnxFromDtype } from '../tensor/dtype.js';
import type { TensorMap } from '../tensor/tensor.js';
import { collectStats } from './calibration/collect.js';
import { DEFAULT_BATCH, readCalibration } from './calibration/data.js';
import { calibratedRange, methods } from './calibration/methods.js';
import { cpuProfile } from './cpu.js';
import { findFloat16Hazards } from './fp16/auto-block.js';
import { fuseModel, fusionNotes } from './fusion/fuse.js';
import { convertToFloat16 } from './fp16/convert.js';
import { allNodes, viewGraph } from './graph.js';
import { Int8Context } from './int8/context.js';
import { INT8_OP_TYPES } from './int8/registry.js';
import { applyInt8, planInt8 } from './int8/rewrite.js';
import { type Int8Mode, type QuantizeOptions, checkOptions } from './options.js';
import type { BlockedNode, QuantizeReport } from './report.js';
import { type ScratchSpace, openScratch } from './store.js';
import { inferTypes } from './types.js';

/** Ops that only a quantized model has: quantizing it again would stack errors, not save bytes. */
const QUANTIZED_OPS = new Set([
  'QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'MatMulInteger', 'ConvInteger', 'QLinearMatMul', 'QLinearConv',
  'DynamicQuantizeMatMul', 'MatMulIntegerToFloat', 'QAttention', 'QGemm', 'QLinearAdd', 'QLinearMul', 'QEmbedLayerNormalization',
  'DynamicQuantizeLSTM', 'MatMulNBits', 'MatMulBnb4', 'GatherBlockQuantized',
]);

const FLOAT16 = onnxFromDtype('float16');

interface Conversion {
  nodesConverted: number;
  blockedNodes: BlockedNode[];
  clamped: number;
  fused: Record<string, number>;
}

interface Job {
  model: OnnxModel;
  options: QuantizeOptions;
  scratch: ScratchSpace;
  /** calibration batches, else --inputs, else generated inputs */
  data: TensorMap[];
  notes: string[];
  progress: Progress;
}

/**
 * Quantizes an ONNX model to FP16 or INT8 and writes it to `options.output` (with external data
 * when the source had it or the result is large). The rewrite streams tensors one at a time
 * through a scratch file beside the output, so memory stays bounded by the largest tensor.
 */
export async function quantize(modelPath: string, options: QuantizeOptions, progress: Progress = silent): Promise<QuantizeReport> {
  checkOptions(options);
  progress({ kind: 'phase', phase: 'loading model' });
  const model = await loadModel(modelPath);
  refuseOverwrite(model, options.output);
  refuseQuantized(model);
  checkNames(model, options);
  const notes: string[] = [];
  const data = await inputData(signature(model.proto), options, notes);
  const sizeBefore = model.sizeBytes;
  const external = hasExternalData(model);
  const sourceIr = model.proto.irVersion;
  const scratch = await openScratch(model, options.output);
  let conversion: Conversion;
  let saved: SavedModel;
  try {
    const job: Job = { model, options, scratch, data: data.calibration ?? data.given ?? data.generated!, notes, progress };
    conversion = options.to === 'fp16' ? await toFloat16(job) : await toInt8(job);
    const raised = keepIrVersion(sourceIr, model.proto);
    if (raised) notes.push(`IR version raised to ${raised.version}: the output uses ${raised.reason}`);
    progress({ kind: 'phase', phase: 'writing', detail: options.output });
    saved = await saveModel(model, options.output, { externalData: external ? 'always' : 'auto' });
  } finally {
    await scratch.dispose();
  }
  progress({ kind: 'phase', phase: 'measuring drift' });
  const gate = { atol: Infinity, rtol: 0, minCosine: options.maxDriftCosine };
  const drift = await removeIfFails(
    compareModels(modelPath, options.output, data.given ?? data.calibration ?? data.generated!, gate, options.session, progress),
    [saved.path, saved.dataFile],
  );
  drift.notes.push(options.maxDriftCosine === undefined
    ? 'no drift gate: the errors are reported, not judged (--max-drift-cosine C fails on a cosine below C)'
    : `drift gate: cosine >= ${options.maxDriftCosine} on every output (--max-drift-cosine)`);
  return {
    output: options.output,
    to: options.to,
    mode: options.to === 'int8' ? options.mode ?? 'dynamic' : null,
    sizeBefore,
    sizeAfter: saved.sizeBytes,
    ...conversion,
    drift,
    notes,
  };
}

interface InputData {
  calibration?: TensorMap[];
  given?: TensorMap[];
  /** generated as `check` generates them, when neither --calibration nor --inputs was given */
  generated?: TensorMap[];
}

/**
 * The data the command runs the model on: calibration batches, --inputs, or generated inputs.
 * Calibration and --auto-block prefer the calibration data; the drift report prefers --inputs.
 */
async function inputData(sig: ModelSignature, options: QuantizeOptions, notes: string[]): Promise<InputData> {
  const calibration = options.calibration ? await readCalibration(options.calibration, sig, options.calibrationBatch ?? DEFAULT_BATCH) : undefined;
  const given = options.inputs ? await readDataSets(options.inputs, sig, false) : undefined;
  const generated = calibration || given ? undefined : generatedSets(sig, options.shapes, options.seed, options.intRange);
  for (const source of [calibration, given, generated]) notes.push(...(source?.notes ?? []));
  return {
    calibration: calibration?.batches,
    given: given?.sets.map((s) => s.inputs),
    generated: generated?.sets.map((s) => s.inputs),
  };
}

function dataName(job: Job): string {
  return job.options.calibration ? 'the calibration data' : job.options.inputs ? job.options.inputs : 'generated inputs';
}

/** The output (or its external-data file) replacing the model or its weights would destroy the input mid-run. */
function refuseOverwrite(model: OnnxModel, output: string): void {
  const inputs = [model.path, ...externalDataFiles(model)];
  const overwritten = overwrittenInput([output, `${output}.data`], inputs);
  if (overwritten === undefined) return;
  const what = overwritten === inputs[0] ? 'the model being quantized' : `${overwritten}, which holds the weights of the model being quantized`;
  throw new InputError(`the output would overwrite ${what}`, { kind: 'usage', hint: 'give -o another file name' });
}

/** Looks into subgraphs and Constant nodes too: an FP16 export may hold its weights in Constants. */
function refuseQuantized(model: OnnxModel): void {
  const quantized = [...allNodes(model.proto.graph!)].filter((n) => QUANTIZED_OPS.has(n.opType));
  if (quantized.length > 0) {
    const ops = [...new Set(quantized.map((n) => n.opType))].join(', ');
    throw new InputError(`${model.path} is already quantized (it has ${quantized.length} ${ops} node${quantized.length === 1 ? '' : 's'})`, {
      kind: 'already-quantized', hint: 'quantize the float32 model instead',
    });
  }
  const half = [...allTensors(model.proto)].filter((t) => t.dataType === FLOAT16);
  if (half.length > 0) {
    throw new InputError(`${model.path} already has float16 weights (${half.length} tensors)`, { kind: 'already-quantized', hint: 'quantize the float32 model instead' });
  }
}

/** --block-node, --exclude-node and --block-op must name something the model has: a typo would silently do nothing. */
function checkNames(model: OnnxModel, options: QuantizeOptions): void {
  const nodes = model.proto.graph!.node;
  const names = new Set(nodes.map((n) => n.name));
  const ops = new Set(nodes.map((n) => n.opType));
  for (const [flag, list, known] of [['--block-node', options.blockNodes, names], ['--exclude-node', options.excludeNodes, names], ['--block-op', options.blockOps, ops]] as const) {
    for (const name of list ?? []) {
      if (!known.has(name)) throw new InputError(`${flag} ${name}: the model has no ${flag === '--block-op' ? 'node of op type' : 'node named'} '${name}'`, { kind: 'usage' });
    }
  }
}

async function toFloat16(job: Job): Promise<Conversion> {
  const { model, options, progress } = job;
  progress({ kind: 'phase', phase: 'inferring types' });
  const types = await inferTypes(model.proto, model.path);
  const auto = options.autoBlock
    ? await findFloat16Hazards(model, types, job.data, job.scratch, options.session, progress)
    : new Map<string, string>();
  if (options.autoBlock) job.notes.push(`--auto-block ran the float32 model on ${dataName(job)}: ${auto.size} node(s) kept in float32`);
  progress({ kind: 'phase', phase: 'converting to float16' });
  const result = await convertToFloat16(model, types, {
    keepIoTypes: options.keepIoTypes ?? false,
    block: { ops: options.blockOps ?? [], nodes: options.blockNodes ?? [], auto },
  }, job.scratch);
  const { overflow, underflow, tensors } = result.clamped;
  if (overflow + underflow > 0) {
    const named = tensors.length > 3 ? `${tensors.slice(0, 3).join(', ')} and ${tensors.length - 3} more tensors` : tensors.join(', ');
    job.notes.push(`clamped ${overflow} value(s) above float16's 65504 and ${underflow} nonzero value(s) below its smallest subnormal, in ${named}`);
  }
  return { nodesConverted: result.nodesConverted, blockedNodes: result.blockedNodes, clamped: overflow + underflow, fused: {} };
}

async function toInt8(job: Job): Promise<Conversion> {
  const { model, options, progress } = job;
  const mode = options.mode ?? 'dynamic';
  const opset = opsetVersion(model.proto) ?? 1;
  if (opset < 10) throw new InputError(`INT8 needs ONNX opset 10 or later (QuantizeLinear); the model has opset ${opset}`, { hint: 'export it again with --opset 13 or later' });
  const cpu = cpuProfile();
  const reduceRange = options.reduceRange ?? cpu.reduceRange;
  job.notes.push(options.reduceRange === undefined
    ? `${reduceRange ? '7' : '8'}-bit weights for this CPU (${cpu.description}): ${cpu.why}`
    : `${reduceRange ? '7' : '8'}-bit weights (--${reduceRange ? '' : 'no-'}reduce-range)`);
  const opTypes = options.opTypes ?? INT8_OP_TYPES;
  const fused = await fuseForInt8(job, mode, opTypes);
  const perChannel = options.perChannel ?? true;
  if (perChannel && opset < 13) job.notes.push(`per-tensor weight scales: per-channel DequantizeLinear needs opset 13, the model has ${opset}`);
  const ctx = new Int8Context(model, viewGraph(model.proto.graph!), {
    mode, perChannel, weightMax: reduceRange ? 63 : 127, symmetric: options.symmetric ?? false, opset,
  }, job.scratch);
  const plan = planInt8(ctx, { opTypes, excludeNodes: options.excludeNodes ?? [] });
  if (mode === 'static') {
    const method = options.method ?? 'minmax';
    const stats = await collectStats(model, plan.activations, job.data, job.scratch, { histogram: methods[method].histogram, session: options.session }, progress);
    for (const [name, s] of stats) ctx.ranges.set(name, calibratedRange(s, method, { percentile: options.percentile ?? 99.99 }));
    job.notes.push(`activation ranges: ${method}${method === 'percentile' ? ` ${options.percentile ?? 99.99}` : ''} over ${job.data.length} calibration batch(es)`);
  }
  progress({ kind: 'phase', phase: `quantizing to int8 (${mode})` });
  await applyInt8(ctx, plan);
  return { nodesConverted: plan.selected.length, blockedNodes: plan.blocked, clamped: 0, fused };
}

/**
 * Dynamic mode fuses first (fusion/fuse.ts), so the quantizers see the fused ops. Static mode
 * does not: its QDQ model is for TensorRT, which has no com.microsoft ops. A fused attention
 * only pays when it is quantized too, so --op-types without Attention turns fusion off.
 */
async function fuseForInt8(job: Job, mode: Int8Mode, opTypes: string[]): Promise<Record<string, number>> {
  if (!(job.options.fuse ?? mode === 'dynamic')) {
    if (job.options.fuse === false) job.notes.push('no fusion (--no-fuse)');
    return {};
  }
  if (!opTypes.includes('Attention')) {
    job.notes.push('no fusion: --op-types leaves Attention out, and a fused attention would stay float32');
    return {};
  }
  job.progress({ kind: 'phase', phase: 'fusing' });
  const report = await fuseModel(job.model, job.scratch, { keep: job.options.excludeNodes ?? [] });
  job.notes.push(...fusionNotes(report));
  return report.applied;
}
