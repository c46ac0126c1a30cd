import { InputError } from '../errors.js';
import type { TensorInfo } from '../onnx/signature.js';
import { type ShapeSpec, isBatchLike, resolveShapes, sweep } from '../runtime/shapes.js';
import { opt } from '../option-ref.js';

/** One point of a sweep: the concrete shape of every input, and what the batch is there. */
export interface BenchCase {
  shapes: Record<string, number[]>;
  /** the value of the model's batch-like dim, 1 when it has none (samples/s = batch × inferences/s) */
  batch: number;
  /** symbolic dims that took a default value, e.g. `seq=16` */
  defaulted: string[];
}

/** The model's symbolic dims that look like a batch axis, in input order. */
export function batchDims(inputs: TensorInfo[]): string[] {
  const names = inputs.flatMap((i) => (i.shape ?? []).filter((d): d is string => typeof d === 'string' && isBatchLike(d)));
  return [...new Set(names)];
}

/** `batch` [1, 8, 32] sets every batch-like dim of the model to 1, 8 and 32 (a sweep). */
export function withBatch(inputs: TensorInfo[], spec: ShapeSpec, batch: number[] | undefined): ShapeSpec {
  if (!batch) return spec;
  const names = batchDims(inputs);
  if (names.length === 0) {
    const symbolic = [...new Set(inputs.flatMap((i) => (i.shape ?? []).filter((d) => typeof d === 'string')))];
    throw new InputError(`${opt('batch')}: the model has no batch-like symbolic dimension`, {
      hint: symbolic.length ? `sweep one of its symbolic dims with ${opt('dims')}, e.g. ${opt('dims', `${symbolic[0]}=${batch.join(',')}`)}` : 'all its input dims are fixed',
    });
  }
  const both = names.find((n) => spec.dims[n]);
  if (both) throw new InputError(`${opt('batch')} and ${opt('dims', both)} both set the batch dimension '${both}'`, { hint: 'give one of them' });
  // The batch goes first, so it is the outermost loop of the sweep.
  return { shapes: spec.shapes, dims: { ...Object.fromEntries(names.map((n) => [n, batch])), ...spec.dims } };
}

/** Every combination of the swept dims, in the order the values were given (first dim outermost). */
export function benchCases(inputs: TensorInfo[], spec: ShapeSpec, batch?: number[]): BenchCase[] {
  return sweep(withBatch(inputs, spec, batch)).map((point) => {
    const { shapes, defaulted } = resolveShapes(inputs, point);
    return { shapes: Object.fromEntries(shapes), batch: batchOf(inputs, shapes), defaulted };
  });
}

/** The batch of concrete shapes: the value at the first batch-like symbolic axis, else 1. */
export function batchOf(inputs: TensorInfo[], shapes: Map<string, number[]> | Record<string, number[]>): number {
  const get = (name: string) => (shapes instanceof Map ? shapes.get(name) : shapes[name]);
  for (const input of inputs) {
    const axis = (input.shape ?? []).findIndex((d) => typeof d === 'string' && isBatchLike(d));
    const shape = get(input.name);
    if (axis >= 0 && shape) return shape[axis];
  }
  return 1;
}

/** Shapes as one line, the form results are matched on: `input_ids:1x16 attention_mask:1x16`. */
export function formatShapes(shapes: Record<string, number[]>): string {
  return Object.entries(shapes).map(([name, dims]) => `${name}:${dims.join('x')}`).join(' ');
}
