/**
 * `quantize`: convert a float32 model to FP16 or INT8, then measure the drift. The conversion
 * rewrites the loaded model, streaming tensors one at a time through a scratch folder beside the
 * output so that memory stays bounded by the largest tensor; the result is staged there under its
 * final names, measured against the original, and only then renamed into place. A model whose
 * drift cannot be measured leaves whatever was at the destination.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type ModelRef, runnable } from '../accuracy/check.js';
import { generatedSets } from '../accuracy/inputs.js';
import { readSamples } from '../accuracy/samples.js';
import { InputError } from '../errors.js';
import { OutputSet } from '../io/atomic.js';
import { overwrittenInput } from '../io/same-file.js';
import { type OnnxModel, allTensors, externalDataFiles, hasExternalData, loadModel } from '../onnx/model.js';
import { type SavedModel, saveModel } from '../onnx/save.js';
import { keepIrVersion } from '../onnx/ir-version.js';
import { QUANTIZE_OPSET, upgradeOpset } from '../onnx/upgrade/upgrade.js';
import { type ModelSignature, opsetVersion, signature } from '../onnx/signature.js';
import { opt } from '../option-ref.js';
import { type Progress, silent } from '../progress.js';
import { onnxFromDtype } from '../tensor/dtype.js';
import type { TensorMap } from '../tensor/tensor.js';
import { collectStats } from './calibration/collect.js';
import { readCalibration } from './calibration/data.js';
import { calibratedRange, methods } from './calibration/methods.js';
import { cpuProfile } from './cpu.js';
import { KEEP_KEY, quantizeWithFallback } from './fallback.js';
import { measureDrift } from './drift.js';
import { findFloat16Hazards } from './fp16/auto-block.js';
import { foldBatchNorms } from './fp16/fold-batchnorm.js';
import { convertToFloat16 } from './fp16/convert.js';
import { fuseModel, fusionNotes } from './fusion/fuse.js';
import { allNodes, float32WeightElements } from './graph.js';
import { borrowedNote } from './int8/kernels.js';
import { INT8_OP_TYPES } from './int8/registry.js';
import { applyGraphs, keepUncalibratedBodies, planGraphs } from './int8/graphs.js';
import { NEEDS_CALIBRATION, type Int8Plan } from './int8/rewrite.js';
import { type QuantizeOptions, quantizeOptions } from './options.js';
import { QUANTIZED_OPS } from './precision.js';
import type { BlockedNode, QuantizeReport } from './result.js';
import { measureSpeed, slowdownNote } from './speed.js';
import { type ScratchSpace, openScratch } from './store.js';
import type { Int8Form, Int8Mode, Target } from './targets.js';
import { inferTypes, withSampleShapes } from './types.js';

const FLOAT16 = onnxFromDtype('float16');

interface Conversion {
  nodesConverted: number;
  blockedNodes: BlockedNode[];
  clamped: number;
  fused: Record<string, number>;
}

/** What a slower model is told, by precision. */
const SLOWER_WHY: Record<Target, string> = {
  fp16: "ONNX Runtime's CPU provider computes most float16 ops in float32, casting around them; FP16 is for GPUs and TensorRT",
  int8: 'the int8 forms chosen cost more than they save on this model (small products, conversions between int8 and float)',
};

/** The data a quantize run reads, each source read and checked against the model once. */
export interface InputData {
  /** calibration batches, for static INT8 ranges */
  calibration?: TensorMap[];
  /** what the models are run on (the drift, the float16 overflow search): `inputs`, else the calibration data, else generated inputs */
  run: TensorMap[];
  /** where `run` comes from, for notes */
  source: string;
  notes: string[];
}

interface Job {
  model: OnnxModel;
  options: QuantizeOptions;
  scratch: ScratchSpace;
  data: InputData;
  notes: string[];
  progress: Progress;
}

export async function quantize(modelPath: string, given: QuantizeOptions, progress: Progress = silent): Promise<QuantizeReport> {
  const options = withFallbackList(quantizeOptions(given));
  if (options.fallback === true) return quantizeWithFallback(modelPath, options, progress);
  progress({ kind: 'phase', phase: 'loading model' });
  const model = await loadModel(modelPath);
  refuseOverwrite(model, options.output);
  refuseQuantized(model);
  checkNames(model, options);
  // Before the conversion rewrites the model in place.
  const original: ModelRef = { path: model.path, label: modelPath, signature: runnable(signature(model.proto), modelPath) };
  const data = await inputData(original.signature, options);
  const sizeBefore = model.sizeBytes;
  const external = hasExternalData(model);
  const sourceIr = model.proto.irVersion;
  const scratch = await openScratch(model, options.output);
  try {
    const notes = [...data.notes];
    const job: Job = { model, options, scratch, data, notes, progress };
    const float32Before = float32WeightElements(model.proto.graph!);
    const conversion = options.to === 'fp16' ? await toFloat16(job) : await toInt8(job);
    const weights = { float32: float32Before, converted: Math.max(0, float32Before - float32WeightElements(model.proto.graph!)) };
    judgeChange(modelPath, options.to, conversion, weights, notes);
    const raised = keepIrVersion(sourceIr, model.proto);
    if (raised) notes.push(`IR version raised to ${raised.version}: the output uses ${raised.reason}`);
    progress({ kind: 'phase', phase: 'writing', detail: options.output });
    const staged = await stage(model, scratch, options.output, external);
    const quantized: ModelRef = { path: staged.path, label: options.output, signature: signature(model.proto) };
    const drift = await measureDrift(original, quantized, data.run, options, progress);
    const speed = await measureSpeed(original, quantized, data.run, options.session, progress);
    if (speed.slower) notes.push(`${slowdownNote(speed)}: ${SLOWER_WHY[options.to]}`);
    const saved = await commit(staged, options.output);
    return {
      output: options.output,
      to: options.to,
      mode: options.to === 'int8' ? options.mode ?? (options.target === 'tensorrt' ? 'static' : 'auto') : null,
      target: options.to === 'int8' ? options.target ?? 'cpu' : null,
      sizeBefore,
      sizeAfter: saved.sizeBytes,
      ...conversion,
      weights,
      drift,
      speed,
      notes,
    };
  } finally {
    await scratch.dispose();
  }
}

/**
 * The model written inside the scratch folder under the output's own file name, so that its
 * external-data file is already the one the model names.
 */
async function stage(model: OnnxModel, scratch: ScratchSpace, output: string, external: boolean): Promise<SavedModel> {
  const dir = path.join(scratch.dir, 'staged');
  await fs.promises.mkdir(dir);
  return saveModel(model, path.join(dir, path.basename(output)), { externalData: external ? 'always' : 'auto' });
}

/** Renames the staged files into place together, the data file first: an OutputSet commits in the order it was given its files. */
async function commit(staged: SavedModel, output: string): Promise<SavedModel> {
  const dataFile = staged.dataFile && path.join(path.dirname(path.resolve(output)), path.basename(staged.dataFile));
  await new OutputSet().run(async (set) => {
    if (staged.dataFile) await fs.promises.rename(staged.dataFile, await set.temp(dataFile!));
    await fs.promises.rename(staged.path, await set.temp(output));
  });
  return { path: path.resolve(output), dataFile, sizeBytes: staged.sizeBytes };
}

/** A fallback list found by an earlier search is what keeps those nodes float for this target. */
function withFallbackList(options: QuantizeOptions): QuantizeOptions {
  if (!Array.isArray(options.fallback)) return options;
  const key = KEEP_KEY[options.to];
  return { ...options, [key]: [...(options[key] ?? []), ...options.fallback], fallback: false };
}

/** Reads each source once, in one order of preference for running the models: `inputs`, the calibration data, generated inputs. */
export async function inputData(sig: ModelSignature, options: QuantizeOptions): Promise<InputData> {
  const calibration = options.calibration ? await readCalibration(options.calibration, sig, options.calibrationBatch) : undefined;
  const given = options.inputs ? await readSamples(options.inputs, sig, Infinity) : undefined;
  if (given) return { calibration: calibration?.batches, run: given.batches, source: options.inputs!, notes: [...(calibration?.notes ?? []), ...given.notes] };
  if (calibration) return { calibration: calibration.batches, run: calibration.batches, source: 'the calibration data', notes: calibration.notes };
  const generated = generatedSets(sig, options.shapes, options.seed, options.intRange);
  return { run: generated.sets.map((s) => s.inputs), source: 'generated inputs', notes: generated.notes };
}

/**
 * A conversion that changed nothing is an error: writing a copy and calling it FP16 or INT8 would
 * hide that the precision was not reached (a model whose weights all sit in a subgraph, or whose
 * ops are all kept float32). One that changed under 1 % of the weights is written, with a warning.
 */
function judgeChange(modelPath: string, to: Target, conversion: Conversion, weights: QuantizeReport['weights'], notes: string[]): void {
  const why = whyUnchanged(to, conversion);
  if (conversion.nodesConverted === 0 && weights.converted === 0) {
    throw new InputError(`${opt('to', to)} changed nothing in ${modelPath}: ${why}`, { kind: 'nothing-converted', hint: 'no model was written' });
  }
  if (weights.float32 > 0 && weights.converted < 0.01 * weights.float32) {
    const share = ((100 * weights.converted) / weights.float32).toPrecision(2);
    notes.push(`warning: only ${share}% of the float32 weights changed (${weights.converted} of ${weights.float32} elements): ${why}`);
  }
}

function whyUnchanged(to: Target, { blockedNodes }: Conversion): string {
  const reasons = [...new Set(blockedNodes.map((b) => `${b.op}: ${b.reason}`))];
  const kept = blockedNodes.length > 0 ? `${blockedNodes.length} node(s) kept float32 (${reasons.slice(0, 3).join('; ')}${reasons.length > 3 ? '; …' : ''})` : '';
  if (to === 'int8') return kept || `no ${INT8_OP_TYPES.join('/')} node reads a constant float32 weight`;
  return kept || 'the weights are not float32 or no node computes in float32';
}

/** The output (or its external-data file) replacing the model or its weights would destroy the input mid-run. */
function refuseOverwrite(model: OnnxModel, output: string): void {
  const inputs = [model.path, ...externalDataFiles(model)];
  const overwritten = overwrittenInput([output, `${output}.data`], inputs);
  if (overwritten === undefined) return;
  const what = overwritten === inputs[0] ? 'the model being quantized' : `${overwritten}, which holds the weights of the model being quantized`;
  throw new InputError(`the output would overwrite ${what}`, { kind: 'usage', hint: `give ${opt('output')} another file name` });
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

/** Node names and op types to keep in float32 must name something the model has: a typo would silently do nothing. */
function checkNames(model: OnnxModel, options: QuantizeOptions): void {
  const nodes = [...allNodes(model.proto.graph!)];
  const names = new Set(nodes.map((n) => n.name));
  const ops = new Set(nodes.map((n) => n.opType));
  const lists = [['blockNodes', options.blockNodes, names, 'node named'], ['excludeNodes', options.excludeNodes, names, 'node named'], ['blockOps', options.blockOps, ops, 'node of op type']] as const;
  for (const [key, list, known, what] of lists) {
    for (const name of list ?? []) {
      if (!known.has(name)) throw new InputError(`${opt(key, name)}: the model has no ${what} '${name}'`, { kind: 'usage' });
    }
  }
}

async function toFloat16(job: Job): Promise<Conversion> {
  const { model, options, progress } = job;
  progress({ kind: 'phase', phase: 'inferring types' });
  let types = await inferTypes(model.proto, model.path);
  const folded = await foldBatchNorms(model, types, job.scratch);
  const foldedCount = Object.values(folded).reduce((a, b) => a + b, 0);
  if (foldedCount > 0) {
    const into = Object.entries(folded).map(([op, n]) => `${n} into ${op}`).join(', ');
    job.notes.push(`folded ${foldedCount} BatchNormalization (${into}) in float64 before converting: their running statistics never reach float16`);
    types = await inferTypes(model.proto, model.path);
  }
  const hazards = options.autoBlock
    ? await findFloat16Hazards(model, types, job.data.run, job.scratch, options.session, progress)
    : new Map<string, string>();
  if (options.autoBlock) job.notes.push(`${opt('autoBlock')} ran the float32 model on ${job.data.source}: ${hazards.size} node(s) kept in float32`);
  progress({ kind: 'phase', phase: 'converting to float16' });
  const result = await convertToFloat16(model, types, {
    keepIoTypes: options.keepIoTypes ?? false,
    block: { ops: options.blockOps ?? [], nodes: options.blockNodes ?? [], auto: hazards },
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
  const target = options.target ?? 'cpu';
  const mode = options.mode ?? (target === 'tensorrt' ? 'static' : 'auto');
  const opset = upgradeForInt8(job);
  const cpu = cpuProfile();
  // TensorRT runs the model on the GPU's int8 units, full 8-bit: this CPU's kernels do not matter.
  const reduceRange = options.reduceRange ?? (target === 'tensorrt' ? false : cpu.reduceRange);
  job.notes.push(options.reduceRange !== undefined
    ? `${reduceRange ? '7' : '8'}-bit weights (${opt('reduceRange', reduceRange)})`
    : target === 'tensorrt'
      ? '8-bit weights for TensorRT (its int8 kernels accumulate in int32; the CPU quantizing does not matter)'
      : `${reduceRange ? '7' : '8'}-bit weights for this CPU (${cpu.description}): ${cpu.why}`);
  const borrowed = target === 'cpu' ? borrowedNote(cpu) : undefined;
  if (borrowed) job.notes.push(borrowed);
  const opTypes = options.opTypes ?? INT8_OP_TYPES;
  const fused = await fuseForInt8(job, mode, opTypes);
  const perChannel = options.perChannel ?? true;
  const calibrated = job.data.calibration !== undefined;
  const sample = (job.data.calibration ?? job.data.run)[0];
  const types = mode === 'dynamic' ? undefined : await inferTypes(sample ? withSampleShapes(model.proto, sample) : model.proto, model.path);
  const settings = { mode, target, calibrated, perChannel, weightMax: reduceRange ? 63 : 127, symmetric: options.symmetric ?? target === 'tensorrt', opset, cpu };
  const graphs = await planGraphs(model, settings, job.scratch, { opTypes, excludeNodes: options.excludeNodes ?? [] }, types);
  const values = graphs.flatMap((g) => g.plan.placement.values);
  if (values.length > 0) {
    const method = options.method ?? 'minmax';
    const batches = job.data.calibration!;
    const stats = await collectStats(model, values, batches, job.scratch, { histogram: methods[method].histogram, session: options.session }, progress);
    for (const [name, s] of stats) graphs[0].ctx.ranges.set(name, calibratedRange(s, method, { percentile: options.percentile ?? 99.99 }));
    job.notes.push(`activation ranges: ${method}${method === 'percentile' ? ` ${options.percentile ?? 99.99}` : ''} over ${batches.length} calibration batch(es)`);
    const kept = keepUncalibratedBodies(graphs, (value) => (stats.get(value)?.count ?? 0) > 0);
    if (kept > 0) job.notes.push(`warning: ${kept} node(s) in If/Loop/Scan bodies that no calibration batch ran stay float32: calibrate with data that takes every branch to quantize them`);
  }
  const plan: Pick<Int8Plan, 'selected' | 'blocked'> = { selected: graphs.flatMap((g) => g.plan.selected), blocked: graphs.flatMap((g) => g.plan.blocked) };
  if (mode === 'auto') job.notes.push(autoNote(plan, calibrated));
  progress({ kind: 'phase', phase: `quantizing to int8 (${mode})` });
  await applyGraphs(graphs);
  return { nodesConverted: plan.selected.length, blockedNodes: plan.blocked, clamped: 0, fused };
}

/**
 * INT8 rewrites the model at opset 13: per-channel weights need DequantizeLinear's axis (13), and
 * the quantizers write today's forms of the ops they add. Older models are upgraded op by op first.
 */
function upgradeForInt8(job: Job): number {
  const from = opsetVersion(job.model.proto) ?? QUANTIZE_OPSET;
  if (from >= QUANTIZE_OPSET) return from;
  const changes = upgradeOpset(job.model.proto, QUANTIZE_OPSET);
  job.notes.push(`upgraded from opset ${from} to ${QUANTIZE_OPSET} before quantizing, for per-channel weight scales (${changes.join('; ') || 'its operators mean the same there'})`);
  return QUANTIZE_OPSET;
}

/** What `auto` chose, by form and op type, and what calibration data would add. */
function autoNote(plan: Pick<Int8Plan, 'selected' | 'blocked'>, calibrated: boolean): string {
  const byForm = (form: Int8Form) => {
    const counts = new Map<string, number>();
    for (const s of plan.selected) if (s.mode === form) counts.set(s.node.opType, (counts.get(s.node.opType) ?? 0) + 1);
    return counts.size ? [...counts].map(([op, n]) => `${n} ${op}`).join(', ') : 'nothing';
  };
  const waiting = plan.blocked.filter((b) => b.reason === NEEDS_CALIBRATION).length;
  return `${opt('mode', 'auto')}: dynamic for ${byForm('dynamic')}; static QDQ for ${byForm('static')}`
    + (calibrated ? '' : waiting ? `; ${waiting} node(s) have only a static INT8 form that pays, which needs ${opt('calibration')}` : '');
}

/**
 * Dynamic and auto modes fuse first (fusion/fuse.ts), so the quantizers see the fused ops.
 * Static mode and the TensorRT target do not: TensorRT has no com.microsoft ops. A fused attention
 * only pays when it is quantized too, so op types without Attention turn fusion off.
 */
async function fuseForInt8(job: Job, mode: Int8Mode, opTypes: string[]): Promise<Record<string, number>> {
  if (!(job.options.fuse ?? (mode !== 'static' && job.options.target !== 'tensorrt'))) {
    if (job.options.fuse === false) job.notes.push(`no fusion (${opt('fuse', false)})`);
    return {};
  }
  if (!opTypes.includes('Attention')) {
    job.notes.push(`no fusion: ${opt('opTypes')} leaves Attention out, and a fused attention would stay float32`);
    return {};
  }
  job.progress({ kind: 'phase', phase: 'fusing' });
  const report = await fuseModel(job.model, job.scratch, { keep: job.options.excludeNodes ?? [] });
  job.notes.push(...fusionNotes(report));
  return report.applied;
}
