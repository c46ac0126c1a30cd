import { z } from 'zod';
import { InputError } from '../errors.js';
import { type Dtype, type DtypeInfo, DTYPES, dtypeInfo, integerRange } from './dtype.js';
import { type Tensor, type TensorMap, elementCount, floatToBfloat16, floatToHalf, numberAt, zeros } from './tensor.js';
import { readText } from '../io/read.js';

/**
 * tdeploy's JSON form of named tensors:
 * `{"name": {"dtype": "float32", "shape": [2, 3], "data": [...row-major values...]}}`.
 * float16/bfloat16 values are written as numbers; 64-bit integers beyond 2^53 and non-finite
 * floats as strings ("9007199254740993", "NaN", "Infinity", "-Infinity").
 */
const Value = z.union([z.number(), z.string(), z.boolean()]);
const JsonTensor = z.object({ dtype: z.enum(DTYPES), shape: z.array(z.number().int().nonnegative()), data: z.array(Value) }).strict();
const JsonTensors = z.record(z.string(), JsonTensor);

export function tensorsToJson(tensors: TensorMap): string {
  const out: Record<string, z.infer<typeof JsonTensor>> = {};
  for (const [name, tensor] of tensors) {
    const data: (number | string | boolean)[] = [];
    for (let i = 0; i < tensor.data.length; i++) data.push(jsonValue(tensor, i));
    out[name] = { dtype: tensor.dtype, shape: tensor.shape, data };
  }
  return JSON.stringify(out);
}

function jsonValue(tensor: Tensor, i: number): number | string | boolean {
  if (tensor.dtype === 'string') return (tensor.data as string[])[i];
  if (tensor.dtype === 'bool') return (tensor.data as Uint8Array)[i] !== 0;
  const raw = (tensor.data as ArrayLike<number | bigint>)[i];
  if (typeof raw === 'bigint') return Number.isSafeInteger(Number(raw)) ? Number(raw) : raw.toString();
  const v = numberAt(tensor, i);
  return Number.isFinite(v) ? v : String(v);
}

export function tensorsFromJson(text: string, where: string): TensorMap {
  let parsed: z.infer<typeof JsonTensors>;
  try {
    parsed = JsonTensors.parse(JSON.parse(text));
  } catch (error) {
    throw new InputError(`${where}: not a tdeploy tensor JSON file (${error instanceof z.ZodError ? error.issues[0].message : (error as Error).message})`);
  }
  const out: TensorMap = new Map();
  for (const [name, { dtype, shape, data }] of Object.entries(parsed)) {
    const tensor = zeros(dtype, shape);
    const info = dtypeInfo(dtype);
    const expected = elementCount(shape) * info.lanes;
    if (info.bits > 0 && info.bits < 8) throw new InputError(`${where}: '${name}': ${dtype} is not supported in JSON`);
    if (data.length !== expected) throw new InputError(`${where}: '${name}' has ${data.length} values, shape [${shape.join(', ')}] needs ${expected}`);
    const target = tensor.data as unknown as Record<number, unknown>;
    const read = VALUE_READERS[info.kind];
    data.forEach((v, i) => {
      const value = read(v, dtype);
      if (value === undefined) throw new InputError(`${where}: '${name}' value ${i} (${JSON.stringify(v)}) is not a valid ${dtype}`);
      target[i] = value;
    });
    out.set(name, tensor);
  }
  return out;
}

type JsonValue = z.infer<typeof Value>;

/**
 * One JSON value as the element the tensor stores, or undefined when it is not one: a silent NaN,
 * a truncated 1.5 or an int32 that wraps around would change the inputs without a word.
 */
const VALUE_READERS: Record<DtypeInfo['kind'], (v: JsonValue, dtype: Dtype) => number | bigint | string | undefined> = {
  string: (v) => String(v),
  bool: (v) => (typeof v === 'boolean' ? Number(v) : v === 0 || v === 1 ? v : undefined),
  int: integer,
  uint: integer,
  float: (v, dtype) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && FLOAT_TEXT.test(v.trim()) ? Number(v) : undefined;
    if (n === undefined) return undefined;
    return dtype === 'float16' ? floatToHalf(n) : dtype === 'bfloat16' ? floatToBfloat16(n) : n;
  },
  complex: (v) => (typeof v === 'number' ? v : undefined),
};

/** What the writer puts in strings: non-finite floats; numbers in any JSON spelling are accepted too. */
const FLOAT_TEXT = /^(NaN|[+-]?Infinity|[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?)$/i;

/** Integers as numbers, or as strings of digits (64-bit values beyond 2^53), within the dtype's range. */
function integer(v: JsonValue, dtype: Dtype): number | bigint | undefined {
  const exact = typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? BigInt(v.trim()) : undefined;
  const [lo, hi] = integerRange(dtype);
  if (exact === undefined || exact < lo || exact > hi) return undefined;
  return dtypeInfo(dtype).array.startsWith('Big') ? exact : Number(exact);
}

export async function readTensorJson(file: string): Promise<TensorMap> {
  const text = await readText(file);
  return tensorsFromJson(text, file);
}
