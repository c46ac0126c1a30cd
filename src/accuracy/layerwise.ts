/**
 * Layer by layer: both models run with the intermediate tensors they share added as outputs, and
 * each tensor of the candidate is compared with the original's, in the original's topological
 * order. Tensors are fetched in batches of bounded size, one model's session at a time, so memory
 * holds one model and one batch of activations whatever the model's depth.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../errors.js';
import { OutputSet } from '../io/atomic.js';
import { type ModelProto, ModelProtoSchema, ValueInfoProtoSchema } from '../onnx/gen/onnx_pb.js';
import { type OnnxModel, hasExternalData, loadModel } from '../onnx/model.js';
import { saveModel } from '../onnx/save.js';
import { signature } from '../onnx/signature.js';
import { type Progress, silent } from '../progress.js';
import { inferTypes } from '../quantize/types.js';
import { type Provider, type SessionOptions, openSession, providerList } from '../runtime/session.js';
import { type Dtype, dtypeInfo } from '../tensor/dtype.js';
import type { TensorMap } from '../tensor/tensor.js';
import { type GateOptions, type OutputComparison, combineSets, compareTensors } from './compare.js';
import { castInputs } from './inputs.js';
import { type LayerMatch, errorJumps, matchLayers } from './layerwise-graph.js';

/** The cosine a layer must keep unless told otherwise: FP16's output gate, strict enough to see where INT8 rounding starts too. */
export const LAYERWISE_MIN_COSINE = 0.999;

/** Activations of the original held at once, over all input sets (the candidate's are compared as they come). */
export const DEFAULT_BATCH_BYTES = 256 * 2 ** 20;

export interface LayerwiseOptions {
  /** a layer below this cosine (or with NaN/infinity where the original is finite) diverges */
  minCosine?: number;
  /** bytes of the original's activations fetched per batch (default 256 MiB) */
  batchBytes?: number;
  session?: SessionOptions;
}

export interface LayerComparison {
  tensor: string;
  node: string;
  op: string;
  cosine: number | null;
  maxAbsError: number;
  meanAbsError: number;
  passed: boolean;
  /** 1 - cosine, at least 1 where NaN or infinity meet other values (the share of differing elements for booleans) */
  error: number;
  /** this layer's error minus the largest error of the compared layers it is computed from */
  jump: number;
  /** elements NaN or infinite against another value (an overflow), over all input sets */
  nonFinite: number;
  /** the candidate's name for the tensor, when it was matched through its node */
  candidateTensor?: string;
}

export interface FirstDivergent {
  tensor: string;
  node: string;
  op: string;
  cosine: number | null;
}

export interface LayerwiseResult {
  minCosine: number;
  /** in the original's topological order */
  layers: LayerComparison[];
  /** the first layer below the gate; null when every compared layer passes */
  firstDivergent: FirstDivergent | null;
  /** tensors of the original the candidate does not compute (fused away, renamed without a matching node) */
  unmatched: number;
  batches: number;
  provider: Provider;
  notes: string[];
}

/**
 * Compares every tensor the two models share on each input set (sets fit the original, as read
 * or generated for it; float inputs are cast to what each model declares).
 */
export async function compareLayers(
  originalFile: string, candidateFile: string, inputSets: TensorMap[], options: LayerwiseOptions = {}, progress: Progress = silent,
): Promise<LayerwiseResult> {
  const minCosine = options.minCosine ?? LAYERWISE_MIN_COSINE;
  const original = await loadForExposing(originalFile);
  const candidate = await loadForExposing(candidateFile);
  if (inputSets.length === 0) throw new InputError('no input set to run the models on');
  progress({ kind: 'phase', phase: 'matching layers' });
  const sizes = await activationBytes(original.proto, inputSets[0], originalFile);
  const { matched, unmatched } = matchLayers(original.proto.graph!, candidate.proto.graph!, (t) => sizes.has(t));
  const batches = packBatches(matched, sizes, Math.max(1, options.batchBytes ?? DEFAULT_BATCH_BYTES), inputSets.length);
  const gate: GateOptions = { atol: Infinity, rtol: 0, minCosine };
  const notes: string[] = [];
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tdeploy-layerwise-'));
  const compared = new Map<LayerMatch, OutputComparison>();
  const skipped: string[] = [];
  let provider: Provider = providerList(options.session?.provider)[0];
  try {
    for (const [b, batch] of batches.entries()) {
      const detail = `batch ${b + 1} of ${batches.length}`;
      progress({ kind: 'phase', phase: 'running the original', detail, fraction: b / batches.length });
      const expected = await runExposing(original, batch.map((l) => l.tensor), inputSets, scratch, options.session, notes);
      progress({ kind: 'phase', phase: 'running the candidate', detail, fraction: (b + 0.5) / batches.length });
      const perSet = new Map<LayerMatch, OutputComparison[]>();
      provider = (await runExposing(candidate, batch.map((l) => l.candidateTensor), inputSets, scratch, options.session, notes, (i, actual) => {
        for (const layer of batch) {
          try {
            const c = compareTensors(layer.tensor, expected.outputs[i].get(layer.tensor)!, actual.get(layer.candidateTensor)!, gate);
            perSet.set(layer, [...(perSet.get(layer) ?? []), c]);
          } catch (error) {
            if (!(error instanceof InputError)) throw error;
            if (i === 0) skipped.push(`${layer.tensor} (${error.message})`);
          }
        }
      })).provider;
      for (const [layer, sets] of perSet) if (sets.length === inputSets.length) compared.set(layer, combineSets(sets));
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const layers = layerRecords(original.proto, matched, compared);
  notes.push(`${layers.length} tensor(s) compared layer by layer in ${batches.length} batch(es)${unmatched.length ? `; ${unmatched.length} of the original's are not computed by the candidate (fused or renamed)` : ''}`);
  const byNode = layers.filter((l) => l.candidateTensor).length;
  if (byNode) notes.push(`${byNode} tensor(s) the candidate renamed were matched through the node that produces them`);
  if (skipped.length) notes.push(`${skipped.length} tensor(s) not compared: ${skipped.slice(0, 3).join('; ')}${skipped.length > 3 ? '; …' : ''}`);
  const first = layers.find((l) => !l.passed);
  return {
    minCosine,
    layers,
    firstDivergent: first ? { tensor: first.tensor, node: first.node, op: first.op, cosine: first.cosine } : null,
    unmatched: unmatched.length,
    batches: batches.length,
    provider,
    notes,
  };
}

function layerRecords(proto: ModelProto, matched: LayerMatch[], compared: Map<LayerMatch, OutputComparison>): LayerComparison[] {
  const kept = matched.filter((m) => compared.has(m));
  const errors = new Map(kept.map((m) => [m.tensor, layerError(compared.get(m)!)]));
  const jumps = errorJumps(proto.graph!, errors);
  return kept.map((m) => {
    const c = compared.get(m)!;
    return {
      tensor: m.tensor,
      node: m.node,
      op: m.op,
      cosine: c.cosine,
      maxAbsError: c.maxAbsError,
      meanAbsError: c.meanAbsError,
      passed: c.passed === true,
      error: errors.get(m.tensor)!,
      jump: jumps.get(m.tensor)!,
      nonFinite: c.exact ? 0 : c.mismatches,
      ...(m.matchedBy === 'node' ? { candidateTensor: m.candidateTensor } : {}),
    };
  });
}

/**
 * 1 - cosine. Under the layer gate (no element tolerance) a float mismatch is NaN or infinity
 * against another value, which the cosine skips: such a layer counts as fully off.
 */
function layerError(c: OutputComparison): number {
  if (c.cosine === null) return c.elements ? c.mismatches / c.elements : 0;
  const error = Math.max(0, 1 - c.cosine);
  return c.mismatches > 0 && !c.exact ? Math.max(1, error) : error;
}

/** Consecutive layers (topological order) whose activations over all sets fit the budget; a larger one goes alone. */
function packBatches(layers: LayerMatch[], sizes: Map<string, number>, budget: number, sets: number): LayerMatch[][] {
  const batches: LayerMatch[][] = [];
  let current: LayerMatch[] = [];
  let bytes = 0;
  for (const layer of layers) {
    const size = sizes.get(layer.tensor)! * sets;
    if (current.length > 0 && bytes + size > budget) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(layer);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * Bytes of each node output that can cross into JavaScript, from the types ONNX Runtime infers
 * with the graph inputs fixed to the first set's shapes. A tensor whose shape stays unknown
 * (computed from values) counts as large as the largest known one.
 */
async function activationBytes(proto: ModelProto, set: TensorMap, where: string): Promise<Map<string, number>> {
  const graph = proto.graph!;
  const input = graph.input.map((vi) => {
    const tensor = set.get(vi.name);
    if (!tensor || vi.type?.value.case !== 'tensorType') return vi;
    const dims = tensor.shape.map((d) => ({ value: { case: 'dimValue' as const, value: BigInt(d) } }));
    return create(ValueInfoProtoSchema, { name: vi.name, type: { value: { case: 'tensorType', value: { elemType: vi.type.value.value.elemType, shape: { dim: dims } } } } });
  });
  const types = await inferTypes({ ...proto, graph: { ...graph, input } }, where);
  const produced = new Set(graph.node.flatMap((n) => n.output));
  const known = new Map<string, number | undefined>();
  for (const [name, type] of types) {
    if (!produced.has(name) || !exchangeable(type.dtype)) continue;
    const fixed = type.shape.every((d): d is number => typeof d === 'number');
    known.set(name, fixed ? Math.max(1, type.shape.reduce((n: number, d) => n * (d as number), 1)) * Math.max(1, dtypeInfo(type.dtype).bits / 8) : undefined);
  }
  const largest = Math.max(1, ...[...known.values()].filter((v): v is number => v !== undefined));
  return new Map([...known].map(([name, bytes]) => [name, bytes ?? largest]));
}

/** onnxruntime-node returns it, and compareTensors reads it. */
function exchangeable(dtype: Dtype): boolean {
  const info = dtypeInfo(dtype);
  return info.ort !== undefined && info.bits >= 8 && info.kind !== 'complex';
}

interface Exposable {
  model: OnnxModel;
  proto: ModelProto;
  /** an external-data model's weights stay where they are: its exposing copy is written beside it */
  external: boolean;
  label: string;
}

/**
 * An external-data model is loaded with its embedded tensors in the message, so that the exposing
 * copy is the model file alone and reads the weights from where they are.
 */
async function loadForExposing(file: string): Promise<Exposable> {
  const model = await loadModel(file);
  const external = hasExternalData(model);
  const full = external ? await loadModel(file, { deferAbove: Infinity }) : model;
  return { model: full, proto: full.proto, external, label: file };
}

/**
 * Runs the model with `names` added as outputs on every set; `each` receives each set's values as
 * they come, else they are returned.
 */
async function runExposing(
  source: Exposable, names: string[], sets: TensorMap[], scratch: string, session: SessionOptions | undefined, notes: string[],
  each?: (set: number, values: TensorMap) => void,
): Promise<{ outputs: TensorMap[]; provider: Provider }> {
  const copy = await exposingCopy(source, names, scratch, notes);
  try {
    const s = await openSession(copy.file, session);
    if (s.fallback && !notes.includes(s.fallback)) notes.push(s.fallback);
    const sig = signature(source.proto);
    const outputs: TensorMap[] = [];
    try {
      for (const [i, set] of sets.entries()) {
        const values = await s.run(castInputs(sig.inputs, set), names);
        if (each) each(i, values);
        else outputs.push(values);
      }
    } finally {
      await s.release();
    }
    return { outputs, provider: s.provider };
  } finally {
    await copy.remove();
  }
}

/**
 * The model with `names` as extra graph outputs. ONNX Runtime reads external data only from the
 * model's own folder (it refuses absolute paths, `..` and links out of it), so an external-data
 * model's copy is its model file, written beside it under a temporary name; where that folder is
 * not writable, the weights are copied into `scratch` instead.
 */
async function exposingCopy(source: Exposable, names: string[], scratch: string, notes: string[]): Promise<{ file: string; remove(): Promise<void> }> {
  const graph = source.proto.graph!;
  const outputs = graph.output;
  const existing = new Set(outputs.map((o) => o.name));
  graph.output = [...outputs, ...[...new Set(names)].filter((n) => !existing.has(n)).map((name) => create(ValueInfoProtoSchema, { name }))];
  try {
    if (source.external) {
      const beside = new OutputSet();
      try {
        const file = await beside.temp(path.join(path.dirname(source.model.path), 'layerwise.onnx'));
        await fs.promises.writeFile(file, toBinary(ModelProtoSchema, source.proto));
        return { file, remove: () => beside.abort() };
      } catch (error) {
        await beside.abort();
        const note = `could not write beside ${source.label} (${(error as Error).message}): its weights were copied to a temporary folder for each batch`;
        if (!notes.includes(note)) notes.push(note);
      }
    }
    const file = path.join(scratch, `exposing-${fs.readdirSync(scratch).length}.onnx`);
    const saved = await saveModel(source.model, file, { externalData: source.external ? 'always' : 'auto' });
    const remove = async () => {
      for (const written of [file, saved.dataFile]) if (written) await fs.promises.rm(written, { force: true });
    };
    return { file, remove };
  } finally {
    graph.output = outputs;
  }
}
