/**
 * The one table of element types: numpy's names (the names every tdeploy interface uses), the
 * ONNX TensorProto enum, onnxruntime-node's tensor type, Triton's TYPE_*, the .npy descr and the
 * storage of the values in memory.
 */
export const DTYPES = [
  'float32', 'float16', 'bfloat16', 'float64',
  'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64',
  'bool', 'string', 'complex64', 'complex128',
  'float8e4m3fn', 'float8e4m3fnuz', 'float8e5m2', 'float8e5m2fnuz', 'float8e8m0',
  'int4', 'uint4', 'int2', 'uint2', 'float4e2m1',
] as const;

export type Dtype = (typeof DTYPES)[number];

/** How values are held in memory: fp16/bf16 as their bits, sub-byte types packed as ONNX packs them. */
export type TensorData =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array | string[];

type ArrayKind =
  | 'Float32Array' | 'Float64Array' | 'Int8Array' | 'Uint8Array' | 'Int16Array' | 'Uint16Array'
  | 'Int32Array' | 'Uint32Array' | 'BigInt64Array' | 'BigUint64Array' | 'string';

export interface DtypeInfo {
  dtype: Dtype;
  onnx: number;
  /** onnxruntime-node's name, when the type can cross the JS boundary */
  ort?: 'float32' | 'float16' | 'float64' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool' | 'string' | 'int4' | 'uint4';
  triton?: string;
  /** numpy .npy descr, when numpy has the type */
  npy?: string;
  /** bits per element in ONNX raw_data (0 for strings) */
  bits: number;
  array: ArrayKind;
  /** elements of the typed array per tensor element: 2 for complex numbers */
  lanes: number;
  kind: 'float' | 'int' | 'uint' | 'bool' | 'string' | 'complex';
}

const row = (
  dtype: Dtype, onnx: number, bits: number, array: ArrayKind, kind: DtypeInfo['kind'],
  extra: Partial<Pick<DtypeInfo, 'ort' | 'triton' | 'npy' | 'lanes'>> = {},
): DtypeInfo => ({ dtype, onnx, bits, array, kind, lanes: 1, ...extra });

const TABLE: DtypeInfo[] = [
  row('float32', 1, 32, 'Float32Array', 'float', { ort: 'float32', triton: 'TYPE_FP32', npy: '<f4' }),
  row('uint8', 2, 8, 'Uint8Array', 'uint', { ort: 'uint8', triton: 'TYPE_UINT8', npy: '|u1' }),
  row('int8', 3, 8, 'Int8Array', 'int', { ort: 'int8', triton: 'TYPE_INT8', npy: '|i1' }),
  row('uint16', 4, 16, 'Uint16Array', 'uint', { ort: 'uint16', triton: 'TYPE_UINT16', npy: '<u2' }),
  row('int16', 5, 16, 'Int16Array', 'int', { ort: 'int16', triton: 'TYPE_INT16', npy: '<i2' }),
  row('int32', 6, 32, 'Int32Array', 'int', { ort: 'int32', triton: 'TYPE_INT32', npy: '<i4' }),
  row('int64', 7, 64, 'BigInt64Array', 'int', { ort: 'int64', triton: 'TYPE_INT64', npy: '<i8' }),
  row('string', 8, 0, 'string', 'string', { ort: 'string', triton: 'TYPE_STRING' }),
  row('bool', 9, 8, 'Uint8Array', 'bool', { ort: 'bool', triton: 'TYPE_BOOL', npy: '|b1' }),
  row('float16', 10, 16, 'Uint16Array', 'float', { ort: 'float16', triton: 'TYPE_FP16', npy: '<f2' }),
  row('float64', 11, 64, 'Float64Array', 'float', { ort: 'float64', triton: 'TYPE_FP64', npy: '<f8' }),
  row('uint32', 12, 32, 'Uint32Array', 'uint', { ort: 'uint32', triton: 'TYPE_UINT32', npy: '<u4' }),
  row('uint64', 13, 64, 'BigUint64Array', 'uint', { ort: 'uint64', triton: 'TYPE_UINT64', npy: '<u8' }),
  row('complex64', 14, 64, 'Float32Array', 'complex', { npy: '<c8', lanes: 2 }),
  row('complex128', 15, 128, 'Float64Array', 'complex', { npy: '<c16', lanes: 2 }),
  // numpy has no bfloat16; ml_dtypes saves it as two raw bytes per element.
  row('bfloat16', 16, 16, 'Uint16Array', 'float', { triton: 'TYPE_BF16', npy: '<V2' }),
  row('float8e4m3fn', 17, 8, 'Uint8Array', 'float'),
  row('float8e4m3fnuz', 18, 8, 'Uint8Array', 'float'),
  row('float8e5m2', 19, 8, 'Uint8Array', 'float'),
  row('float8e5m2fnuz', 20, 8, 'Uint8Array', 'float'),
  row('uint4', 21, 4, 'Uint8Array', 'uint', { ort: 'uint4' }),
  row('int4', 22, 4, 'Uint8Array', 'int', { ort: 'int4' }),
  row('float4e2m1', 23, 4, 'Uint8Array', 'float'),
  row('float8e8m0', 24, 8, 'Uint8Array', 'float'),
  row('uint2', 25, 2, 'Uint8Array', 'uint'),
  row('int2', 26, 2, 'Uint8Array', 'int'),
];

const byName = new Map(TABLE.map((r) => [r.dtype, r]));
const byOnnx = new Map(TABLE.map((r) => [r.onnx, r]));
const byOrt = new Map<string, DtypeInfo>(TABLE.filter((r) => r.ort).map((r) => [r.ort!, r]));

export function dtypeInfo(dtype: Dtype): DtypeInfo {
  return byName.get(dtype)!;
}

export function isDtype(name: string): name is Dtype {
  return byName.has(name as Dtype);
}

/** The dtype of an ONNX TensorProto.DataType number, or undefined for UNDEFINED/unknown numbers. */
export function dtypeFromOnnx(code: number): Dtype | undefined {
  return byOnnx.get(code)?.dtype;
}

export function onnxFromDtype(dtype: Dtype): number {
  return dtypeInfo(dtype).onnx;
}

/** The dtype of an onnxruntime-node tensor type ('float32', 'int64', ...), or undefined for one tdeploy does not exchange. */
export function dtypeFromOrt(type: string | undefined): Dtype | undefined {
  return type === undefined ? undefined : byOrt.get(type)?.dtype;
}

export function dtypeFromTriton(type: string): Dtype | undefined {
  return TABLE.find((r) => r.triton === type)?.dtype;
}

/** Bytes that `count` elements take in ONNX raw_data (sub-byte types are packed, rounded up). */
export function byteLength(dtype: Dtype, count: number): number {
  return Math.ceil((count * dtypeInfo(dtype).bits) / 8);
}

export function isFloat(dtype: Dtype): boolean {
  return dtypeInfo(dtype).kind === 'float';
}

/** The smallest and largest value of an integer dtype (bool counts as 0..1). */
export function integerRange(dtype: Dtype): [bigint, bigint] {
  const { bits, kind } = dtypeInfo(dtype);
  if (kind === 'bool') return [0n, 1n];
  if (kind === 'uint') return [0n, 2n ** BigInt(bits) - 1n];
  if (kind === 'int') return [-(2n ** BigInt(bits - 1)), 2n ** BigInt(bits - 1) - 1n];
  throw new Error(`${dtype} is not an integer type`);
}
