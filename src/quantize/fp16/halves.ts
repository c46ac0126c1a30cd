import type { Tensor } from '../../tensor/tensor.js';

/** float16's largest finite value. */
export const FLOAT16_MAX = 65504;

/** Values changed to fit float16, counted per kind. */
export interface ClampCount {
  /** |x| > 65504, set to ±65504 instead of becoming infinite */
  overflow: number;
  /** 0 < |x| < 2^-24, set to ±2^-24 instead of becoming zero */
  underflow: number;
  /** names of the tensors that had any */
  tensors: string[];
}

export const noClamps = (): ClampCount => ({ overflow: 0, underflow: 0, tensors: [] });

// float32 bit patterns of the bounds.
const F32_FLOAT16_MAX = 0x477fe000;
const F32_FLOAT16_TINY = 0x33800000;
const F32_FLOAT16_NORMAL = 0x38800000;
const F32_INFINITY = 0x7f800000;
const HALF_MAX = 0x7bff;
const HALF_TINY = 0x0001;

/**
 * float32 → float16 bits, rounding to nearest even. Values beyond float16's range are clamped to
 * its largest finite value and nonzero values below its smallest subnormal to that subnormal,
 * so a weight never turns into an infinity or a divisor into zero; each is counted. Works on the
 * bit patterns in one loop: a model's worth of weights converts at memory speed.
 */
export function toFloat16(name: string, tensor: Tensor, counts: ClampCount): Tensor {
  const source = tensor.data as Float32Array;
  const bits = new Uint32Array(source.buffer, source.byteOffset, source.length);
  const out = new Uint16Array(source.length);
  let overflow = 0;
  let underflow = 0;
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i];
    const sign = (x >>> 16) & 0x8000;
    const a = x & 0x7fffffff;
    let h: number;
    if (a >= F32_INFINITY) h = a > F32_INFINITY ? 0x7e00 : 0x7c00;
    else if (a > F32_FLOAT16_MAX) {
      h = HALF_MAX;
      overflow++;
    } else if (a >= F32_FLOAT16_NORMAL) {
      const r = a - 0x38000000;
      h = r >>> 13;
      const rest = r & 0x1fff;
      if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
    } else if (a >= F32_FLOAT16_TINY) {
      const shift = 126 - (a >>> 23);
      const mant = (a & 0x7fffff) | 0x800000;
      h = mant >>> shift;
      const rest = mant & ((1 << shift) - 1);
      const half = 1 << (shift - 1);
      if (rest > half || (rest === half && h & 1)) h++;
    } else if (a !== 0) {
      h = HALF_TINY;
      underflow++;
    } else h = 0;
    out[i] = sign | h;
  }
  counts.overflow += overflow;
  counts.underflow += underflow;
  if (overflow + underflow > 0) counts.tensors.push(name);
  return { dtype: 'float16', shape: tensor.shape, data: out };
}
