/** Running a model against expected outputs, or against another model, and gating on the result. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../errors.js';
import { loadModel } from '../onnx/model.js';
import { saveModel } from '../onnx/save.js';
import { type ModelSignature, type TensorInfo, opsetVersion, signature } from '../onnx/signature.js';
import { RUNNABLE_OPSET, upgradeOpset } from '../onnx/upgrade/upgrade.js';
import { type Progress, silent } from '../progress.js';
import { checkInputs } from '../runtime/inputs.js';
import { type Provider, type SessionOptions, openSession } from '../runtime/session.js';
import type { ShapeSpec } from '../runtime/shapes.js';
import { isFloat } from '../tensor/dtype.js';
import type { TensorMap } from '../tensor/tensor.js';
import { type GateOptions, type OutputComparison, DEFAULT_GATE, combineSets, compareTensors } from './compare.js';
import { defaultGate, describeGate } from './gates.js';
import { castInputs, castSummary, generatedSets } from './inputs.js';
import { type LayerComparison, type FirstDivergent, LAYERWISE_MIN_COSINE, compareLayers } from './layerwise.js';
import { readDataSets, testFolder } from './reference.js';
import { readSamples } from './samples.js';
import { opt } from '../option-ref.js';

export interface CheckReport {
  /** null when nothing was judged (a comparison without a gate) */
  passed: boolean | null;
  /** input sets compared */
  sets: number;
  /** one per output, worst case over the sets */
  outputs: OutputComparison[];
  /** defaults taken (batch=1), provider fallbacks, reference keys ignored, ... */
  notes: string[];
  /** the model checked */
  model: string;
  /** what it was compared with: a reference file or folder, or the baseline model */
  against: { kind: 'reference' | 'model'; path: string };
  /** the provider that ran the model (cpu after a fallback) */
  provider: Provider;
  /** the gate applied, defaults filled in; null when the errors were only reported */
  gate: ResolvedGate | null;
  /** with `layerwise`: every tensor both models compute, in the baseline's topological order */
  layers?: LayerComparison[];
  /** with `layerwise`: the first layer below the layer gate, null when none is */
  firstDivergent?: FirstDivergent | null;
  /** with `layerwise`: the layer gate and how the comparison went */
  layerwise?: { minCosine: number; unmatched: number; batches: number };
}

export type ResolvedGate = GateOptions & { topK: number; quantile: number };

export interface CheckOptions {
  /** .npz (input and output names as keys) or a folder of test_data_set_* */
  reference?: string;
  /** another .onnx run on the same inputs; it is the baseline, the model is the candidate */
  against?: string;
  /** with against: .npz or data-set folder, read as quantize reads its `inputs` (one batch, or one sample at a time for a stateful model) */
  inputs?: string;
  shapes?: ShapeSpec;
  seed?: number;
  intRange?: [number, number];
  session?: SessionOptions;
  /** what differs from the default gate of the model's precision (DEFAULT_GATES); null to report without judging */
  gate?: Partial<GateOptions> | null;
  /** check a copy upgraded to opset 7 when the model's opset is older (ONNX Runtime no longer runs those) */
  upgradeOpset?: boolean;
  /**
   * with `against`: also compare every intermediate tensor both models compute, judged by
   * `gate.minCosine` (default 0.999); the inputs may then come from `reference`, whose outputs
   * judge the model's outputs
   */
  layerwise?: boolean;
  /** with `layerwise`: bytes of activations fetched per batch (default 256 MiB) */
  layerBatchBytes?: number;
}

/** A model to run: the file onnxruntime loads, the name reports give it, and its signature. */
export interface ModelRef {
  path: string;
  label: string;
  signature: ModelSignature;
}

/** A model file as a ModelRef, refused when onnxruntime-node could not exchange its inputs or outputs. */
export async function modelRef(file: string, label = file): Promise<ModelRef> {
  const { proto } = await loadModel(file);
  return { path: file, label, signature: runnable(signature(proto), file) };
}

/**
 * Checks `model` (an .onnx file, or an ONNX test folder holding model.onnx and its data sets)
 * against a reference or another model. The gate is the default of the model's precision
 * (DEFAULT_GATES) with the given options over it. A failed gate is a report with `passed:
 * false`; bad input (names, shapes, dtypes, files, a model onnxruntime cannot run) is an InputError.
 */
export async function check(model: string, options: CheckOptions, progress: Progress = silent): Promise<CheckReport> {
  const folder = testFolder(model);
  const modelFile = folder?.model ?? model;
  const reference = options.reference ?? (options.against ? undefined : folder?.dir);
  checkChoice(options, reference);
  const scratch = options.upgradeOpset ? fs.mkdtempSync(path.join(os.tmpdir(), 'tdeploy-check-')) : undefined;
  try {
    const notes: string[] = [];
    const runnableFile = async (file: string) => (scratch ? upgradedCopy(file, scratch, notes) : file);
    const gate = options.gate === null ? null : await gateFor(modelFile, options.gate ?? {}, notes);
    const candidate = await runnableFile(modelFile);
    const baseline = options.against && await runnableFile(options.against);
    const report = baseline && !reference
      ? await checkAgainst(candidate, baseline, gate, options, progress)
      : await checkReference(candidate, reference!, gate, options, progress);
    const layers = options.layerwise ? await checkLayers(candidate, baseline as string, reference, options, progress) : { notes: [] };
    // the report names the user's files, not the upgraded copies
    const against = options.against && !reference ? { kind: 'model' as const, path: options.against } : report.against;
    return { ...report, ...layers, model: modelFile, against, notes: [...notes, ...report.notes, ...layers.notes] };
  } finally {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Where a candidate starts to drift from its baseline (`against`): check with every shared
 * intermediate tensor compared too (`layers`, `firstDivergent`).
 */
export function layerwise(model: string, options: CheckOptions & { against: string }, progress: Progress = silent): Promise<CheckReport> {
  return check(model, { ...options, layerwise: true }, progress);
}

/** The default gate of the model's precision with the given options over it; a note says when it is not float32's. */
async function gateFor(modelFile: string, given: Partial<GateOptions>, notes: string[]): Promise<GateOptions> {
  const { precision, gate } = defaultGate((await loadModel(modelFile)).proto);
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  if (precision !== 'fp32') notes.push(`${modelFile} computes in ${precision}: its default gate is ${describeGate(gate)}`);
  return { ...gate, ...defined };
}

async function checkAgainst(modelFile: string, against: string, gate: GateOptions | null, options: CheckOptions, progress: Progress): Promise<CheckReport> {
  const baseline = await modelRef(against);
  const { batches, notes } = await inputBatches(baseline, undefined, options);
  const report = await compareModels(baseline, await modelRef(modelFile), batches, gate, options.session, progress);
  return { ...report, notes: [...notes, ...report.notes] };
}

const asBatches = ({ sets, notes }: { sets: { inputs: TensorMap }[]; notes: string[] }) => ({ batches: sets.map((s) => s.inputs), notes });

async function checkReference(modelFile: string, reference: string, gate: GateOptions | null, options: CheckOptions, progress: Progress): Promise<CheckReport> {
  const { signature: sig } = await modelRef(modelFile);
  const names = sig.outputs.map((o) => o.name);
  if (gate) checkToleranceNames(gate, sig.outputs, modelFile);
  progress({ kind: 'phase', phase: 'reading reference', detail: reference });
  const { sets, notes } = await readDataSets(reference, sig, true);
  const session = await openSession(modelFile, options.session);
  const perSet: OutputComparison[][] = [];
  try {
    for (const [i, set] of sets.entries()) {
      progress({ kind: 'phase', phase: 'running', detail: set.source, fraction: i / sets.length });
      perSet.push(compareAll(names, set.outputs, await session.run(set.inputs, names), gate));
    }
  } finally {
    await session.release();
  }
  return report(modelFile, { kind: 'reference', path: reference }, perSet, gate, session.provider, [...notes, ...fallbackNotes(session.fallback)]);
}

/** What a comparison with another model runs on: `inputs`, the inputs of a reference, or generated inputs. */
/** The inputs both models run on: `inputs` (every sample of a multi-sample file, as quantize reads it), else the reference's, else generated ones. */
async function inputBatches(baseline: ModelRef, reference: string | undefined, options: CheckOptions): Promise<{ batches: TensorMap[]; notes: string[] }> {
  if (options.inputs) return readSamples(options.inputs, baseline.signature, Infinity);
  if (reference) return asBatches(await readDataSets(reference, baseline.signature, false));
  return asBatches(generatedSets(baseline.signature, options.shapes, options.seed, options.intRange));
}

/** Every tensor the candidate shares with the baseline, compared on the same inputs as the outputs. */
async function checkLayers(candidate: string, against: string, reference: string | undefined, options: CheckOptions, progress: Progress): Promise<Pick<CheckReport, 'layers' | 'firstDivergent' | 'layerwise' | 'notes'>> {
  const baseline = await modelRef(against);
  // The sets were read or generated once already, for the outputs; both calls give the same inputs.
  const { batches } = await inputBatches(baseline, reference, options);
  const result = await compareLayers(against, candidate, batches, {
    minCosine: options.gate?.minCosine ?? LAYERWISE_MIN_COSINE, batchBytes: options.layerBatchBytes, session: options.session,
  }, progress);
  return {
    layers: result.layers,
    firstDivergent: result.firstDivergent,
    layerwise: { minCosine: result.minCosine, unmatched: result.unmatched, batches: result.batches },
    notes: result.notes,
  };
}

/**
 * The model itself when onnxruntime can run its opset, else a copy upgraded to opset 7 in `dir`
 * (ONNX Runtime implements no operator version older than that), with a note saying so.
 */
async function upgradedCopy(file: string, dir: string, notes: string[]): Promise<string> {
  const model = await loadModel(file);
  const opset = opsetVersion(model.proto);
  if (opset === undefined || opset >= RUNNABLE_OPSET) return file;
  const changes = upgradeOpset(model.proto, RUNNABLE_OPSET);
  const copy = path.join(dir, `${fs.readdirSync(dir).length}-${path.basename(file)}`);
  await saveModel(model, copy);
  notes.push(`${file} has opset ${opset}, older than ONNX Runtime runs: checked a copy upgraded to opset 7 (${changes.join('; ') || 'its operators mean the same there'})`);
  return copy;
}

/**
 * Runs both models on each input set and compares the candidate's outputs with the reference
 * model's; with a null gate the errors are reported, not judged. The input sets must fit the
 * reference (as read or generated for it); they are checked against the candidate only where its
 * inputs differ. Float inputs are cast to the dtype each model declares (an fp16 model with fp16
 * I/O against its fp32 original). Used by check against another model and by quantize's drift.
 */
export async function compareModels(
  reference: ModelRef, candidate: ModelRef, inputSets: TensorMap[], gate: GateOptions | null,
  session?: SessionOptions, progress: Progress = silent,
): Promise<CheckReport> {
  if (gate) checkToleranceNames(gate, reference.signature.outputs, reference.label);
  for (const output of reference.signature.outputs) {
    if (!candidate.signature.outputs.some((o) => o.name === output.name)) {
      throw new InputError(`${candidate.label} has no output '${output.name}', which ${reference.label} has`, {
        kind: 'missing-output',
        hint: `its outputs are ${candidate.signature.outputs.map((o) => o.name).join(', ')}`,
      });
    }
  }
  if (!sameShapes(reference.signature.inputs, candidate.signature.inputs)) {
    inputSets.forEach((set, i) => checkInputs(candidate.signature.inputs, castInputs(candidate.signature.inputs, set), inputSets.length > 1 ? `input set ${i} for ${candidate.label}` : `inputs for ${candidate.label}`));
  }
  const notes: string[] = [];
  // One session at a time: two copies of a large model need not be in memory together.
  const expected = await runAll(reference, inputSets, session, progress, notes);
  const actual = await runAll(candidate, inputSets, session, progress, notes);
  const names = reference.signature.outputs.map((o) => o.name);
  const perSet = inputSets.map((_, i) => compareAll(names, expected.outputs[i], actual.outputs[i], gate));
  const castNotes = castSummary(reference.signature, candidate.signature);
  return report(candidate.label, { kind: 'model', path: reference.label }, perSet, gate, actual.provider, [...castNotes, ...notes]);
}

/** The same input names with the same dims (dtypes may differ: floats are cast). */
function sameShapes(a: TensorInfo[], b: TensorInfo[]): boolean {
  const dims = (t: TensorInfo) => JSON.stringify(t.shape);
  return a.length === b.length && a.every((t) => b.some((u) => u.name === t.name && dims(u) === dims(t)));
}

async function runAll(
  model: ModelRef, inputSets: TensorMap[], options: SessionOptions | undefined, progress: Progress, notes: string[],
): Promise<{ outputs: TensorMap[]; provider: Provider }> {
  const { path: file, signature: sig } = model;
  const feeds = inputSets.map((set) => castInputs(sig.inputs, set));
  const session = await openSession(file, options);
  notes.push(...fallbackNotes(session.fallback));
  try {
    const outputs: TensorMap[] = [];
    for (const [i, feed] of feeds.entries()) {
      progress({ kind: 'phase', phase: 'running', detail: model.label, fraction: i / feeds.length });
      outputs.push(await session.run(feed, sig.outputs.map((o) => o.name)));
    }
    return { outputs, provider: session.provider };
  } finally {
    await session.release();
  }
}

/** The named outputs compared; expected and actual both hold them (checked before running). */
function compareAll(names: string[], expected: TensorMap, actual: TensorMap, gate: GateOptions | null): OutputComparison[] {
  return names.map((name) => compareTensors(name, expected.get(name)!, actual.get(name)!, gate));
}

function report(
  model: string, against: CheckReport['against'], perSet: OutputComparison[][], gate: GateOptions | null,
  provider: Provider, notes: string[],
): CheckReport {
  const outputs = (perSet[0] ?? []).map((_, o) => combineSets(perSet.map((set) => set[o])));
  if (gate?.minTop1 !== undefined && outputs.every((o) => o.top1Agreement === null)) {
    notes.push(`${opt('minTop1')} applies to no output: none has a class axis (rank 1-2 or a name like logits, with 2+ classes)`);
  }
  return {
    passed: gate ? outputs.every((o) => o.passed === true) : null,
    sets: perSet.length,
    outputs,
    notes,
    model,
    against,
    provider,
    gate: gate && resolveGate(gate),
  };
}

function resolveGate(gate: GateOptions): ResolvedGate {
  return {
    ...gate,
    topK: gate.topK ?? DEFAULT_GATE.topK,
    quantile: gate.quantile ?? DEFAULT_GATE.quantile,
  };
}

/** Which comparison the options ask for; contradictory or missing choices are usage errors. */
function checkChoice(options: CheckOptions, reference: string | undefined): void {
  const usage = (message: string, hint?: string) => new InputError(message, { kind: 'usage', hint });
  if (options.layerwise && !options.against) throw usage(`${opt('layerwise')} compares with a baseline model: give ${opt('against')}`);
  if (options.against && options.reference && !options.layerwise) throw usage(`give ${opt('reference')} or ${opt('against')}, not both`, `with ${opt('layerwise')}, the reference's inputs feed both models`);
  if (!options.against && !reference) {
    throw usage('nothing to compare with', `give ${opt('reference')} (an .npz or data-set folder), ${opt('against')} (a baseline .onnx), or an ONNX test folder as the model`);
  }
  const shaped = options.shapes && (Object.keys(options.shapes.shapes).length > 0 || Object.keys(options.shapes.dims).length > 0);
  if ((!options.against || options.reference) && (options.inputs || shaped)) {
    throw usage(`${options.inputs ? opt('inputs') : `${opt('shapes')}/${opt('dims')}`} only applies with ${opt('against')}; a reference brings its own inputs`);
  }
  if (options.inputs && shaped) throw usage(`${opt('shapes')}/${opt('dims')} apply to generated inputs, not to ${opt('inputs')}`);
}

/** The signature, refused when onnxruntime-node could not exchange the model's inputs or outputs. */
export function runnable(sig: ModelSignature, file: string): ModelSignature {
  for (const [what, list] of [['input', sig.inputs], ['output', sig.outputs]] as const) {
    for (const t of list) {
      // onnxruntime-node 1.30 answers "Non tensor type is temporarily not supported" for these.
      if (t.container && t.container !== 'optional') {
        throw new InputError(`${what} '${t.name}' of ${file} is a ${t.container} of ${t.dtype}; onnxruntime-node cannot ${what === 'input' ? 'take' : 'return'} a ${t.container} through JavaScript, so tdeploy cannot check this model`, {
          kind: 'unsupported-type',
          hint: 'expose the values as tensors (e.g. ConcatFromSequence or SequenceAt) to check them',
        });
      }
    }
  }
  return sig;
}

function checkToleranceNames(gate: GateOptions, outputs: TensorInfo[], file: string): void {
  for (const name of Object.keys(gate.perOutput ?? {})) {
    const output = outputs.find((o) => o.name === name);
    if (!output) {
      throw new InputError(`${opt('perOutput', name)}: ${file} has no output '${name}'`, { kind: 'usage', hint: `its outputs are ${outputs.map((o) => o.name).join(', ')}` });
    }
    if (!isFloat(output.dtype)) {
      throw new InputError(`${opt('perOutput', name)}: output '${name}' is ${output.dtype}, which is compared exactly`, { kind: 'usage' });
    }
  }
}

function fallbackNotes(fallback: string | undefined): string[] {
  return fallback ? [fallback] : [];
}
