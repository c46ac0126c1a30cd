import type { AttributeProto, GraphProto, NodeProto, TensorProto, ValueInfoProto } from '../../onnx/gen/onnx_pb.js';
import { type OnnxModel, readTensor } from '../../onnx/model.js';
import { tensorFromProto, tensorToProto } from '../../onnx/tensor-proto.js';
import { onnxFromDtype } from '../../tensor/dtype.js';
import {
  type GraphView, allNames, attr, freeNames, freshName, makeNode, nodeLabel, renameInput, sortTopologically, subgraphFreeNames, subgraphs, viewGraph,
} from '../graph.js';
import { inferBodyTypes } from '../types.js';
import { nodesReadingWideConstants } from './clamp-block.js';
import type { BlockedNode } from '../result.js';
import type { ScratchSpace } from '../store.js';
import type { ValueType } from '../types.js';
import { type BlockRules, blockReason } from './block-list.js';
import { type ClampCount, noClamps, toFloat16 } from './halves.js';

type Precision = 'float32' | 'float16';

export interface Fp16Options {
  keepIoTypes: boolean;
  block: BlockRules;
}

export interface Fp16Result {
  nodesConverted: number;
  blockedNodes: BlockedNode[];
  clamped: ClampCount;
}

const FLOAT = onnxFromDtype('float32');
const FLOAT16 = onnxFromDtype('float16');

/** Outputs whose type an attribute fixes to float32 whatever the inputs are (LayerNormalization's stash_type). */
const FLOAT32_OUTPUTS: Record<string, number[]> = { LayerNormalization: [1, 2] };
/** Inputs of any type: a float32 value read there needs no cast. */
const ANY_TYPE_INPUTS: Record<string, number[]> = { Shape: [0], Size: [0], Cast: [0] };

/**
 * Rewrites the model to float16, its main graph and every If/Loop/Scan body in it. Every float32
 * value gets a precision: float32 where a blocked node produces it (or a kept graph input),
 * float16 elsewhere; constants follow their readers. Where a reader needs the other precision,
 * one shared Cast is inserted, so every edge of the result is type-consistent. Converted
 * initializers are written one at a time to the scratch space, never held together.
 */
export async function convertToFloat16(model: OnnxModel, types: Map<string, ValueType>, options: Fp16Options, scratch: ScratchSpace): Promise<Fp16Result> {
  const result: Fp16Result = { nodesConverted: 0, blockedNodes: [], clamped: noClamps() };
  const job: Job = { model, options, scratch, names: allNames(model.proto.graph!), halved: new Set(), result };
  await convertGraph(job, model.proto.graph!, types, options.keepIoTypes);
  return result;
}

interface Job {
  model: OnnxModel;
  options: Fp16Options;
  scratch: ScratchSpace;
  /** every name of the model, so that a Cast added in a body shadows nothing outside it */
  names: Set<string>;
  /** constants handed to the bodies that read them in float16 */
  halved: Set<string>;
  result: Fp16Result;
}

/**
 * Converts one graph. A node holding subgraphs keeps float32 at its edges (its inputs, outputs
 * and the outer values its bodies read), so If branches and Loop bodies agree on their types
 * whatever each converts; each body is then converted inside those float32 edges.
 */
async function convertGraph(job: Job, graph: GraphProto, types: Map<string, ValueType>, keepIo: boolean): Promise<void> {
  const { model, options, scratch, result } = job;
  const view = viewGraph(graph, job.names);
  const isFloat32 = (name: string) => types.get(name)?.dtype === 'float32';
  const rules = { ...options.block, auto: new Map([...await nodesReadingWideConstants(model, view), ...options.block.auto]) };
  const blocked = new Map<NodeProto, string>();
  for (const node of graph.node) {
    const reason = blockReason(node, rules);
    if (reason && touchesFloat(node, isFloat32)) blocked.set(node, reason);
  }
  const float32Edges = (node: NodeProto) => blocked.has(node) || subgraphs(node).length > 0;
  const graphOutputPrecision: Precision = keepIo ? 'float32' : 'float16';
  const needs = (node: NodeProto, slot: number): Precision | undefined => {
    if (float32Edges(node)) return 'float32';
    return ANY_TYPE_INPUTS[node.opType]?.includes(slot) ? undefined : 'float16';
  };
  const wantsFloat16 = (name: string) =>
    (view.graphOutputs.has(name) && graphOutputPrecision === 'float16') ||
    (view.consumers.get(name) ?? []).some((c) => readInBodies(c, name) || c.input.some((input, slot) => input === name && needs(c, slot) === 'float16'));

  const precision = new Map<string, Precision>();
  const initializers = new Set(graph.initializer.map((t) => t.name));
  const constants = new Set([...initializers, ...graph.node.filter((n) => n.opType === 'Constant' && !blocked.has(n)).flatMap((n) => n.output)]);
  // A constant that only bodies read (Silero VAD's LSTM weights, sliced inside a nested If) decides
  // no branch's types, unlike the node's own inputs and outputs: it goes to the bodies in float16,
  // and each body casts it back where one of its readers needs float32.
  const bodiesTakeHalf = (node: NodeProto, name: string) =>
    !blocked.has(node) && !node.input.includes(name) && subgraphFreeNames(node).includes(name) && !returnedByBody(node, name);
  const readInBodies = (node: NodeProto, name: string) => constants.has(name) && bodiesTakeHalf(node, name);
  const passesHalf = (node: NodeProto, name: string) => (constants.has(name) || job.halved.has(name)) && bodiesTakeHalf(node, name);
  for (const input of graph.input) {
    if (isFloat32(input.name) && !initializers.has(input.name)) precision.set(input.name, keepIo ? 'float32' : 'float16');
  }
  // What a body reads from the enclosing graphs is float32 there (see float32Edges).
  for (const name of freeNames(graph)) if (isFloat32(name)) precision.set(name, job.halved.has(name) ? 'float16' : 'float32');
  for (const name of initializers) {
    if (!isFloat32(name)) continue;
    precision.set(name, view.graphOutputs.has(name) ? graphOutputPrecision : wantsFloat16(name) ? 'float16' : 'float32');
  }
  for (const node of graph.node) {
    node.output.forEach((output, slot) => {
      if (!output || !isFloat32(output)) return;
      const fixed = float32Edges(node) || FLOAT32_OUTPUTS[node.opType]?.includes(slot);
      const constant = node.opType === 'Constant' && !blocked.has(node);
      precision.set(output, fixed ? 'float32' : constant ? (wantsFloat16(output) ? 'float16' : 'float32') : 'float16');
    });
  }

  const added: NodeProto[] = [];
  const casts = new Map<string, string>();
  const castTo = (name: string, to: Precision): string => {
    const key = `${name}\u0000${to}`;
    let out = casts.get(key);
    if (!out) {
      out = freshName(view, `${name}_${to === 'float16' ? 'fp16' : 'fp32'}`);
      added.push(makeNode('Cast', [name], [out], { name: freshName(view, `Cast_${out}`), attributes: [attr.int('to', to === 'float16' ? FLOAT16 : FLOAT)] }));
      precision.set(out, to);
      // Bodies converted below are typed with it.
      types.set(out, { dtype: to, shape: types.get(name)?.shape ?? [] });
      casts.set(key, out);
    }
    return out;
  };

  retypeGraphOutputs(view, precision, graphOutputPrecision, added);
  for (const node of [...graph.node]) {
    node.input.forEach((input, slot) => {
      const have = precision.get(input);
      const want = have && needs(node, slot);
      if (have && want && have !== want) node.input[slot] = castTo(input, want);
    });
    if (!float32Edges(node)) continue;
    for (const name of subgraphFreeNames(node)) {
      if (precision.get(name) !== 'float16') continue;
      if (passesHalf(node, name)) job.halved.add(name);
      else renameInput(node, name, castTo(name, 'float32'));
    }
  }

  for (const node of graph.node) {
    if (float32Edges(node) || !node.output.some((o) => precision.get(o) === 'float16')) continue;
    result.nodesConverted++;
    rewriteAttributes(node, result.clamped);
  }
  for (const [i, tensor] of graph.initializer.entries()) {
    if (precision.get(tensor.name) !== 'float16') continue;
    graph.initializer[i] = await scratch.put(tensor.name, toFloat16(tensor.name, await readTensor(model, tensor), result.clamped));
    model.ranges.delete(tensor);
  }
  graph.node = sortTopologically([...graph.node, ...added]);
  for (const value of [...graph.input, ...graph.output, ...graph.valueInfo]) retype(value, precision.get(value.name));
  result.blockedNodes.push(...[...blocked].map(([node, reason]) => ({ node: nodeLabel(node), op: node.opType, reason })));
  for (const node of graph.node) {
    if (blocked.has(node)) continue;
    for (const body of subgraphs(node)) await convertGraph(job, body, await inferBodyTypes(model.proto, body, types, model.path), true);
  }
}

/** A body (at any depth) returns the outer value itself: its output type would change with it. */
function returnedByBody(node: NodeProto, name: string): boolean {
  return subgraphs(node).some((body) => body.output.some((o) => o.name === name) || body.node.some((inner) => returnedByBody(inner, name)));
}

function touchesFloat(node: NodeProto, isFloat32: (name: string) => boolean): boolean {
  return [...node.input, ...node.output, ...subgraphFreeNames(node)].some((n) => n && isFloat32(n));
}

/**
 * A graph output keeps its name, so where its producer computes the other precision the
 * producer's value is renamed and a Cast writes the output.
 */
function retypeGraphOutputs(view: GraphView, precision: Map<string, Precision>, want: Precision, added: NodeProto[]): void {
  for (const output of view.graph.output) {
    const have = precision.get(output.name);
    const producer = view.producers.get(output.name);
    if (!have || have === want || !producer) continue;
    const inner = freshName(view, `${output.name}_${have === 'float16' ? 'fp16' : 'fp32'}`);
    producer.output = producer.output.map((o) => (o === output.name ? inner : o));
    for (const consumer of view.consumers.get(output.name) ?? []) renameInput(consumer, output.name, inner);
    precision.set(inner, have);
    precision.set(output.name, want);
    added.push(makeNode('Cast', [inner], [output.name], { name: freshName(view, `Cast_${output.name}`), attributes: [attr.int('to', want === 'float16' ? FLOAT16 : FLOAT)] }));
  }
}

/** Attributes that carry float32 types or values in a converted node. */
function rewriteAttributes(node: NodeProto, clamped: ClampCount): void {
  const rewrite = attributeRewrites[node.opType];
  if (!rewrite) return;
  // ConstantOfShape without a value fills float32 zeros; a float16 one must say so.
  if (node.opType === 'ConstantOfShape' && !node.attribute.some((a) => a.name === 'value')) {
    node.attribute.push(attr.tensor('value', tensorToProto('', { dtype: 'float16', shape: [1], data: new Uint16Array(1) })));
    return;
  }
  node.attribute = node.attribute.map((a) => rewrite(a, nodeLabel(node), clamped));
}

type AttributeRewrite = (a: AttributeProto, label: string, clamped: ClampCount) => AttributeProto;

const halfTensor = (t: TensorProto, label: string, clamped: ClampCount): TensorProto =>
  t.dataType === FLOAT ? tensorToProto(t.name, toFloat16(label, tensorFromProto(t), clamped)) : t;

const attributeRewrites: Record<string, AttributeRewrite> = {
  Cast: (a) => (a.name === 'to' && Number(a.i) === FLOAT ? attr.int('to', FLOAT16) : a),
  ConstantOfShape: (a, label, clamped) => (a.name === 'value' && a.t ? attr.tensor('value', halfTensor(a.t, label, clamped)) : a),
  Constant: (a, label, clamped) => {
    const scalar = (values: number[], dims: number[]) =>
      attr.tensor('value', halfTensor(tensorToProto('', { dtype: 'float32', shape: dims, data: Float32Array.from(values) }), label, clamped));
    if (a.name === 'value' && a.t) return attr.tensor('value', halfTensor(a.t, label, clamped));
    if (a.name === 'value_float') return scalar([a.f], []);
    if (a.name === 'value_floats') return scalar(a.floats, [a.floats.length]);
    return a;
  },
};

function retype(value: ValueInfoProto, to: Precision | undefined): void {
  if (!to || value.type?.value.case !== 'tensorType') return;
  value.type.value.value.elemType = to === 'float16' ? FLOAT16 : FLOAT;
}
