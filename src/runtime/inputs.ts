import { InputError } from '../errors.js';
import { type TensorInfo, formatShape } from '../onnx/signature.js';
import { dtypeInfo, integerRange, isFloat } from '../tensor/dtype.js';
import { Random } from '../tensor/random.js';
import { type Tensor, type TensorMap, elementCount, floatToBfloat16, floatToHalf, zeros } from '../tensor/tensor.js';
import { opt } from '../option-ref.js';

export interface GenerateOptions {
  seed?: number;
  /** integers are drawn from [lo, hi): the default 0..100 gives valid token ids for any vocabulary of 100 or more */
  intRange?: [number, number];
}

/**
 * Integer inputs whose names say what they hold get what a tokenizer would give rather than random
 * ids: a mask of 37 would turn an attention bias into nonsense and make any comparison meaningless.
 */
const INTEGER_ROLES: { pattern: RegExp; fills: string; value: (flatIndex: number, shape: number[]) => number }[] = [
  { pattern: /(^|_)(attention_)?mask$/i, fills: 'ones', value: () => 1 },
  { pattern: /token_type_ids|segment_ids/i, fills: 'zeros', value: () => 0 },
  { pattern: /position_ids/i, fills: 'positions 0..n-1', value: (i, shape) => i % (shape[shape.length - 1] || 1) },
];

function integerRole(input: TensorInfo) {
  const kind = dtypeInfo(input.dtype).kind;
  return kind === 'int' || kind === 'uint' || kind === 'bool' ? INTEGER_ROLES.find((r) => r.pattern.test(input.name)) : undefined;
}

/** What generateInputs does for inputs it recognises by name, for reports: "attention_mask: ones". */
export function generatedRoles(inputs: TensorInfo[]): string[] {
  return inputs.flatMap((input) => {
    const role = integerRole(input);
    return role ? [`${input.name}: ${role.fills}`] : [];
  });
}

/**
 * Deterministic inputs for the given shapes: floats standard normal, integers uniform in the range,
 * except integer inputs recognised by name (masks, token types, positions).
 */
export function generateInputs(inputs: TensorInfo[], shapes: Map<string, number[]>, options: GenerateOptions = {}): TensorMap {
  const random = new Random(options.seed ?? 0);
  const [lo, hi] = options.intRange ?? [0, 100];
  const out: TensorMap = new Map();
  for (const input of inputs) {
    const info = dtypeInfo(input.dtype);
    if (info.bits > 0 && info.bits < 8) throw new InputError(`cannot generate ${input.dtype} input '${input.name}'; give it with ${opt('inputs')}`);
    const shape = shapes.get(input.name)!;
    const tensor = zeros(input.dtype, shape);
    const n = elementCount(shape);
    const data = tensor.data as unknown as Record<number, unknown>;
    const role = integerRole(input);
    if (role) {
      for (let i = 0; i < n; i++) data[i] = info.array.startsWith('Big') ? BigInt(role.value(i, shape)) : role.value(i, shape);
      out.set(input.name, tensor);
      continue;
    }
    if (info.kind === 'int' || info.kind === 'uint') checkIntRange(input, lo, hi);
    for (let i = 0; i < n * info.lanes; i++) {
      switch (info.kind) {
        case 'float':
        case 'complex': {
          const v = random.normal();
          data[i] = input.dtype === 'float16' ? floatToHalf(v) : input.dtype === 'bfloat16' ? floatToBfloat16(v) : v;
          break;
        }
        case 'int':
        case 'uint': {
          const v = random.int(lo, hi);
          data[i] = info.array.startsWith('Big') ? BigInt(v) : v;
          break;
        }
        case 'bool':
          data[i] = random.next() < 0.5 ? 0 : 1;
          break;
        case 'string':
          data[i] = `token${random.int(lo, hi)}`;
          break;
      }
    }
    out.set(input.name, tensor);
  }
  return out;
}

/** Integers outside the input's dtype would wrap around in its typed array: 0..1000 into an int8 gives negatives. */
function checkIntRange(input: TensorInfo, lo: number, hi: number): void {
  const [min, max] = integerRange(input.dtype);
  if (BigInt(lo) < min || BigInt(hi - 1) > max) {
    throw new InputError(`${opt('intRange', `${lo}..${hi}`)} does not fit ${input.dtype} input '${input.name}' (${min}..${max + 1n})`, { kind: 'usage' });
  }
}

/**
 * Checks tensors given for the model's inputs: every input present, dtypes equal, ranks and fixed
 * dims matching, and one value per symbolic dim across inputs. Errors name the tensor.
 */
export function checkInputs(inputs: TensorInfo[], tensors: TensorMap, where: string): void {
  const symbols = new Map<string, { value: number; input: string }>();
  for (const input of inputs) {
    const tensor = tensors.get(input.name);
    if (!tensor) {
      throw new InputError(`${where} has no tensor for input '${input.name}'`, { hint: `it has ${[...tensors.keys()].join(', ') || 'nothing'}` });
    }
    checkTensor(input, tensor, where);
    input.shape?.forEach((d, axis) => {
      if (typeof d !== 'string') return;
      const seen = symbols.get(d);
      if (seen && seen.value !== tensor.shape[axis]) {
        throw new InputError(`${where}: dimension '${d}' is ${seen.value} in '${seen.input}' but ${tensor.shape[axis]} in '${input.name}'`);
      }
      symbols.set(d, { value: tensor.shape[axis], input: input.name });
    });
  }
}

/**
 * One tensor against the model's description of it: same dtype (with `anyFloat`, any float type
 * for a float), same rank, same fixed dims.
 */
export function checkTensor(info: TensorInfo, tensor: Tensor, where: string, { anyFloat = false } = {}): void {
  const floats = anyFloat && isFloat(tensor.dtype) && isFloat(info.dtype);
  if (tensor.dtype !== info.dtype && !floats) {
    throw new InputError(`${where}: '${info.name}' is ${tensor.dtype} but the model expects ${info.dtype}`);
  }
  if (!info.shape) return;
  const fits = info.shape.length === tensor.shape.length && info.shape.every((d, i) => typeof d !== 'number' || d < 0 || d === tensor.shape[i]);
  if (!fits) {
    throw new InputError(`${where}: '${info.name}' has shape [${tensor.shape.join(', ')}] but the model expects ${formatShape(info.shape)}`);
  }
}
