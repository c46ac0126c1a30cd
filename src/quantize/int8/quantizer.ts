import type { NodeProto } from '../../onnx/gen/onnx_pb.js';
import type { Int8Form } from '../targets.js';
import type { Int8Context } from './context.js';

/** What replaces a node: new nodes, and neighbours folded into them (a bias Add). */
export interface Rewrite {
  nodes: NodeProto[];
  absorbed?: NodeProto[];
}

/**
 * Whether a node gets quantized: yes, no with a reason the report lists, or not at all this
 * quantizer's business (a Gather of shape values is no embedding lookup) and not worth a line.
 */
export type Verdict = 'quantize' | 'ignore' | { blocked: string };

/**
 * One op type's INT8 quantization. `check` gives the verdict; `activations` are the computed
 * inputs static mode puts QuantizeLinear/DequantizeLinear on (placement.ts adds the outputs);
 * `dynamic` and `static` build the replacement, static forms only replacing weights and biases.
 * `unitOutput` is the value a static form's output QuantizeLinear goes on, when the op absorbs a
 * neighbour (MatMul its bias Add); the op's own output otherwise.
 */
export interface OpQuantizer {
  domain: '' | 'com.microsoft';
  check(node: NodeProto, ctx: Int8Context, form: Int8Form): Verdict;
  activations(node: NodeProto): string[];
  dynamic(node: NodeProto, ctx: Int8Context): Promise<Rewrite>;
  static(node: NodeProto, ctx: Int8Context): Promise<Rewrite>;
  unitOutput?(node: NodeProto, ctx: Int8Context): string;
}

export const MICROSOFT = 'com.microsoft';

/**
 * The form `auto` gives the op on CPU: dynamic where its dynamic kernel wins (it needs no
 * calibration, and beats the static form of MatMul in the kernel table); static where only the
 * static form wins (Conv).
 */
export const AUTO_FORMS: Record<string, Int8Form> = { MatMul: 'dynamic', Gemm: 'dynamic', Attention: 'dynamic', Gather: 'dynamic', Conv: 'static' };

/** Common checks: input `weight` a float32 constant of the given ranks, input `data` computed. */
export function checkWeight(node: NodeProto, ctx: Int8Context, weight: number, ranks: number[], data = 0): Verdict {
  if (ctx.constant(node.input[data])) return 'ignore';
  const w = ctx.constant(node.input[weight]);
  if (!w) return { blocked: 'its weight is computed at run time, not a float32 constant' };
  if (!ranks.includes(w.dims.length)) return { blocked: `its weight has rank ${w.dims.length}, expected ${ranks.join(' or ')}` };
  return 'quantize';
}

/** Dynamic Conv and Attention read their input through DynamicQuantizeLinear, which came with opset 11. */
export function checkDynamicInput(ctx: Int8Context, form: Int8Form): Verdict {
  const { opset } = ctx.settings;
  return form === 'dynamic' && opset < 11 ? { blocked: `DynamicQuantizeLinear needs opset 11, the model has opset ${opset}` } : 'quantize';
}
