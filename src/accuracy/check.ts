import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../errors.js';
import { loadModel } from '../onnx/model.js';
import { saveModel } from '../onnx/save.js';
import { type ModelSignature, type TensorInfo, opsetVersion, signature } from '../onnx/signature.js';
import { upgradeToOpset7 } from '../onnx/upgrade-opset.js';
import { type Progress, silent } from '../progress.js';
import { checkInputs } from '../runtime/inputs.js';
import { type Provider, type SessionOptions, openSession } from '../runtime/session.js';
import type { ShapeSpec } from '../runtime/shapes.js';
import { isFloat } from '../tensor/dtype.js';
import type { TensorMap } from '../tensor/tensor.js';
import { type GateOptions, type OutputComparison, DEFAULT_GATE, combineSets, compareTensors } from './compare.js';
import { castInputs, castSummary, generatedSets } from './inputs.js';
import { readDataSets, testFolder } from './reference.js';

/** Running a model against expected outputs, or against another model, and gating on the result. */
export interface CheckReport {
  passed: boolean;
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
  /** the gate applied, defaults filled in */
  gate: ResolvedGate;
}

export type ResolvedGate = GateOptions & typeof DEFAULT_GATE;

export interface CheckOptions {
  /** .npz (input and output names as keys) or a folder of test_data_set_* */
  reference?: string;
  /** another .onnx run on the same inputs; it is the baseline, the model is the candidate */
  against?: string;
  /** with against: .npz or data-set folder */
  inputs?: string;
  shapes?: ShapeSpec;
  seed?: number;
  intRange?: [number, number];
  session?: SessionOptions;
  gate: GateOptions;
  /** check a copy upgraded to opset 7 when the model's opset is older (ONNX Runtime no longer runs those) */
  upgradeOpset?: boolean;
}

/**
 * Checks `model` (an .onnx file, or an ONNX test folder holding model.onnx and its data sets)
 * against a reference or another model. A failed gate is a report with `passed: false`; bad
 * input (names, shapes, dtypes, files, a model onnxruntime cannot run) is an InputError.
 */
export async function check(model: string, options: CheckOptions, progress: Progress = silent): Promise<CheckReport> {
  const folder = testFolder(model);
  const modelFile = folder?.model ?? model;
  const reference = options.reference ?? (options.against ? undefined : folder?.dir);
  checkChoice(options, reference);
  const scratch = options.upgradeOpset ? fs.mkdtempSync(path.join(os.tmpdir(), 'tdeploy-check-')) : undefined;
  try {
    const notes: string[] = [];
    const runnable = async (file: string) => (scratch ? upgradedCopy(file, scratch, notes) : file);
    const report = options.against
      ? await checkAgainst(await runnable(modelFile), await runnable(options.against), options, progress)
      : await checkReference(await runnable(modelFile), reference!, options, progress);
    // the report names the user's files, not the upgraded copies
    const against = options.against ? { kind: 'model' as const, path: options.against } : report.against;
    return { ...report, model: modelFile, against, notes: [...notes, ...report.notes] };
  } finally {
    if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  }
}

async function checkAgainst(modelFile: string, against: string, options: CheckOptions, progress: Progress): Promise<CheckReport> {
  const baseline = await runnableSignature(against);
  const { sets, notes } = options.inputs ? await readDataSets(options.inputs, baseline, false) : generatedSets(baseline, options.shapes, options.seed, options.intRange);
  const report = await compareModels(against, modelFile, sets.map((s) => s.inputs), options.gate, options.session, progress);
  return { ...report, notes: [...notes, ...report.notes] };
}

async function checkReference(modelFile: string, reference: string, options: CheckOptions, progress: Progress): Promise<CheckReport> {
  const sig = await runnableSignature(modelFile);
  const names = sig.outputs.map((o) => o.name);
  checkToleranceNames(options.gate, sig.outputs, modelFile);
  progress({ kind: 'phase', phase: 'reading reference', detail: reference });
  const { sets, notes } = await readDataSets(reference, sig, true);
  const session = await openSession(modelFile, options.session, progress);
  const perSet: OutputComparison[][] = [];
  try {
    for (const [i, set] of sets.entries()) {
      progress({ kind: 'phase', phase: 'running', detail: set.source, fraction: i / sets.length });
      perSet.push(compareAll(names, set.outputs, await session.run(set.inputs, names), options.gate));
    }
  } finally {
    await session.release();
  }
  return report(modelFile, { kind: 'reference', path: reference }, perSet, options.gate, session.provider, [...notes, ...fallbackNotes(session.fallback)]);
}

/**
 * The model itself when onnxruntime can run its opset, else a copy upgraded to opset 7 in `dir`
 * (ONNX Runtime implements no operator version older than that), with a note saying so.
 */
async function upgradedCopy(file: string, dir: string, notes: string[]): Promise<string> {
  const model = await loadModel(file);
  const opset = opsetVersion(model.proto);
  if (opset === undefined || opset >= 7) return file;
  const changes = upgradeToOpset7(model.proto);
  const copy = path.join(dir, `${fs.readdirSync(dir).length}-${path.basename(file)}`);
  await saveModel(model, copy);
  notes.push(`${file} has opset ${opset}, older than ONNX Runtime runs: checked a copy upgraded to opset 7 (${changes.join('; ') || 'its operators mean the same there'})`);
  return copy;
}

/**
 * Runs both models on each input set and compares the candidate's outputs with the reference
 * model's. Float inputs are cast to the dtype each model declares (an fp16 model with fp16 I/O
 * against its fp32 original). Used by `check --against` and by quantize's drift report.
 */
export async function compareModels(
  reference: string, candidate: string, inputSets: TensorMap[], gate: GateOptions,
  session?: SessionOptions, progress: Progress = silent,
): Promise<CheckReport> {
  const [refSig, candSig] = [await runnableSignature(reference), await runnableSignature(candidate)];
  checkToleranceNames(gate, refSig.outputs, reference);
  for (const output of refSig.outputs) {
    if (!candSig.outputs.some((o) => o.name === output.name)) {
      throw new InputError(`${candidate} has no output '${output.name}', which ${reference} has`, {
        kind: 'missing-output',
        hint: `its outputs are ${candSig.outputs.map((o) => o.name).join(', ')}`,
      });
    }
  }
  const notes: string[] = [];
  // One session at a time: two copies of a large model need not be in memory together.
  const expected = await runAll(reference, refSig, inputSets, session, progress, notes);
  const actual = await runAll(candidate, candSig, inputSets, session, progress, notes);
  const names = refSig.outputs.map((o) => o.name);
  const perSet = inputSets.map((_, i) => compareAll(names, expected.outputs[i], actual.outputs[i], gate));
  const castNotes = castSummary(refSig, candSig);
  return report(candidate, { kind: 'model', path: reference }, perSet, gate, actual.provider, [...castNotes, ...notes]);
}

async function runAll(
  file: string, sig: ModelSignature, inputSets: TensorMap[], options: SessionOptions | undefined,
  progress: Progress, notes: string[],
): Promise<{ outputs: TensorMap[]; provider: Provider }> {
  const feeds = inputSets.map((set, i) => {
    const adapted = castInputs(sig.inputs, set);
    checkInputs(sig.inputs, adapted, inputSets.length > 1 ? `input set ${i} for ${file}` : `inputs for ${file}`);
    return adapted;
  });
  const session = await openSession(file, options, progress);
  notes.push(...fallbackNotes(session.fallback));
  try {
    const outputs: TensorMap[] = [];
    for (const [i, feed] of feeds.entries()) {
      progress({ kind: 'phase', phase: 'running', detail: file, fraction: i / feeds.length });
      outputs.push(await session.run(feed, sig.outputs.map((o) => o.name)));
    }
    return { outputs, provider: session.provider };
  } finally {
    await session.release();
  }
}

/** The named outputs compared; expected and actual both hold them (checked before running). */
function compareAll(names: string[], expected: TensorMap, actual: TensorMap, gate: GateOptions): OutputComparison[] {
  return names.map((name) => compareTensors(name, expected.get(name)!, actual.get(name)!, gate));
}

function report(
  model: string, against: CheckReport['against'], perSet: OutputComparison[][], gate: GateOptions,
  provider: Provider, notes: string[],
): CheckReport {
  const outputs = (perSet[0] ?? []).map((_, o) => combineSets(perSet.map((set) => set[o])));
  if (gate.minTop1 !== undefined && outputs.every((o) => o.top1Agreement === null)) {
    notes.push('--min-top1 applies to no output: none has a class axis (rank 1-2 or a name like logits, with 2+ classes)');
  }
  return {
    passed: outputs.every((o) => o.passed),
    sets: perSet.length,
    outputs,
    notes,
    model,
    against,
    provider,
    gate: resolveGate(gate),
  };
}

function resolveGate(gate: GateOptions): ResolvedGate {
  return {
    ...gate,
    atol: gate.atol ?? DEFAULT_GATE.atol,
    rtol: gate.rtol ?? DEFAULT_GATE.rtol,
    topK: gate.topK ?? DEFAULT_GATE.topK,
    quantile: gate.quantile ?? DEFAULT_GATE.quantile,
  };
}

/** Which comparison the options ask for; contradictory or missing choices are usage errors. */
function checkChoice(options: CheckOptions, reference: string | undefined): void {
  const usage = (message: string, hint?: string) => new InputError(message, { kind: 'usage', hint });
  if (options.against && options.reference) throw usage('give --reference or --against, not both');
  if (!options.against && !reference) {
    throw usage('nothing to compare with', 'give --reference <file.npz|data-set folder>, --against <baseline.onnx>, or an ONNX test folder as the model');
  }
  const shaped = options.shapes && (Object.keys(options.shapes.shapes).length > 0 || Object.keys(options.shapes.dims).length > 0);
  if (!options.against && (options.inputs || shaped)) {
    throw usage(`${options.inputs ? '--inputs' : '--shape/--dim'} only applies with --against; a reference brings its own inputs`);
  }
  if (options.inputs && shaped) throw usage('--shape/--dim apply to generated inputs, not to --inputs');
}

/** The model's signature, refused when onnxruntime-node could not exchange its inputs or outputs. */
async function runnableSignature(file: string): Promise<ModelSignature> {
  const sig = signature((await loadModel(file)).proto);
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
      throw new InputError(`--tolerance ${name}: ${file} has no output '${name}'`, { kind: 'usage', hint: `its outputs are ${outputs.map((o) => o.name).join(', ')}` });
    }
    if (!isFloat(output.dtype)) {
      throw new InputError(`--tolerance ${name}: output '${name}' is ${output.dtype}, which is compared exactly`, { kind: 'usage' });
    }
  }
}

function fallbackNotes(fallback: string | undefined): string[] {
  return fallback ? [fallback] : [];
}
