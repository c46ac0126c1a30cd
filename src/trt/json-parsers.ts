import { InputError } from '../errors.js';
import type { Dtype } from '../tensor/dtype.js';
import { trtDtype } from './bindings.js';
import type { LayerProfile, LayerTime } from './summary.js';

/**
 * trtexec's JSON exports: --exportTimes (one entry per timed inference), --exportProfile (time
 * per layer) and --exportLayerInfo (the engine's layers and bindings).
 */

/** One timed inference of --exportTimes, in ms. */
export interface TimingSample {
  /** host time to enqueue (absent in 7.0) */
  enqueueMs?: number;
  h2dMs: number;
  computeMs: number;
  d2hMs: number;
  /** h2d + compute + d2h */
  latencyMs: number;
  /** 7.x to 8.2 only */
  endToEndMs?: number;
}

type Json = unknown;

function fail(what: string, why: string): never {
  throw new InputError(`not a trtexec ${what} file: ${why}`, { kind: 'invalid-json' });
}

function parse(text: string, what: string): Json {
  try {
    return JSON.parse(text);
  } catch (error) {
    return fail(what, (error as Error).message);
  }
}

const isRecord = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: Json) => (typeof v === 'number' ? v : undefined);

/** Parses --exportTimes. 7.x named the transfers `inMs`/`outMs`. */
export function parseExportTimes(text: string): TimingSample[] {
  const data = parse(text, '--exportTimes');
  if (!Array.isArray(data)) fail('--exportTimes', 'expected a JSON array');
  return data.map((entry, i) => {
    if (!isRecord(entry)) fail('--exportTimes', `entry ${i} is not an object`);
    const computeMs = num(entry.computeMs);
    const latencyMs = num(entry.latencyMs);
    if (computeMs === undefined || latencyMs === undefined) fail('--exportTimes', `entry ${i} has no computeMs/latencyMs`);
    // 7.2 (the 7.x layout, inMs, with Enq times) wrote the enqueue times under startInMs/endInMs and
    // the H2D ones under startEnqMs/endEnqMs; 7.0's In times are H2D, and it has no enqueue times
    const swapped = num(entry.inMs) !== undefined && num(entry.startEnqMs) !== undefined;
    const startEnq = num(swapped ? entry.startInMs : entry.startEnqMs);
    const endEnq = num(swapped ? entry.endInMs : entry.endEnqMs);
    return {
      ...(startEnq !== undefined && endEnq !== undefined ? { enqueueMs: endEnq - startEnq } : {}),
      h2dMs: num(entry.h2dMs) ?? num(entry.inMs) ?? 0,
      computeMs,
      d2hMs: num(entry.d2hMs) ?? num(entry.outMs) ?? 0,
      latencyMs,
      ...(num(entry.endToEndMs) !== undefined ? { endToEndMs: num(entry.endToEndMs) } : {}),
    };
  });
}

/** Parses --exportProfile: `[{"count": N}, {"name", "timeMs", "averageMs", "medianMs" (8.4+), "percentage"}, ...]`. */
export function parseExportProfile(text: string): LayerProfile {
  const data = parse(text, '--exportProfile');
  if (!Array.isArray(data) || !isRecord(data[0]) || num(data[0].count) === undefined) fail('--exportProfile', 'expected [{"count": N}, ...layers]');
  const layers = data.slice(1).map((entry, i): LayerTime => {
    if (!isRecord(entry) || typeof entry.name !== 'string') fail('--exportProfile', `entry ${i + 1} has no layer name`);
    const [timeMs, averageMs, percentage] = [entry.timeMs, entry.averageMs, entry.percentage].map(num);
    if (timeMs === undefined || averageMs === undefined || percentage === undefined) fail('--exportProfile', `layer '${entry.name}' lacks timeMs/averageMs/percentage`);
    const medianMs = num(entry.medianMs);
    return { name: entry.name, timeMs, averageMs, ...(medianMs !== undefined ? { medianMs } : {}), percentage };
  });
  return { iterations: num((data[0] as Record<string, Json>).count)!, layers, total: null };
}

export interface LayerTensor {
  name: string;
  dims: number[] | null;
  /** as TensorRT states it, e.g. "Float", "Int64" */
  format: string | null;
}

export interface LayerDetail {
  name: string;
  /** absent with --profilingVerbosity=layer_names_only */
  type?: string;
  inputs: LayerTensor[];
  outputs: LayerTensor[];
  tactic?: string;
  /** the ONNX nodes fused into the layer */
  onnxNodes: string[];
}

export interface LayerInfo {
  verbosity: 'layer_names_only' | 'detailed' | 'none';
  layers: LayerDetail[];
  /** the engine's I/O tensor names, inputs first */
  bindings: string[];
}

function tensors(v: Json): LayerTensor[] {
  if (!Array.isArray(v)) return [];
  return v.filter(isRecord).map((t) => ({
    name: String(t.Name ?? ''),
    dims: Array.isArray(t.Dimensions) ? t.Dimensions.map(Number) : null,
    format: typeof t['Format/Datatype'] === 'string' ? t['Format/Datatype'] : null,
  }));
}

/** Parses --exportLayerInfo: `{"Layers": [names or objects], "Bindings": [names]}`. */
export function parseLayerInfo(text: string): LayerInfo {
  const data = parse(text, '--exportLayerInfo');
  if (!isRecord(data) || !Array.isArray(data.Bindings)) fail('--exportLayerInfo', 'expected {"Layers": [...], "Bindings": [...]}');
  const raw = Array.isArray(data.Layers) ? data.Layers : [];
  const detailed = raw.some(isRecord);
  const layers = raw.map((layer): LayerDetail => {
    if (!isRecord(layer)) return { name: String(layer), inputs: [], outputs: [], onnxNodes: [] };
    return {
      name: String(layer.Name ?? ''),
      ...(typeof layer.LayerType === 'string' ? { type: layer.LayerType } : {}),
      inputs: tensors(layer.Inputs),
      outputs: tensors(layer.Outputs),
      ...(typeof layer.TacticName === 'string' ? { tactic: layer.TacticName } : {}),
      // ONNX node names are joined with the record/unit separators U+001E and U+001F
      onnxNodes: typeof layer.Metadata === 'string'
        ? layer.Metadata.split(/[\u001e\u001f]/).map((m) => /^\[ONNX Layer: (.*)\]$/.exec(m)?.[1]).filter((m): m is string => Boolean(m))
        : [],
    };
  });
  return { verbosity: raw.length === 0 ? 'none' : detailed ? 'detailed' : 'layer_names_only', layers, bindings: data.Bindings.map(String) };
}

export interface LayerInfoBinding {
  name: string;
  /** null with layer_names_only, where nothing but the names is exported */
  io: 'input' | 'output' | null;
  dtype: Dtype | null;
  dims: number[] | null;
}

/** The first TensorRT type name inside a format text: "Float", "Int64", "Row major linear FP16 format". */
function formatDtype(format: string | null): Dtype | null {
  for (const word of format?.split(/[^\w]+/) ?? []) {
    const dtype = trtDtype(word);
    if (dtype) return dtype;
  }
  return null;
}

/**
 * The engine's I/O from a detailed layer-info export: a binding some layer writes is an output,
 * the others are inputs; dims and type come from the first layer that touches it.
 */
export function layerInfoBindings(info: LayerInfo): LayerInfoBinding[] {
  return info.bindings.map((name) => {
    const written = info.layers.flatMap((l) => l.outputs).find((t) => t.name === name);
    const tensor = written ?? info.layers.flatMap((l) => l.inputs).find((t) => t.name === name);
    return {
      name,
      io: info.verbosity === 'detailed' ? (written ? 'output' : 'input') : null,
      dtype: formatDtype(tensor?.format ?? null),
      dims: tensor?.dims ?? null,
    };
  });
}
