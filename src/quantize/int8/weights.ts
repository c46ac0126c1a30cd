import type { Tensor } from '../../tensor/tensor.js';

export interface QuantizedWeight {
  values: Tensor;
  /** one scale, or one per slice along `axis` */
  scale: Tensor;
  /** int8 zeros shaped like `scale` (symmetric quantization) */
  zeroPoint: Tensor;
}

/**
 * Symmetric int8 quantization of a float32 weight: q = round(w / s) with s = max|w| / qmax, per
 * tensor or per slice along `axis`. `qmax` is 127, or 63 for 7-bit weights (see cpu.ts).
 */
export function quantizeWeight(weight: Tensor, axis: number | undefined, qmax: number): QuantizedWeight {
  const data = weight.data as Float32Array;
  const shape = weight.shape;
  const channels = axis === undefined ? 1 : shape[axis];
  const inner = axis === undefined ? data.length : shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number) => (axis === undefined ? 0 : Math.floor(i / inner) % channels);
  const absMax = new Float64Array(channels);
  for (let i = 0; i < data.length; i++) {
    const c = channelOf(i);
    const a = Math.abs(data[i]);
    if (a > absMax[c]) absMax[c] = a;
  }
  const scales = Float32Array.from(absMax, (m) => (m > 0 && Number.isFinite(m) ? m / qmax : 1));
  const values = new Int8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const q = roundHalfEven(data[i] / scales[channelOf(i)]);
    values[i] = q > qmax ? qmax : q < -qmax ? -qmax : q;
  }
  const scaleShape = axis === undefined ? [] : [channels];
  return {
    values: { dtype: 'int8', shape, data: values },
    scale: { dtype: 'float32', shape: scaleShape, data: scales },
    zeroPoint: { dtype: 'int8', shape: scaleShape, data: new Int8Array(channels) },
  };
}

/**
 * Rounds to the nearest integer with ties to even, as QuantizeLinear and ONNX Runtime's quantizer
 * round; Math.round sends every tie up (2.5 → 3 but -2.5 → -2), a bias towards +∞.
 */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The transpose of a 2-D float32 tensor (Gemm's transB weights, for kernels that want [K, N]). */
export function transpose2d(tensor: Tensor): Tensor {
  const [rows, cols] = tensor.shape;
  const source = tensor.data as Float32Array;
  const out = new Float32Array(source.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = source[r * cols + c];
  return { dtype: 'float32', shape: [cols, rows], data: out };
}
