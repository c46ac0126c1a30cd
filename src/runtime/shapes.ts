import { InputError } from '../errors.js';
import { type TensorInfo, formatShape } from '../onnx/signature.js';
import { opt } from '../option-ref.js';

/**
 * Shapes as the user gave them, with the same meaning in every command: `shapes` fixes whole
 * input shapes by input name; `dims` fixes a symbolic dimension wherever it appears.
 * A dim may carry several values: a sweep in `bench`, min/opt/max in `engine`.
 */
export interface ShapeSpec {
  shapes: Record<string, number[]>;
  dims: Record<string, number[]>;
}

export const emptyShapeSpec = (): ShapeSpec => ({ shapes: {}, dims: {} });

export interface ResolvedShapes {
  shapes: Map<string, number[]>;
  /** dims that took a default value, e.g. `batch=1`, for the report to say so */
  defaulted: string[];
}

const BATCH_LIKE = /^(n|b|bs|batch.*|.*_batch)$/i;

/** The size of a symbolic dim that tdeploy generates inputs for without being told one: the same in every command. */
export const GENERATED_DIMS = { batch: 1, other: 16 } as const;

/** Whether a dimension name looks like a batch axis (it then defaults to 1 rather than 16). */
export function isBatchLike(name: string): boolean {
  return BATCH_LIKE.test(name);
}

/**
 * Concrete shapes for every input. Where a dim has several values, `pick` chooses which (0 = the
 * first). A symbolic dim without a value takes 1 when batch-like, else `otherDefault` (16); an
 * unnamed unknown dim counts as batch-like on the first axis.
 */
export function resolveShapes(inputs: TensorInfo[], spec: ShapeSpec, pick = 0, otherDefault = GENERATED_DIMS.other): ResolvedShapes {
  checkSpec(inputs, spec);
  const defaulted = new Set<string>();
  const shapes = new Map<string, number[]>();
  for (const input of inputs) {
    const given = spec.shapes[input.name];
    if (given) {
      shapes.set(input.name, given);
      continue;
    }
    if (!input.shape) {
      throw new InputError(`input '${input.name}' has no shape in the model`, { hint: `give one with ${opt('shapes', `${input.name}:DIMSxDIMS`)}` });
    }
    shapes.set(input.name, input.shape.map((d, axis) => {
      if (typeof d === 'number' && d >= 0) return d;
      const values = typeof d === 'string' ? spec.dims[d] : undefined;
      if (values) return values[Math.min(pick, values.length - 1)];
      const label = typeof d === 'string' ? d : `${input.name}[${axis}]`;
      const value = (typeof d === 'string' ? isBatchLike(d) : axis === 0) ? GENERATED_DIMS.batch : otherDefault;
      defaulted.add(`${label}=${value}`);
      return value;
    }));
  }
  return { shapes, defaulted: [...defaulted] };
}

/** Every shape must name an input and match its rank and fixed dims; every dim must name a symbolic dim. */
export function checkSpec(inputs: TensorInfo[], spec: ShapeSpec): void {
  const names = inputs.map((i) => i.name);
  for (const [name, shape] of Object.entries(spec.shapes)) {
    const input = inputs.find((i) => i.name === name);
    if (!input) throw new InputError(`${opt('shapes')} names '${name}', which is not an input of the model`, { hint: `the inputs are ${names.join(', ')}` });
    if (!input.shape) continue;
    if (input.shape.length !== shape.length) {
      throw new InputError(`${opt('shapes', name)}: rank ${shape.length} but the model's input is ${formatShape(input.shape)} (rank ${input.shape.length})`);
    }
    input.shape.forEach((d, axis) => {
      if (typeof d === 'number' && d >= 0 && d !== shape[axis]) {
        throw new InputError(`${opt('shapes', name)}: dim ${axis} is fixed to ${d} in the model, not ${shape[axis]}`);
      }
    });
  }
  const symbolic = new Set(inputs.flatMap((i) => (i.shape ?? []).filter((d): d is string => typeof d === 'string')));
  for (const name of Object.keys(spec.dims)) {
    if (!symbolic.has(name)) {
      throw new InputError(`${opt('dims', name)}: the model has no symbolic dimension '${name}'`, {
        hint: symbolic.size ? `its symbolic dims are ${[...symbolic].join(', ')}` : 'all its input dims are fixed',
      });
    }
  }
}

/** Expands multi-valued dims into one spec per combination (a sweep), in the order given. */
export function sweep(spec: ShapeSpec): ShapeSpec[] {
  let specs: ShapeSpec[] = [{ shapes: spec.shapes, dims: {} }];
  for (const [name, values] of Object.entries(spec.dims)) {
    specs = specs.flatMap((s) => values.map((v) => ({ shapes: s.shapes, dims: { ...s.dims, [name]: [v] } })));
  }
  return specs;
}
