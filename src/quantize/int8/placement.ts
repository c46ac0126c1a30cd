/**
 * Where static INT8 puts its QuantizeLinear/DequantizeLinear pairs so that ONNX Runtime's CPU
 * provider turns them into integer kernels. ORT fuses a "node unit" (DequantizeLinear on every
 * input → op → QuantizeLinear on the output) into one QLinear kernel; a unit missing its output
 * QuantizeLinear runs in float on dequantized values, which is why QDQ on inputs alone is slower
 * than float. So:
 * - every quantized Conv/MatMul/Gemm gets QDQ on its input and, on its output, a Conv always; a
 *   MatMul/Gemm on CPU only when an int8 op reads it (directly or after one region op): ORT runs a
 *   MatMul whose bias Add follows (a transformer's [B, S, E] projections) as MatMulIntegerToFloat,
 *   a float result, whatever follows, so a pair there only adds a QuantizeLinear and a
 *   DequantizeLinear pass before a float reader (Gelu, LayerNormalization after a residual Add;
 *   measured 0.87-0.95x the dynamic model on BERT-base with them);
 * - the output pair goes after a Relu/Clip that alone reads the op's output (Conv+Relu and
 *   Add+Relu kept together: ORT drops the Relu into the QLinear kernel when the zero point is the
 *   range's bottom, which calibration gives a Relu's output), and after a MatMul's bias Add;
 * - ops between int8 neighbours that have a faster int8 kernel (Add, Mul, Concat,
 *   GlobalAveragePool, Sigmoid, by the kernel table) join the int8 region: QDQ on all their inputs
 *   and their output, so a residual Add or a Concat of conv outputs stays in int8;
 * - a graph output is never quantized: it is what the user reads.
 * Every reader of a quantized value reads its DequantizeLinear, so the producer's QuantizeLinear is
 * its only reader, as the fusion needs.
 */
import type { NodeProto } from '../../onnx/gen/onnx_pb.js';
import { isOnnxOp } from '../graph.js';
import type { Int8Context } from './context.js';
import { type KernelForm, islandLoses, kernelVerdict } from './kernels.js';
import type { OpQuantizer } from './quantizer.js';

/** Activations ORT folds into the output range of the QLinear kernel before them. */
const FOLDED_ACTIVATIONS = new Set(['Relu', 'Clip']);

/** Ops with an int8 kernel of their own, joined to an int8 region when the kernel table says it wins. */
const REGION_OPS: Record<string, KernelForm> = {
  Add: 'static-add',
  Mul: 'static-mul',
  Concat: 'static-concat',
  GlobalAveragePool: 'static-globalaveragepool',
  Sigmoid: 'static-sigmoid',
};

/** The ops whose static form ends in a QuantizeLinear on their output. */
const OUTPUT_QUANTIZED = new Set(['Conv', 'MatMul', 'Gemm']);

export interface Placement {
  /** the values that get a QuantizeLinear/DequantizeLinear pair, in graph order */
  values: string[];
  /** ops joined to int8 regions (no weights: only their inputs and output are quantized) */
  regionNodes: NodeProto[];
  /** the values produced in int8 (an output pair is on them) */
  int8: Set<string>;
}

export function placeStatic(ctx: Int8Context, units: { node: NodeProto; quantizer: OpQuantizer }[]): Placement {
  const { view } = ctx;
  const values = new Set<string>();
  /** values produced in int8 (an output pair is on them) */
  const int8 = new Set<string>();
  const isFloatActivation = (name: string) => Boolean(name) && !ctx.constant(name) && ctx.types.get(name)?.dtype === 'float32';
  const addOutput = (name: string) => {
    if (view.graphOutputs.has(name)) return;
    values.add(name);
    int8.add(name);
  };
  const unitNodes = new Set(units.map((u) => u.node));
  const readInInt8 = (value: string) => (view.consumers.get(value) ?? []).some((r) => unitNodes.has(r)
    || (REGION_OPS[r.opType] && isOnnxOp(r) && (view.consumers.get(foldedActivation(ctx, r.output[0])) ?? []).some((next) => unitNodes.has(next))));
  for (const { node, quantizer } of units) {
    for (const a of quantizer.activations(node)) if (isFloatActivation(a)) values.add(a);
    if (!OUTPUT_QUANTIZED.has(node.opType)) continue;
    const output = foldedActivation(ctx, quantizer.unitOutput?.(node, ctx) ?? node.output[0]);
    if (node.opType !== 'Conv' && ctx.settings.target === 'cpu' && !readInInt8(output)) continue;
    addOutput(output);
  }
  const regionNodes: NodeProto[] = [];
  for (const node of view.graph.node) {
    const form = REGION_OPS[node.opType];
    if (!form || !isOnnxOp(node) || unitNodes.has(node)) continue;
    const inputs = node.input.filter(Boolean);
    if (!inputs.every(isFloatActivation) || !inputs.some((i) => int8.has(i)) || !joins(ctx, node, form)) continue;
    regionNodes.push(node);
    for (const i of inputs) values.add(i);
    addOutput(foldedActivation(ctx, node.output[0]));
  }
  return { values: [...values], regionNodes, int8 };
}

/**
 * The static Convs whose int8 island loses on CPU (kernels.ts `islandLoses`), with the reason:
 * the values crossing between float and int8 at a Conv's edges are its input when no int8 op
 * produces it, and its output when a float op (or the user) reads it.
 */
export function losingIslands(ctx: Int8Context, units: { node: NodeProto; quantizer: OpQuantizer }[], placement: Placement): Map<NodeProto, string> {
  const int8Readers = new Set([...units.map((u) => u.node), ...placement.regionNodes]);
  const losing = new Map<NodeProto, string>();
  for (const { node, quantizer } of units) {
    if (node.opType !== 'Conv') continue;
    const output = foldedActivation(ctx, quantizer.unitOutput?.(node, ctx) ?? node.output[0]);
    const readers = ctx.view.consumers.get(output) ?? [];
    const floatOut = !placement.int8.has(output) || readers.some((r) => !int8Readers.has(r));
    const converted = (placement.int8.has(node.input[0]) ? 0 : ctx.knownSize(node.input[0], 1)) + (floatOut ? ctx.knownSize(node.output[0], 1) : 0);
    const reason = converted > 0 ? islandLoses(convMacs(ctx, node) / converted, ctx.settings.cpu) : undefined;
    if (reason) losing.set(node, reason);
  }
  return losing;
}

/** A Conv's multiply-adds per sample: weight elements × output positions (symbolic dims count as 1). */
export function convMacs(ctx: Int8Context, node: NodeProto): number {
  return ctx.knownSize(node.input[1], 0) * ctx.knownSize(node.output[0], 2);
}

/**
 * On CPU an op joins when its int8 kernel wins (the kernel table); TensorRT wants QDQ on the
 * inputs of residual Adds, and fuses the rest itself.
 */
function joins(ctx: Int8Context, node: NodeProto, form: KernelForm): boolean {
  return ctx.settings.target === 'tensorrt' ? node.opType === 'Add' : kernelVerdict(form, ctx.settings.cpu).wins;
}

/** The output of the Relu/Clip that alone reads `value`, which ORT folds into the kernel; else `value`. */
function foldedActivation(ctx: Int8Context, value: string): string {
  const readers = ctx.view.consumers.get(value) ?? [];
  const [next] = readers;
  const folds = readers.length === 1 && FOLDED_ACTIVATIONS.has(next.opType) && isOnnxOp(next) && !ctx.view.graphOutputs.has(value);
  return folds ? next.output[0] : value;
}
