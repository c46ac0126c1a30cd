import type { NodeProto, TensorProto } from '../../onnx/gen/onnx_pb.js';
import type { OnnxModel } from '../../onnx/model.js';
import { tensorFromProto } from '../../onnx/tensor-proto.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { GraphView } from '../graph.js';
import type { ScratchSpace } from '../store.js';
import type { ValueType } from '../types.js';
import type { Term } from './shape-expr.js';

/** What fusions work on: the model, a view of its graph as it is now, and where new tensors go. */
export interface FusionGraph {
  model: OnnxModel;
  /** rebuilt after every fusion applied */
  view: GraphView;
  scratch: ScratchSpace;
  /** element types and shapes as ONNX Runtime infers them for the graph before fusion */
  types: Map<string, ValueType>;
  /** shapes in terms of the inputs' symbolic dims, where ONNX Runtime infers them (symbolic.ts) */
  sizes: Map<string, Term[]>;
  /** values made once and shared by every fused node that needs them (the int32 attention mask) */
  shared: Map<string, string>;
}

/** Why a candidate was left alone, for the report. */
export interface Bail {
  bail: string;
}

export const bail = (reason: string): Bail => ({ bail: reason });
export const isBail = (x: object): x is Bail => 'bail' in x;

/** A pattern found in the graph, to be replaced by fused nodes. */
export interface Match {
  /** the matched nodes: every value they produce goes away, except `outputs` */
  remove: NodeProto[];
  /** values of removed nodes that the fused nodes produce again, under the same names */
  outputs: string[];
  /** values the fused nodes read, which must stay alive */
  reads: string[];
  /** makes the fused nodes; called only once the pattern is known to be safe to replace */
  build(): Promise<{ nodes: NodeProto[]; initializers: TensorProto[] }>;
}

/**
 * One fusion: matching starts at every node of the anchor op type. `match` returns the pattern,
 * a reason the pattern is not exactly the fused op, or undefined when the anchor is not this
 * fusion's business (a Softmax that is no attention's) and not worth a line in the report.
 */
export interface Fusion {
  /** the fused op, as the report names it */
  name: string;
  anchor: string;
  match(anchor: NodeProto, g: FusionGraph): Match | Bail | undefined;
}

/** A constant's values when they are in the message (shape constants always are), else undefined. */
export function smallValues(g: FusionGraph, tensor: TensorProto): Tensor | undefined {
  return g.model.ranges.has(tensor) ? undefined : tensorFromProto(tensor);
}
