import type { NodeProto, TensorProto } from '../../onnx/gen/onnx_pb.js';
import { type OnnxModel, readTensor } from '../../onnx/model.js';
import { tensorDtype, tensorFromProto } from '../../onnx/tensor-proto.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Range } from '../calibration/methods.js';
import type { CpuProfile } from '../cpu.js';
import type { Int8Mode, Int8Target } from '../targets.js';
import { type GraphView, attr, constantTensor, freshName, makeNode } from '../graph.js';
import type { ScratchSpace } from '../store.js';
import type { ValueType } from '../types.js';
import { quantizeWeight, roundHalfEven, transpose2d } from './weights.js';

export interface Int8Settings {
  /** what was asked for; each node's form is decided in planInt8 */
  mode: Int8Mode;
  target: Int8Target;
  /** whether calibration data was given (static forms need it) */
  calibrated: boolean;
  perChannel: boolean;
  /** 127, or 63 for 7-bit weights */
  weightMax: number;
  /** int8 activations with zero point 0 (TensorRT) rather than uint8 asymmetric */
  symmetric: boolean;
  /** the model's ONNX opset: DynamicQuantizeLinear needs 11, a per-axis DequantizeLinear 13 */
  opset: number;
  /** the CPU the model is for: its column of the kernel table decides which forms pay */
  cpu: CpuProfile;
}

export interface WeightNames {
  values: string;
  scale: string;
  zeroPoint: string;
  /** the axis the scales run along, when per channel */
  axis?: number;
  scales: Float32Array;
}

/**
 * What an op quantizer works with: the graph, the settings, calibrated ranges (static mode),
 * and helpers that add initializers and shared helper nodes. Helper nodes are collected in
 * `added` and put in order when the graph is sorted.
 */
export class Int8Context {
  readonly added: NodeProto[] = [];
  /** the QuantizeLinear of each quantized activation: the one reader left reading the float value */
  readonly activationQuantizers = new Set<NodeProto>();
  readonly initializers: TensorProto[] = [];
  private readonly weights = new Map<string, Promise<WeightNames>>();
  private readonly activations = new Map<string, string>();
  private readonly dynamicInputs = new Map<string, [string, string, string]>();

  constructor(
    readonly model: OnnxModel,
    readonly view: GraphView,
    readonly settings: Int8Settings,
    private readonly scratch: ScratchSpace,
    /** the graph's value types, where static forms need them (sizes, float32 values); empty otherwise */
    readonly types: Map<string, ValueType> = new Map(),
    /** the context of the enclosing graph, for a body: its constants, and the ranges all graphs share */
    private readonly outer?: Int8Context,
  ) {
    if (outer) this.ranges = outer.ranges;
  }

  /** The numeric dims of a value from `from` on; symbolic or unknown dims count as 1. */
  knownSize(value: string, from: number): number {
    const shape = this.types.get(value)?.shape ?? [];
    return shape.slice(from).reduce<number>((n, d) => n * (typeof d === 'number' ? d : 1), 1);
  }

  /** calibrated activation ranges (static mode), set once calibration has run */
  ranges = new Map<string, Range>();

  /** A float32 constant (initializer or Constant node, through Identity), or undefined. */
  constant(name: string): TensorProto | undefined {
    const tensor = constantTensor(this.view, name);
    if (!tensor) return this.view.producers.has(name) ? undefined : this.outer?.constant(name);
    return tensorDtype(tensor) === 'float32' ? tensor : undefined;
  }

  async read(tensor: TensorProto): Promise<Tensor> {
    return this.model.ranges.has(tensor) ? readTensor(this.model, tensor) : tensorFromProto(tensor);
  }

  name(base: string): string {
    return freshName(this.view, base);
  }

  async initializer(base: string, tensor: Tensor): Promise<string> {
    const name = this.name(base);
    this.initializers.push(await this.scratch.put(name, tensor));
    return name;
  }

  /**
   * The int8 form of a constant weight, made once however many nodes read it. `axis` is the
   * output-channel axis (after the optional transpose); per-tensor when per-channel is off.
   */
  weight(name: string, axis: number, transpose = false): Promise<WeightNames> {
    const perAxis = this.settings.perChannel && this.settings.opset >= 13 ? axis : undefined;
    const key = `${name}\u0000${perAxis}\u0000${transpose}`;
    let names = this.weights.get(key);
    if (!names) {
      names = (async () => {
        const source = this.constant(name)!;
        const tensor = await this.read(source);
        const q = quantizeWeight(transpose ? transpose2d(tensor) : tensor, perAxis, this.settings.weightMax);
        const base = transpose ? `${source.name}_transposed` : source.name;
        return {
          values: await this.initializer(`${base}_quantized`, q.values),
          scale: await this.initializer(`${base}_scale`, q.scale),
          zeroPoint: await this.initializer(`${base}_zero_point`, q.zeroPoint),
          axis: perAxis,
          scales: q.scale.data as Float32Array,
        };
      })();
      this.weights.set(key, names);
    }
    return names;
  }

  /** A DequantizeLinear of the int8 weight: what a QDQ graph reads in place of the float weight. */
  async dequantizedWeight(name: string, axis: number, transpose = false): Promise<string> {
    const w = await this.weight(name, axis, transpose);
    return this.dequantize(w, `${name}_dequantized`);
  }

  dequantize(w: WeightNames, base: string): string {
    const out = this.name(base);
    const attributes = w.axis === undefined ? [] : [attr.int('axis', w.axis)];
    this.added.push(makeNode('DequantizeLinear', [w.values, w.scale, w.zeroPoint], [out], { name: this.name(`DequantizeLinear_${out}`), attributes }));
    return out;
  }

  /**
   * Static mode: a QuantizeLinear/DequantizeLinear pair on an activation, with the scale and zero
   * point from its calibrated range. Returns the dequantized name, which the activation's readers
   * are then pointed at.
   */
  async quantizeDequantize(activation: string): Promise<string> {
    const done = this.activations.get(activation);
    if (done) return done;
    const { scale, zeroPoint } = this.activationParameters(activation);
    const scaleName = await this.initializer(`${activation}_scale`, { dtype: 'float32', shape: [], data: Float32Array.of(scale) });
    const zeroName = await this.initializer(`${activation}_zero_point`, this.settings.symmetric
      ? { dtype: 'int8', shape: [], data: Int8Array.of(zeroPoint) }
      : { dtype: 'uint8', shape: [], data: Uint8Array.of(zeroPoint) });
    const quantized = this.name(`${activation}_quantized`);
    const dequantized = this.name(`${activation}_dequantized`);
    const quantize = makeNode('QuantizeLinear', [activation, scaleName, zeroName], [quantized], { name: this.name(`QuantizeLinear_${quantized}`) });
    this.activationQuantizers.add(quantize);
    this.added.push(quantize, makeNode('DequantizeLinear', [quantized, scaleName, zeroName], [dequantized], { name: this.name(`DequantizeLinear_${dequantized}`) }));
    this.activations.set(activation, dequantized);
    return dequantized;
  }

  /** The scale and zero point of a calibrated activation. */
  activationParameters(activation: string): { scale: number; zeroPoint: number } {
    const range = this.ranges.get(activation);
    if (!range) throw new Error(`no calibrated range for '${activation}'`);
    return activationParameters(range, this.settings.symmetric);
  }

  /**
   * A Conv or Gemm bias as int32 in units of (input scale × weight scale), zero point 0, behind a
   * DequantizeLinear: the form ONNX Runtime folds into QLinearConv/QGemm (a float bias would keep
   * the op in float, reading dequantized values).
   */
  async dequantizedBias(bias: string, input: string, w: WeightNames): Promise<string> {
    const values = (await this.read(this.constant(bias)!)).data as Float32Array;
    const inputScale = this.activationParameters(input).scale;
    const scales = Float32Array.from(values, (_, c) => inputScale * w.scales[w.scales.length === 1 ? 0 : c]);
    const perAxis = this.settings.opset >= 13;
    const shape = perAxis ? [values.length] : [];
    const quantized: WeightNames = {
      values: await this.initializer(`${bias}_quantized`, { dtype: 'int32', shape: [values.length], data: Int32Array.from(values, (b, c) => clampInt32(roundHalfEven(b / scales[c]))) }),
      scale: await this.initializer(`${bias}_scale`, { dtype: 'float32', shape, data: perAxis ? scales : scales.subarray(0, 1) }),
      zeroPoint: await this.initializer(`${bias}_zero_point`, { dtype: 'int32', shape, data: new Int32Array(perAxis ? values.length : 1) }),
      axis: perAxis ? 0 : undefined,
      scales,
    };
    return this.dequantize(quantized, `${bias}_dequantized`);
  }

  /** Dynamic mode: one DynamicQuantizeLinear per activation → [uint8 values, scale, zero point]. */
  dynamicQuantize(activation: string): [string, string, string] {
    let outputs = this.dynamicInputs.get(activation);
    if (!outputs) {
      outputs = [this.name(`${activation}_quantized`), this.name(`${activation}_scale`), this.name(`${activation}_zero_point`)];
      this.added.push(makeNode('DynamicQuantizeLinear', [activation], outputs, { name: this.name(`DynamicQuantizeLinear_${outputs[0]}`) }));
      this.dynamicInputs.set(activation, outputs);
    }
    return outputs;
  }
}

function clampInt32(x: number): number {
  return Math.max(-2147483648, Math.min(2147483647, x));
}

/** Scale and zero point covering a range: uint8 asymmetric, or int8 symmetric around zero. */
function activationParameters(range: Range, symmetric: boolean): { scale: number; zeroPoint: number } {
  if (symmetric) {
    const a = Math.max(Math.abs(range.min), Math.abs(range.max));
    return { scale: a > 0 ? a / 127 : 1, zeroPoint: 0 };
  }
  const lo = Math.min(range.min, 0);
  const hi = Math.max(range.max, 0);
  const scale = hi > lo ? (hi - lo) / 255 : 1;
  return { scale, zeroPoint: Math.min(255, Math.max(0, roundHalfEven(-lo / scale))) };
}
