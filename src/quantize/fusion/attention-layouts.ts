import { type Term, isNumber, num, size, times } from './shape-expr.js';

/**
 * Where the heads live in an unfused attention, as exporters write it. `B` and `S` are the batch
 * and sequence sizes of the attention input x [B, S, E_in]; H heads of size d, E = H·d. Matching
 * checks every reshape target and permutation against the layout, so a model that only looks
 * similar (heads split the other way, a different transpose) is left alone.
 */
export interface AttentionLayout {
  name: string;
  /** the permutation x goes through before the projections, when the layout has one */
  inputPerm?: number[];
  /** the shape of what the projections read, from x's [B, S, E_in] */
  projectionInput(x: Term[]): Term[];
  /** H and d as a head-split reshape target states them */
  heads(target: Term[]): { heads: number; size: number } | undefined;
  /** the reshape target that splits q, k or v into heads */
  split(heads: number, size: number): Term[];
  /** composite permutations from the split to the scores' operands, and from the context to the merge */
  perms: { q: number[]; k: number[]; v: number[]; merge: number[] };
  /** the reshape target that merges the heads of the context back */
  merged(hidden: number): Term[];
  /**
   * Layouts whose merged context is not [B, S, E] take the output projection into the pattern,
   * with the reshape and permutation that bring its result back to [B, S, E'].
   */
  output?: { target(hidden: number): Term[]; perm: number[] };
  /** the additive mask as the scores read it: each axis lists the sizes merged into it, in order */
  mask(heads: number): string[][];
}

const [B, S] = [size('B'), size('S')];

export const layouts: AttentionLayout[] = [
  {
    // torch.nn.MultiheadAttention (batch_first=True, as nn.TransformerEncoder uses it): torch 1.13
    // transposes x to [S, B, E], splits heads as [S, B·H, d] and runs the output projection on [S·B, E].
    name: 'sequence-first [B·H, S, d] (torch nn.MultiheadAttention)',
    inputPerm: [1, 0, 2],
    projectionInput: (x) => [x[1], x[0], x[2]],
    heads: (t) => (t.length === 3 && isNumber(t[2]) && t[1].dims.join() === 'B' ? { heads: t[1].k, size: t[2].k } : undefined),
    split: (h, d) => [S, times(num(h), B), num(d)],
    perms: { q: [1, 0, 2], k: [1, 2, 0], v: [1, 0, 2], merge: [1, 0, 2] },
    merged: (e) => [times(S, B), num(e)],
    output: { target: (e) => [S, B, num(e)], perm: [1, 0, 2] },
    mask: (h) => [['B', String(h)], [], ['S']],
  },
  {
    // BERT as written by hand or by Hugging Face: [B, S, H, d] transposed to [B, H, S, d].
    name: 'batch-first [B, H, S, d] (BERT)',
    projectionInput: (x) => x,
    heads: (t) => (t.length === 4 && isNumber(t[2]) && isNumber(t[3]) ? { heads: t[2].k, size: t[3].k } : undefined),
    split: (h, d) => [B, S, num(h), num(d)],
    perms: { q: [0, 2, 1, 3], k: [0, 2, 3, 1], v: [0, 2, 1, 3], merge: [0, 2, 1, 3] },
    merged: (e) => [B, S, num(e)],
    mask: () => [['B'], [], [], ['S']],
  },
];
