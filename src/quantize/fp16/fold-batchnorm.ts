/**
 * BatchNormalization folded into the op before it, before any float16 conversion. A BN in
 * inference form is y = (x - mean) * s + beta with s = scale / sqrt(var + epsilon) per channel
 * (axis 1); when x is the only output of a Conv, ConvTranspose, Gemm or MatMul with constant
 * weights, the weights times s and a new bias give the same y with no BN left. Its running
 * variances (1e7 in real detectors) never reach float16 that way, where they would be clamped to
 * 65504. The arithmetic is float64, rounded to float32 once. A per-channel constant added between
 * the op and the BN (PaddlePaddle exports a ConvTranspose's bias so) is folded with it.
 */
import type { NodeProto } from '../../onnx/gen/onnx_pb.js';
import { type OnnxModel, readTensor } from '../../onnx/model.js';
import { tensorDtype } from '../../onnx/tensor-proto.js';
import { type GraphView, attr, constantTensor, dropUnused, floatAttr, freshName, intAttr, isOnnxOp, makeNode, sortTopologically, viewGraph } from '../graph.js';
import type { ScratchSpace } from '../store.js';
import type { ValueType } from '../types.js';

/** The affine map a BN applies per channel: y = x * scale + shift. */
interface ChannelAffine {
  scale: Float64Array;
  shift: Float64Array;
}

interface FoldContext {
  model: OnnxModel;
  view: GraphView;
  types: Map<string, ValueType>;
  scratch: ScratchSpace;
  /** new nodes (MatMul's bias Add) */
  added: NodeProto[];
}

/**
 * Rewrites `producer` to compute BN(producer's output) and returns the node that now writes the
 * BN's value (the producer, or an Add after it); undefined when the weights do not allow it.
 */
type Folder = (producer: NodeProto, bn: ChannelAffine, ctx: FoldContext) => Promise<NodeProto | undefined>;

/** Folds every BatchNormalization it can; returns how many, by the op each went into. */
export async function foldBatchNorms(model: OnnxModel, types: Map<string, ValueType>, scratch: ScratchSpace): Promise<Record<string, number>> {
  const graph = model.proto.graph!;
  const view = viewGraph(graph);
  const ctx: FoldContext = { model, view, types, scratch, added: [] };
  const folded: Record<string, number> = {};
  const removed = new Set<NodeProto>();
  for (const bn of graph.node) {
    if (bn.opType !== 'BatchNormalization' || !isOnnxOp(bn) || intAttr(bn, 'training_mode', 0) !== 0) continue;
    if (bn.output.slice(1).some(Boolean)) continue;
    const direct = view.producers.get(bn.input[0]);
    if (!direct || !soleReader(view, direct.output[0], bn)) continue;
    const bnAffine = await channelAffine(bn, ctx);
    const through = bnAffine && (await biasAdd(direct, bnAffine.scale.length, ctx));
    const producer = through?.producer ?? direct;
    const fold = isOnnxOp(producer) ? FOLDERS[producer.opType] : undefined;
    if (!bnAffine || !fold) continue;
    // y = (x + b - mean)·s + beta: the added bias b moves the shift by b·s.
    const affine = through ? { scale: bnAffine.scale, shift: bnAffine.shift.map((t, c) => t + through.bias[c] * bnAffine.scale[c]) } : bnAffine;
    const writer = await fold(producer, affine, ctx);
    if (!writer) continue;
    writer.output[0] = bn.output[0];
    removed.add(bn);
    if (through) removed.add(direct);
    folded[producer.opType] = (folded[producer.opType] ?? 0) + 1;
  }
  if (removed.size === 0) return folded;
  graph.node = sortTopologically([...graph.node.filter((n) => !removed.has(n)), ...ctx.added]);
  for (const tensor of dropUnused(graph)) model.ranges.delete(tensor);
  const names = new Set(graph.node.flatMap((n) => n.output));
  graph.valueInfo = graph.valueInfo.filter((v) => names.has(v.name));
  return folded;
}

/** The value is read by the BN alone (not by another node, not a graph output). */
function soleReader(view: GraphView, name: string, bn: NodeProto): boolean {
  const readers = view.consumers.get(name) ?? [];
  return readers.length === 1 && readers[0] === bn && !view.graphOutputs.has(name);
}

/**
 * `add` = Add(x, b) where x is the sole output of a foldable op read by the Add alone and b a
 * constant with one value per channel (axis 1) or one for all: the op, and b per channel.
 */
async function biasAdd(add: NodeProto, channels: number, ctx: FoldContext): Promise<{ producer: NodeProto; bias: Float64Array } | undefined> {
  if (add.opType !== 'Add' || !isOnnxOp(add)) return undefined;
  const rank = ctx.types.get(add.output[0])?.shape.length;
  for (const slot of [0, 1]) {
    const producer = ctx.view.producers.get(add.input[slot]);
    const tensor = constantTensor(ctx.view, add.input[1 - slot]);
    if (!producer || !isOnnxOp(producer) || !FOLDERS[producer.opType] || !soleReader(ctx.view, add.input[slot], add)) continue;
    if (!tensor || tensorDtype(tensor) !== 'float32' || rank === undefined || !perChannel(tensor.dims.map(Number), rank, channels)) continue;
    const values = Float64Array.from((await readTensor(ctx.model, tensor)).data as Float32Array);
    return { producer, bias: values.length === 1 ? new Float64Array(channels).fill(values[0]) : values };
  }
  return undefined;
}

/** A shape that broadcasts against a rank-`rank` value along its axis 1 alone (or is one value). */
function perChannel(dims: number[], rank: number, channels: number): boolean {
  if (dims.length > rank || rank < 2) return false;
  const aligned = [...new Array<number>(rank - dims.length).fill(1), ...dims];
  return aligned.every((d, axis) => d === 1 || (axis === 1 && d === channels));
}

async function constantValues(ctx: FoldContext, name: string | undefined): Promise<Float64Array | undefined> {
  const tensor = name ? constantTensor(ctx.view, name) : undefined;
  if (!tensor || tensorDtype(tensor) !== 'float32') return undefined;
  return Float64Array.from((await readTensor(ctx.model, tensor)).data as Float32Array);
}

async function channelAffine(bn: NodeProto, ctx: FoldContext): Promise<ChannelAffine | undefined> {
  const [gamma, beta, mean, variance] = await Promise.all(bn.input.slice(1, 5).map((n) => constantValues(ctx, n)));
  if (!gamma || !beta || !mean || !variance) return undefined;
  const n = gamma.length;
  if ([beta, mean, variance].some((v) => v.length !== n)) return undefined;
  const epsilon = Math.fround(floatAttr(bn, 'epsilon', 1e-5));
  const scale = gamma.map((g, c) => g / Math.sqrt(variance[c] + epsilon));
  return { scale, shift: beta.map((b, c) => b - mean[c] * scale[c]) };
}

/** The constant weight of a node input with its shape, when it is float32. */
async function weight(ctx: FoldContext, name: string): Promise<{ values: Float64Array; shape: number[] } | undefined> {
  const tensor = constantTensor(ctx.view, name);
  if (!tensor || tensorDtype(tensor) !== 'float32') return undefined;
  const read = await readTensor(ctx.model, tensor);
  return { values: Float64Array.from(read.data as Float32Array), shape: read.shape };
}

/** A new float32 initializer named after `base`; the node reading the old one is pointed at it. */
async function replaceInput(ctx: FoldContext, node: NodeProto, slot: number, base: string, values: Float64Array, shape: number[]): Promise<void> {
  const name = freshName(ctx.view, `${base}_bn_folded`);
  ctx.view.graph.initializer.push(await ctx.scratch.put(name, { dtype: 'float32', shape, data: Float32Array.from(values) }));
  node.input[slot] = name;
}

/** Bias after the BN: (bias - mean) * s + beta, i.e. bias * s + shift. */
async function foldedBias(ctx: FoldContext, name: string | undefined, bn: ChannelAffine): Promise<Float64Array | undefined> {
  const bias = name ? await constantValues(ctx, name) : new Float64Array(bn.scale.length);
  if (!bias || bias.length !== bn.scale.length) return undefined;
  return bias.map((b, c) => b * bn.scale[c] + bn.shift[c]);
}

/** Conv: weight [M, C/group, k...], output channel m is slice m of axis 0. */
const conv: Folder = async (node, bn, ctx) => {
  const w = await weight(ctx, node.input[1]);
  const channels = bn.scale.length;
  if (!w || w.shape[0] !== channels) return undefined;
  const bias = await foldedBias(ctx, node.input[2], bn);
  if (!bias) return undefined;
  const inner = w.values.length / channels;
  const values = w.values.map((v, i) => v * bn.scale[Math.floor(i / inner)]);
  await replaceInput(ctx, node, 1, node.input[1], values, w.shape);
  await replaceInput(ctx, node, 2, node.input[2] || `${node.output[0]}_bias`, bias, [channels]);
  return node;
};

/** ConvTranspose: weight [C, M/group, k...]; row c belongs to group c / (C/group), whose output channels start at group·M/group. */
const convTranspose: Folder = async (node, bn, ctx) => {
  const w = await weight(ctx, node.input[1]);
  const group = intAttr(node, 'group', 1);
  const channels = bn.scale.length;
  if (!w || w.shape.length < 2 || w.shape[1] * group !== channels || w.shape[0] % group !== 0) return undefined;
  const bias = await foldedBias(ctx, node.input[2], bn);
  if (!bias) return undefined;
  const perGroup = w.shape[1];
  const rowsPerGroup = w.shape[0] / group;
  const inner = w.values.length / (w.shape[0] * perGroup);
  const values = w.values.map((v, i) => {
    const row = Math.floor(i / (perGroup * inner));
    const column = Math.floor(i / inner) % perGroup;
    return v * bn.scale[Math.floor(row / rowsPerGroup) * perGroup + column];
  });
  await replaceInput(ctx, node, 1, node.input[1], values, w.shape);
  await replaceInput(ctx, node, 2, node.input[2] || `${node.output[0]}_bias`, bias, [channels]);
  return node;
};

/** Scales the output columns of a [K, N] (or, transposed, [N, K]) matrix. */
function scaleColumns(values: Float64Array, shape: number[], scale: Float64Array, transposed: boolean): Float64Array | undefined {
  const [rows, cols] = shape;
  if (shape.length !== 2 || (transposed ? rows : cols) !== scale.length) return undefined;
  return values.map((v, i) => v * scale[transposed ? Math.floor(i / cols) : i % cols]);
}

/** Gemm: Y = alpha·A·B + beta·C with a [N, M] output; C becomes s·beta·C + shift and beta 1. */
const gemm: Folder = async (node, bn, ctx) => {
  const b = await weight(ctx, node.input[1]);
  const values = b && scaleColumns(b.values, b.shape, bn.scale, intAttr(node, 'transB', 0) === 1);
  if (!b || !values) return undefined;
  const channels = bn.scale.length;
  const c = node.input[2] ? await constantValues(ctx, node.input[2]) : new Float64Array(1);
  if (!c || (c.length !== 1 && c.length !== channels)) return undefined;
  const beta = floatAttr(node, 'beta', 1);
  const bias = bn.scale.map((s, m) => s * beta * c[c.length === 1 ? 0 : m] + bn.shift[m]);
  await replaceInput(ctx, node, 1, node.input[1], values, b.shape);
  await replaceInput(ctx, node, 2, node.input[2] || `${node.output[0]}_bias`, bias, [channels]);
  node.attribute = [...node.attribute.filter((a) => a.name !== 'beta'), attr.float('beta', 1)];
  return node;
};

/** MatMul with a [K, N] weight and a rank-2 output, whose channel axis is then N: scaled weight, then an Add of the shift. */
const matmul: Folder = async (node, bn, ctx) => {
  if (ctx.types.get(node.output[0])?.shape.length !== 2) return undefined;
  const w = await weight(ctx, node.input[1]);
  const values = w && scaleColumns(w.values, w.shape, bn.scale, false);
  if (!w || !values) return undefined;
  await replaceInput(ctx, node, 1, node.input[1], values, w.shape);
  const shift = freshName(ctx.view, `${node.output[0]}_bn_shift`);
  ctx.view.graph.initializer.push(await ctx.scratch.put(shift, { dtype: 'float32', shape: [bn.shift.length], data: Float32Array.from(bn.shift) }));
  const add = makeNode('Add', [node.output[0], shift], [''], { name: freshName(ctx.view, `${node.name || node.output[0]}_bn_add`) });
  ctx.added.push(add);
  return add;
};

const FOLDERS: Record<string, Folder> = { Conv: conv, ConvTranspose: convTranspose, Gemm: gemm, MatMul: matmul };
