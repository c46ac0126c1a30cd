import type { Dtype } from '../../tensor/dtype.js';
import { type Kind, type Term, isNumber, num, sameTerm, size, times } from './shape-expr.js';

/** The values an attention mask chain computes, and their shapes (attention-mask.ts follows the chain). */

/**
 * A value of the mask chain, evaluated for the two values a [B, S] mask of 0 and 1 can hold: what
 * it is where the mask keeps a token and where it drops one, and its shape as the atoms merged
 * into each axis in row-major order: `B` and `S` index the mask; a number, or `*S`, is an axis
 * of that size along which the value repeats (the mask broadcast over heads or queries).
 * Tokenizers give such masks; other values (2, -1) would make the pattern and the fused op
 * differ, as they do for ONNX Runtime's own fusion.
 */
export interface Bias {
  keep: number;
  drop: number;
  kind: Kind;
  shape: string[][];
  source: string;
  dtype: Dtype;
}

/** A value that is the same in every element (a constant, a size read from a shape, all-true). */
export interface Uniform {
  uniform: Term;
  kind: Kind;
  shape: Term[];
}

/**
 * Integer positions: Σ stride[a] · i[a] over the axes' indices i, built from Range(0, n). Index
 * arithmetic of this form picks the mask's elements in transformers 5 (`mask[batch_idx, kv_idx]`
 * written as a Gather from the flattened mask).
 */
export interface Positions {
  stride: Term[];
  shape: Term[];
}

export type Value = Bias | Uniform | Positions;
export const isUniform = (v: Value): v is Uniform => 'uniform' in v;
export const isPositions = (v: Value): v is Positions => 'stride' in v;
export const isBias = (v: Value): v is Bias => 'keep' in v;

export function convert(v: number, kind: Kind): number {
  return kind === 'bool' ? Number(v !== 0) : kind === 'int' ? Math.trunc(v) : Math.fround(v);
}

export const atomSize = (atom: string): Term => (/^\d+$/.test(atom) ? num(Number(atom)) : size(atom.replace(/^\*/, '')));
export const product = (terms: Term[]): Term => terms.reduce(times, num(1));
export const axisSize = (axis: string[]): Term => product(axis.map(atomSize));
export const shapeOfValue = (v: Value): Term[] => (isBias(v) ? v.shape.map(axisSize) : v.shape);

/** An axis of size t that a value repeats along, or undefined for a size no atom can say. */
export function repeat(t: Term): string[] | undefined {
  if (isNumber(t)) return t.k >= 1 ? (t.k === 1 ? [] : [String(t.k)]) : undefined;
  return t.k === 1 && t.dims.length === 1 ? [`*${t.dims[0]}`] : undefined;
}

/** Numpy broadcasting of a mask value's axes with a shape (right-aligned; size 1 stretches). */
export function broadcast(shape: string[][], to: Term[]): string[][] | undefined {
  const rank = Math.max(shape.length, to.length);
  const out: string[][] = [];
  for (let i = 0; i < rank; i++) {
    const axis = shape[i - rank + shape.length] ?? [];
    const t = to[i - rank + to.length] ?? num(1);
    const stretched = isNumber(t, 1) ? axis : axis.length === 0 ? repeat(t) : sameTerm(axisSize(axis), t) ? axis : undefined;
    if (!stretched) return undefined;
    out.push(stretched);
  }
  return out;
}

export function broadcastTerms(a: Term[], b: Term[]): Term[] | undefined {
  const rank = Math.max(a.length, b.length);
  const out: Term[] = [];
  for (let i = 0; i < rank; i++) {
    const [x, y] = [a[i - rank + a.length] ?? num(1), b[i - rank + b.length] ?? num(1)];
    if (!isNumber(x, 1) && !isNumber(y, 1) && !sameTerm(x, y)) return undefined;
    out.push(isNumber(x, 1) ? y : x);
  }
  return out;
}

/** a / b for terms, when b's sizes are among a's and its factor divides a's. */
export function divide(a: Term, b: Term): Term | undefined {
  const dims = [...a.dims];
  for (const d of b.dims) {
    const i = dims.indexOf(d);
    if (i < 0) return undefined;
    dims.splice(i, 1);
  }
  return b.k !== 0 && a.k % b.k === 0 ? { k: a.k / b.k, dims } : undefined;
}

/** The shape after Reshape(x, target): target sizes made of x's atoms, merged or split in order; one -1 takes the rest. */
export function regroup(shape: string[][], target: Term[]): string[][] | undefined {
  const atoms = shape.flat();
  const inferred = target.filter((t) => isNumber(t, -1)).length;
  if (inferred > 1 || target.some((t) => isNumber(t, 0))) return undefined;
  const rest = inferred ? divide(product(atoms.map(atomSize)), product(target.filter((t) => !isNumber(t, -1)))) : undefined;
  const out: string[][] = [];
  let next = 0;
  for (const wanted of target) {
    const t = isNumber(wanted, -1) ? rest : wanted;
    if (!t) return undefined;
    const group: string[] = [];
    let made = num(1);
    while (!sameTerm(made, t) && next < atoms.length) {
      group.push(atoms[next]);
      made = times(made, atomSize(atoms[next++]));
    }
    if (!sameTerm(made, t)) return undefined;
    out.push(group);
  }
  return next === atoms.length ? out : undefined;
}
