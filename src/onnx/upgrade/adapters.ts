/**
 * One adapter per operator change between opsets 6 and 13, each the rewrite that keeps what the
 * node computed (facts from ONNX's operator changelog, docs/Changelog.md). An adapter rewrites its
 * node in place and may add nodes around it; it returns undefined when the node means the same
 * at the new version as it is.
 */
import type { NodeProto } from '../gen/onnx_pb.js';
import { AttributeProto_AttributeType, TensorProto_DataType } from '../gen/onnx_pb.js';
import { dtypeFromOnnx } from '../../tensor/dtype.js';
import { type Tensor, floatToHalf } from '../../tensor/tensor.js';
import { attr, makeNode } from '../nodes.js';
import { type Adapter, type StepContext, find, int64s, setAttribute, take, text } from './context.js';

/** Legacy broadcasting (before 7): B's dims line up with A's from `axis` on; numpy lines them up from the end, so B gets trailing 1s. */
export const legacyBroadcast: Adapter = (node, ctx) => {
  const taken = take(node, ['broadcast', 'axis']);
  const broadcast = taken.get('broadcast');
  const axisAttribute = taken.get('axis');
  if (!broadcast) return undefined;
  if (!broadcast.i || !axisAttribute) return { change: 'broadcast attributes dropped' };
  const axis = Number(axisAttribute.i);
  const [a, b] = node.input;
  const n = ctx.rank(a);
  const r = ctx.rank(b);
  if (n === undefined || r === undefined) throw ctx.cannot(`${node.opType} broadcasts on axis ${axis} but the ranks of its inputs are unknown`);
  const trailing = n - (axis < 0 ? axis + n : axis) - r;
  if (trailing <= 0) return { change: 'broadcast attributes dropped' };
  return { before: [unsqueeze(node, 1, range(r, r + trailing), ctx)], change: `second input unsqueezed to broadcast from axis ${axis}` };
};

/** PRelu before 7 applied a [C] slope along the channel axis; 7 broadcasts it numpy-style, so it needs trailing 1s. */
export const preluSlope: Adapter = (node, ctx) => {
  const [x, slope] = node.input;
  const n = ctx.rank(x);
  const r = ctx.rank(slope);
  if ((r !== undefined && r === n) || r === 0 || ctx.single(slope)) return undefined;
  if (n === undefined || r !== 1) throw ctx.cannot(`the ranks of PRelu's input and slope are unknown or do not fit (${n ?? '?'} and ${r ?? '?'})`);
  if (n < 3) return undefined;
  return { before: [unsqueeze(node, 1, range(1, n - 1), ctx)], change: 'slope unsqueezed to broadcast along channels' };
};

export const drop = (names: string[], change: string): Adapter => (node) => (take(node, names).size > 0 ? { change } : undefined);

/** BatchNormalization-7 tells training from inference by its outputs; only the inference form converts by dropping is_test. */
export const batchNormIsTest: Adapter = (node, ctx) => {
  if (Number(find(node, 'is_test')?.i ?? 0) === 0 && node.output.length > 1) throw ctx.cannot('BatchNormalization runs in training mode (is_test=0)');
  return drop(['is_test'], 'is_test dropped')(node, ctx);
};

/** BatchNormalization-9 always normalizes per channel, what spatial=1 (the default) meant before. */
export const batchNormSpatial: Adapter = (node, ctx) => {
  const spatial = take(node, ['spatial']).get('spatial');
  if (spatial && spatial.i === 0n) throw ctx.cannot('BatchNormalization has spatial=0 (statistics per activation), which opset 9 dropped');
  return spatial ? { change: 'spatial=1 dropped' } : undefined;
};

/** Dropout-10's mask is bool, where it had the input's type: only an unread mask converts. */
export const dropoutMask: Adapter = (node, ctx) => {
  const mask = node.output[1];
  if (!mask) return undefined;
  if (ctx.consumed(mask)) throw ctx.cannot(`Dropout's mask '${mask}' is read, and its type changes to bool at opset 10`);
  node.output.length = 1;
  return { change: 'unread mask output dropped' };
};

/** Integer attributes that became int64 tensor inputs, in input order from input 1 on; a missing one before a present one is ''. */
export const attributesToInputs = (names: string[]): Adapter => (node, ctx) => {
  const taken = take(node, names);
  if (taken.size === 0) return undefined;
  const inputs = names.map((name) => {
    const a = taken.get(name);
    if (!a) return '';
    const values = a.type === AttributeProto_AttributeType.INT ? [Number(a.i)] : a.ints.map(Number);
    return ctx.constant(`${node.output[0]}_${name}`, int64s(values));
  });
  while (inputs.at(-1) === '') inputs.pop();
  node.input = [node.input[0], ...inputs];
  return { change: `${[...taken.keys()].join(', ')} attribute${taken.size > 1 ? 's' : ''} became input${taken.size > 1 ? 's' : ''}` };
};

/** Clip-11 reads its bounds as inputs of the input's type; Clip-6's defaults were the type's own limits, what no input means. */
export const clipBounds: Adapter = (node, ctx) => {
  const taken = take(node, ['min', 'max']);
  if (taken.size === 0) return undefined;
  const type = valueType(node.input[0], ctx);
  const bound = (name: string) => {
    const a = taken.get(name);
    return a ? ctx.constant(`${node.output[0]}_${name}`, scalar(type, a.f, ctx)) : '';
  };
  node.input = [node.input[0], bound('min'), bound('max')];
  while (node.input.at(-1) === '') node.input.pop();
  return { change: 'min/max attributes became inputs' };
};

/** Pad-11 reads pads (int64) and the constant value (the input's type) as inputs. */
export const padInputs: Adapter = (node, ctx) => {
  const taken = take(node, ['pads', 'value']);
  const pads = taken.get('pads');
  if (!pads) throw ctx.cannot('Pad has no pads attribute');
  node.input = [node.input[0], ctx.constant(`${node.output[0]}_pads`, int64s(pads.ints.map(Number)))];
  const value = taken.get('value');
  if (value && value.f !== 0) node.input.push(ctx.constant(`${node.output[0]}_value`, scalar(valueType(node.input[0], ctx), value.f, ctx)));
  return { change: 'pads/value attributes became inputs' };
};

/** Dropout-12 reads the ratio as an input; in inference (no training_mode input) it is the identity either way. */
export const dropoutRatio: Adapter = (node, ctx) => {
  const ratio = take(node, ['ratio']).get('ratio');
  if (!ratio) return undefined;
  node.input = [node.input[0], ctx.constant(`${node.output[0]}_ratio`, { dtype: 'float32', shape: [], data: Float32Array.of(ratio.f) })];
  return { change: 'ratio attribute became an input' };
};

/** Upsample-9 reads its scales as an input. */
export const upsampleScales: Adapter = (node, ctx) => {
  const scales = take(node, ['scales']).get('scales');
  if (!scales) return undefined;
  node.input = [node.input[0], ctx.constant(`${node.output[0]}_scales`, { dtype: 'float32', shape: [scales.floats.length], data: Float32Array.from(scales.floats) })];
  return { change: 'scales attribute became an input' };
};

/** Upsample is deprecated from 10 on in favour of Resize-10, which takes the same inputs and modes. */
export const upsampleToResize: Adapter = (node) => {
  node.opType = 'Resize';
  return { change: 'became Resize (Upsample is deprecated from opset 10)' };
};

/**
 * Resize-11 adds a roi input before the scales and a coordinate transformation whose default
 * (half_pixel) is not what Resize-10 computed: Resize-10 mapped output to input coordinates as
 * x / scale (asymmetric). Nearest took the floor where it upsampled and the ceiling where it
 * downsampled (ONNX's resize_downsample_nearest test data, and ONNX Runtime; ONNX's own adapter
 * writes floor for both), which one nearest_mode expresses only when every scale goes one way.
 */
export const resizeCoordinates: Adapter = (node, ctx) => {
  const [x, scales] = node.input;
  if ((text(find(node, 'mode')) ?? 'nearest') === 'nearest') setAttribute(node, attr.string('nearest_mode', nearestRounding(scales, ctx)));
  node.input = [x, ctx.constant(`${node.output[0]}_roi`, { dtype: 'float32', shape: [0], data: new Float32Array(0) }), scales];
  setAttribute(node, attr.string('coordinate_transformation_mode', 'asymmetric'));
  return { change: 'roi input added, asymmetric coordinates kept explicit' };
};

function nearestRounding(scales: string, ctx: StepContext): 'floor' | 'ceil' {
  const values = ctx.values(scales);
  if (!values) throw ctx.cannot(`nearest Resize '${scales}' has scales computed at run time, and Resize-10 rounded by their direction (down when upsampling, up when downsampling)`);
  const down = values.some((s) => s < 1);
  if (down && values.some((s) => s > 1)) throw ctx.cannot(`nearest Resize scales [${values.join(', ')}] upsample some dims and downsample others, which Resize-10 rounded differently`);
  return down ? 'ceil' : 'floor';
}

/** Resize-13 dropped tf_half_pixel_for_nn, and omits the scales when sizes are given (12 required them empty). */
export const resizeOptionalScales: Adapter = (node, ctx) => {
  if (text(find(node, 'coordinate_transformation_mode')) === 'tf_half_pixel_for_nn') throw ctx.cannot("Resize uses coordinate_transformation_mode 'tf_half_pixel_for_nn', which opset 13 dropped");
  if (!node.input[3] || !node.input[2]) return undefined;
  node.input[2] = '';
  return { change: 'empty scales omitted where sizes are given' };
};

/**
 * Softmax, LogSoftmax and Hardmax before 13 coerced the input to 2-D at `axis` (default 1) and
 * normalized over all dims from `axis` on; from 13 they normalize over the one `axis` (default -1).
 * The same where `axis` is the last dim; elsewhere Flatten to that 2-D form, then Reshape back.
 */
export const softmaxAxis: Adapter = (node, ctx) => {
  const given = find(node, 'axis');
  const axis = given ? Number(given.i) : 1;
  const rank = ctx.rank(node.input[0]) ?? ctx.rank(node.output[0]);
  if (axis === -1 || (rank !== undefined && axis === rank - 1)) {
    if (given) return undefined;
    setAttribute(node, attr.int('axis', axis));
    return { change: 'axis 1 made explicit (the default became -1)' };
  }
  const [x] = node.input;
  const [y] = node.output;
  const shape = ctx.fresh(`${x}_shape`);
  const flat = ctx.fresh(`${x}_2d`);
  const flatOut = ctx.fresh(`${y}_2d`);
  node.input[0] = flat;
  node.output[0] = flatOut;
  setAttribute(node, attr.int('axis', 1));
  ctx.setRank(flat, 2);
  return {
    before: [makeNode('Shape', [x], [shape]), makeNode('Flatten', [x], [flat], { attributes: [attr.int('axis', axis)] })],
    after: [makeNode('Reshape', [flatOut, shape], [y])],
    change: `coerced to 2-D at axis ${axis} with Flatten/Reshape (opset 13 normalizes over one axis)`,
  };
};

/** Scatter is deprecated from 11 on; ScatterElements computes the same. */
export const scatterElements: Adapter = (node) => {
  node.opType = 'ScatterElements';
  return { change: 'became ScatterElements (Scatter is deprecated from opset 11)' };
};

function unsqueeze(node: NodeProto, input: number, axes: number[], ctx: StepContext): NodeProto {
  const source = node.input[input];
  const output = ctx.fresh(`${source}_unsqueezed`);
  node.input[input] = output;
  ctx.setRank(output, (ctx.rank(source) ?? 0) + axes.length);
  // Unsqueeze of the opset being upgraded from: later steps bring it to the target like any node.
  return makeNode('Unsqueeze', [source], [output], { attributes: [attr.ints('axes', axes)] });
}

function valueType(name: string, ctx: StepContext): number {
  return ctx.elemType(name) ?? TensorProto_DataType.FLOAT;
}

/** A scalar of an element type, for the bounds and padding values that became inputs. */
function scalar(type: number, value: number, ctx: StepContext): Tensor {
  const dtype = dtypeFromOnnx(type);
  switch (dtype) {
    case 'float32': return { dtype, shape: [], data: Float32Array.of(value) };
    case 'float64': return { dtype, shape: [], data: Float64Array.of(value) };
    case 'float16': return { dtype, shape: [], data: Uint16Array.of(floatToHalf(value)) };
    case 'int32': return { dtype, shape: [], data: Int32Array.of(value) };
    case 'int64': return { dtype, shape: [], data: BigInt64Array.of(BigInt(Math.trunc(value))) };
    default: throw ctx.cannot(`a ${dtype ?? `type ${type}`} value cannot be written as an input here`);
  }
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}
