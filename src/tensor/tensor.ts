import { InputError } from '../errors.js';
import { type Dtype, type TensorData, byteLength, dtypeInfo } from './dtype.js';

/** A tensor as plain data: values in row-major order, held as `dtypeInfo(dtype).array` describes. */
export interface Tensor {
  dtype: Dtype;
  shape: number[];
  data: TensorData;
}

/** Named tensors in a meaningful order (model inputs, file members). */
export type TensorMap = Map<string, Tensor>;

export function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

const constructors = {
  Float32Array, Float64Array, Int8Array, Uint8Array, Int16Array, Uint16Array,
  Int32Array, Uint32Array, BigInt64Array, BigUint64Array,
} as const;

/** Length of the in-memory array for `count` elements (packed bytes for sub-byte types; strings have 0 bits but one entry each). */
function arrayLength(dtype: Dtype, count: number): number {
  const info = dtypeInfo(dtype);
  return info.bits > 0 && info.bits < 8 ? byteLength(dtype, count) : count * info.lanes;
}

export function zeros(dtype: Dtype, shape: number[]): Tensor {
  const info = dtypeInfo(dtype);
  const n = arrayLength(dtype, elementCount(shape));
  try {
    const data = info.array === 'string' ? new Array<string>(n).fill('') : new constructors[info.array](n);
    return { dtype, shape, data };
  } catch (error) {
    // a shape from a flag or a file header, beyond what an array can hold or memory can give
    if (!(error instanceof RangeError)) throw error;
    throw new InputError(`${dtype} tensor of shape [${shape.join(', ')}] is too large to hold in memory`, { cause: error });
  }
}

/** Decodes little-endian raw bytes (ONNX raw_data, .npy payload) into a tensor; copies only when misaligned. */
export function fromBytes(dtype: Dtype, shape: number[], bytes: Uint8Array): Tensor {
  const info = dtypeInfo(dtype);
  if (info.array === 'string') throw new InputError('string tensors have no raw byte form');
  const expected = byteLength(dtype, elementCount(shape));
  if (bytes.byteLength !== expected) {
    throw new InputError(`${dtype} tensor of shape [${shape.join(', ')}] needs ${expected} bytes, found ${bytes.byteLength}`);
  }
  const Ctor = constructors[info.array];
  const n = arrayLength(dtype, elementCount(shape));
  // new Uint8Array(view) copies; Buffer.slice would not.
  const aligned = bytes.byteOffset % Ctor.BYTES_PER_ELEMENT === 0 ? bytes : new Uint8Array(bytes);
  return { dtype, shape, data: new Ctor(aligned.buffer as ArrayBuffer, aligned.byteOffset, n) };
}

/** The raw little-endian bytes of a tensor (a view, not a copy). */
export function toBytes(tensor: Tensor): Uint8Array {
  if (Array.isArray(tensor.data)) throw new InputError('string tensors have no raw byte form');
  const data = tensor.data as Exclude<TensorData, string[]>;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Reads element i as a number (bigint types converted; fp16/bf16 bits decoded). */
export function numberAt(tensor: Tensor, i: number): number {
  const v = (tensor.data as ArrayLike<number | bigint>)[i];
  if (tensor.dtype === 'float16') return halfToFloat(v as number);
  if (tensor.dtype === 'bfloat16') return bfloat16ToFloat(v as number);
  return Number(v);
}

/** Values as float64 for comparisons and statistics; strings and packed sub-byte types are refused. */
export function toFloat64(tensor: Tensor): Float64Array {
  const info = dtypeInfo(tensor.dtype);
  if (info.kind === 'string' || info.bits < 8 || tensor.dtype.startsWith('float8')) {
    throw new InputError(`cannot read ${tensor.dtype} values as numbers`);
  }
  const n = tensor.data.length;
  const out = new Float64Array(n);
  if (tensor.dtype === 'float16') for (let i = 0; i < n; i++) out[i] = halfToFloat((tensor.data as Uint16Array)[i]);
  else if (tensor.dtype === 'bfloat16') for (let i = 0; i < n; i++) out[i] = bfloat16ToFloat((tensor.data as Uint16Array)[i]);
  else if (info.array.startsWith('Big')) for (let i = 0; i < n; i++) out[i] = Number((tensor.data as BigInt64Array)[i]);
  else out.set(tensor.data as Float32Array);
  return out;
}

// fp16 and bf16 cross the JS boundary as their bits (Uint16Array); these convert one element.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** float32 → float16 bits, rounding to nearest even; overflow gives ±Inf, NaN stays NaN. */
export function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let h = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return sign | h;
}

export function bfloat16ToFloat(b: number): number {
  u32[0] = b << 16;
  return f32[0];
}

/** float32 → bfloat16 bits, rounding to nearest even. */
export function floatToBfloat16(value: number): number {
  f32[0] = value;
  const x = u32[0];
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}
