import type { InputError } from '../../errors.js';
import { type AttributeProto, type GraphProto, type NodeProto, type TensorProto, TensorProto_DataType } from '../gen/onnx_pb.js';
import type { Tensor } from '../../tensor/tensor.js';

/** What an adapter may ask about the graph it rewrites, and how it adds to it. */
export interface StepContext {
  /** the opset the node is at before this step */
  from: number;
  /** the rank of a value, where the graph states it (inputs, value_info, initializers, Constant outputs) */
  rank(name: string): number | undefined;
  setRank(name: string, rank: number): void;
  /** the element type of a value (TensorProto_DataType), where it can be told from the graph */
  elemType(name: string): number | undefined;
  /** an initializer holding one value, which broadcasts the same under every rule */
  single(name: string): boolean;
  /** the values of a constant (an initializer or a Constant node of this graph or an enclosing one), else undefined */
  values(name: string): number[] | undefined;
  /** whether any node of any graph, or a graph output, reads the value */
  consumed(name: string): boolean;
  /** a name no graph of the model uses yet, reserved on return */
  fresh(base: string): string;
  /** a new initializer of the graph being rewritten, named after `base`; returns its name */
  constant(base: string, tensor: Tensor): string;
  cannot(why: string): InputError;
}

/** What one step did to a node: nodes to run before and after it, and a line for the report. */
export interface StepResult {
  before?: NodeProto[];
  after?: NodeProto[];
  change: string;
}

export type Adapter = (node: NodeProto, ctx: StepContext) => StepResult | undefined;

export function find(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

export function text(attribute: AttributeProto | undefined): string | undefined {
  return attribute ? new TextDecoder().decode(attribute.s) : undefined;
}

/** Removes the named attributes and returns them, by name. */
export function take(node: NodeProto, names: string[]): Map<string, AttributeProto> {
  const taken = new Map(node.attribute.filter((a) => names.includes(a.name)).map((a) => [a.name, a]));
  node.attribute = node.attribute.filter((a) => !names.includes(a.name));
  return taken;
}

export function setAttribute(node: NodeProto, attribute: AttributeProto): void {
  node.attribute = [...node.attribute.filter((a) => a.name !== attribute.name), attribute];
}

export const int64s = (values: number[]): Tensor => ({ dtype: 'int64', shape: [values.length], data: BigInt64Array.from(values.map(BigInt)) });

/** Ops whose output type is fixed whatever their input; the others of ai.onnx mostly give their first input's type. */
const OUTPUT_TYPE: Record<string, number> = {
  Shape: TensorProto_DataType.INT64, Size: TensorProto_DataType.INT64, ArgMax: TensorProto_DataType.INT64, ArgMin: TensorProto_DataType.INT64,
  NonZero: TensorProto_DataType.INT64, Equal: TensorProto_DataType.BOOL, Greater: TensorProto_DataType.BOOL, Less: TensorProto_DataType.BOOL,
  Not: TensorProto_DataType.BOOL, And: TensorProto_DataType.BOOL, Or: TensorProto_DataType.BOOL, Xor: TensorProto_DataType.BOOL,
  IsNaN: TensorProto_DataType.BOOL, IsInf: TensorProto_DataType.BOOL,
};

/**
 * Ranks and element types the graph states (inputs, outputs, value_info, initializers, Constant
 * values), element types carried forward through the nodes: Clip and Pad need the type of their
 * input to write their bounds and padding value as tensors.
 */
export function knownValues(graph: GraphProto, outer: Known): Known {
  const ranks = new Map(outer.ranks);
  const types = new Map(outer.types);
  const constants = new Map(outer.constants);
  for (const value of [...graph.input, ...graph.valueInfo, ...graph.output]) {
    const type = value.type?.value;
    if (type?.case !== 'tensorType') continue;
    if (type.value.shape) ranks.set(value.name, type.value.shape.dim.length);
    if (type.value.elemType) types.set(value.name, type.value.elemType);
  }
  for (const tensor of graph.initializer) {
    constants.set(tensor.name, tensor);
    ranks.set(tensor.name, tensor.dims.length);
    types.set(tensor.name, tensor.dataType);
  }
  for (const node of graph.node) {
    const value = node.opType === 'Constant' ? find(node, 'value')?.t : undefined;
    if (value) {
      constants.set(node.output[0], value);
      ranks.set(node.output[0], value.dims.length);
      types.set(node.output[0], value.dataType);
      continue;
    }
    const type = outputType(node, types);
    if (type !== undefined && node.output[0] && !types.has(node.output[0])) types.set(node.output[0], type);
  }
  // an initializer that is also a graph input can be fed another value
  for (const input of graph.input) constants.delete(input.name);
  return { ranks, types, constants };
}

export interface Known {
  ranks: Map<string, number>;
  types: Map<string, number>;
  constants: Map<string, TensorProto>;
}

function outputType(node: NodeProto, types: Map<string, number>): number | undefined {
  if (node.opType === 'Cast') return Number(find(node, 'to')?.i);
  if (node.opType === 'ConstantOfShape') return find(node, 'value')?.t?.dataType ?? TensorProto_DataType.FLOAT;
  return OUTPUT_TYPE[node.opType] ?? types.get(node.input[0]);
}
