import type { NodeProto } from '../../onnx/gen/onnx_pb.js';
import { opsetVersion } from '../../onnx/signature.js';
import { intAttr, intsAttr } from '../graph.js';
import { type AttentionParts, buildAttention, tensorsRead } from './attention-build.js';
import { type AttentionLayout, layouts } from './attention-layouts.js';
import { recogniseMask } from './attention-mask.js';
import { type OutputProjection, findOutputProjection } from './output-projection.js';
import { type Projection, columns, findProjection } from './projection.js';
import { type ShapeOf, type Term, evaluate, num, reshapesTo, size } from './shape-expr.js';
import { type Bail, type Fusion, type FusionGraph, type Match, bail, isBail } from './types.js';
import { type Traced, producer, samePerm, scaling, soleReader, traceBack, traceForward } from './walk.js';

/**
 * Unfused self-attention, as torch exports it, into com.microsoft Attention: one packed
 * [E_in, 3E] QKV projection, the scaled scores, the mask, softmax and the context in one op,
 * which INT8 then turns into QAttention. Matching starts at the Softmax:
 *
 *   Softmax(scale · q·kᵀ + mask) · v, with q, k, v = x·W + b split into heads and the context
 *   merged back, in one of the layouts of attention-layouts.ts.
 *
 * Every reshape target and permutation is checked against the layout symbolically, so the fused
 * op computes what the pattern did whatever the batch and sequence sizes; anything else bails.
 */
export const attention: Fusion = {
  name: 'Attention',
  anchor: 'Softmax',
  match: matchAttention,
};

/** The data path from the projections to the context, before its layout is known. */
interface Core {
  scores: { qk: NodeProto; factor: number; nodes: NodeProto[]; mask?: string };
  /** probabilities · v */
  mv: NodeProto;
  /** q, k and v traced back from the scores' MatMul and mv to their head-split Reshapes */
  traced: Traced[];
  reshapes: NodeProto[];
  projections: Projection[];
}

/** Softmax's input back through scalings (and the mask Add) to the q·kᵀ MatMul. */
function findScores(g: FusionGraph, softmax: NodeProto): Core['scores'] | undefined {
  const chain = (name: string) => {
    const nodes: NodeProto[] = [];
    let factor = 1;
    for (let node = g.view.producers.get(name); node; node = g.view.producers.get(name)) {
      const scaled = scaling(g, node);
      if (!scaled) break;
      factor *= scaled.factor;
      nodes.push(node);
      name = scaled.input;
    }
    const qk = producer(g, name, 'MatMul');
    return qk && { qk, factor, nodes };
  };
  const direct = chain(softmax.input[0]);
  if (direct) return direct;
  const add = producer(g, softmax.input[0], 'Add');
  for (const side of add ? [0, 1] : []) {
    const found = chain(add!.input[side]);
    if (found) return { ...found, nodes: [add!, ...found.nodes], mask: add!.input[1 - side] };
  }
  return undefined;
}

function findCore(g: FusionGraph, softmax: NodeProto): Core | Bail | undefined {
  const scores = findScores(g, softmax);
  if (!scores) return undefined;
  const mv = soleReader(g, softmax.output[0], 'MatMul');
  if (!mv || mv.input[0] !== softmax.output[0]) return bail('its probabilities are not only multiplied by v');
  const traced = [traceBack(g, scores.qk.input[0]), traceBack(g, scores.qk.input[1]), traceBack(g, mv.input[1], false)];
  const reshapes = traced.map((t) => t && producer(g, t.source, 'Reshape'));
  if (reshapes.some((r) => !r)) return bail('q, k and v are not split into heads by a Reshape');
  const projections: Projection[] = [];
  for (const r of reshapes) {
    const p = findProjection(g, r!.input[0]);
    if (isBail(p)) return p;
    projections.push(p);
  }
  if (projections.some((p) => p.input !== projections[0].input)) return bail('q, k and v do not project the same input (cross-attention is not fused)');
  return { scores, mv, traced: traced as Traced[], reshapes: reshapes as NodeProto[], projections };
}

function matchAttention(softmax: NodeProto, g: FusionGraph): Match | Bail | undefined {
  const core = findCore(g, softmax);
  if (!core || isBail(core)) return core;
  const [q] = core.projections;
  const transpose = producer(g, q.input, 'Transpose');
  const layout = layouts.find((l) => !l.inputPerm || (transpose && samePerm(intsAttr(transpose, 'perm'), l.inputPerm)))!;
  const x = layout.inputPerm ? transpose!.input[0] : q.input;
  const rank = g.types.get(x)?.shape.length;
  if (rank !== undefined && rank !== 3) return bail(`its input '${x}' has rank ${rank}, not [batch, sequence, hidden]`);

  // Symbolic shapes of the pattern's values, for the Shape nodes that compute reshape targets.
  const shapes = new Map<string, Term[]>([[x, [size('B'), size('S'), num(Number(q.weight.dims[0]))]]]);
  const shapeOf: ShapeOf = (name) => shapes.get(name) ?? transposedShape(g, name, shapeOf);
  const heads = splitHeads(g, core, layout, x, shapes, shapeOf);
  if (isBail(heads)) return heads;
  const axis = intAttr(softmax, 'axis', (opsetVersion(g.model.proto) ?? 13) >= 13 ? -1 : 1);
  if (axis !== -1 && axis !== heads.split.length - 1) return bail(`the softmax runs along axis ${axis}, not the last`);
  const merged = mergeContext(g, core, layout, heads, shapes, shapeOf);
  if (isBail(merged)) return merged;
  const mask = core.scores.mask ? recogniseMask(g, core.scores.mask, layout.mask(heads.heads), x, shapeOf) : undefined;
  if (mask && isBail(mask)) return mask;

  const [tq, tk, tv] = core.traced;
  const parts: AttentionParts = {
    name: softmax.name, x, projections: core.projections, ranges: heads.ranges, heads: heads.heads, headSize: heads.size,
    scale: core.scores.factor * tq.factor * tk.factor, mask, output: merged.output, outputProjection: merged.projection,
  };
  const remove = new Set<NodeProto>([
    softmax, ...core.scores.nodes, core.scores.qk, core.mv, ...tq.nodes, ...tk.nodes, ...tv.nodes, ...core.reshapes,
    ...core.projections.flatMap((p) => p.nodes), ...(layout.inputPerm ? [transpose!] : []), ...merged.nodes,
  ]);
  return {
    remove: [...remove],
    outputs: [merged.output],
    reads: [x, ...(mask ? [mask.source] : []), ...tensorsRead(parts)],
    build: () => buildAttention(g, parts),
  };
}

interface Heads {
  heads: number;
  size: number;
  /** the per-head shape q, k and v are split into */
  split: Term[];
  /** the columns of each projection's weight that q, k and v are */
  ranges: [number, number][];
}

/** H and d from q's head split; then every projection must be H·d wide and split, and transposed, as the layout does. */
function splitHeads(g: FusionGraph, core: Core, layout: AttentionLayout, x: string, shapes: Map<string, Term[]>, shapeOf: ShapeOf): Heads | Bail {
  const projected = layout.projectionInput(shapes.get(x)!);
  shapes.set(core.projections[0].input, projected);
  for (const p of core.projections) {
    for (const n of p.nodes) if (n !== p.slice) shapes.set(n.output[0], [...projected.slice(0, -1), num(Number(p.weight.dims[1]))]);
  }
  const target = (r: NodeProto) => evaluate(g, r.input[1], shapeOf)?.terms;
  const split0 = layout.heads(target(core.reshapes[0]) ?? []);
  if (!split0) return bail(`'${core.reshapes[0].name}' does not split q into heads as the ${layout.name} layout does`);
  const found = split0.heads === -1 ? inferredHeads(g, core, split0.size, shapeOf) : split0;
  if (isBail(found)) return found;
  const hidden = found.heads * found.size;
  const split = layout.split(found.heads, found.size);
  const ranges: [number, number][] = [];
  for (const [i, p] of core.projections.entries()) {
    const range = columns(g, p, shapeOf);
    if (isBail(range)) return range;
    if (range[1] - range[0] !== hidden) return bail(`q, k and v are not all ${hidden} wide (${found.heads} heads of ${found.size})`);
    ranges.push(range);
    const from = [...projected.slice(0, -1), num(hidden)];
    shapes.set(p.output, from);
    if (!reshapesTo(target(core.reshapes[i]), from, split, intAttr(core.reshapes[i], 'allowzero', 0) === 1)) {
      return bail(`'${core.reshapes[i].name}' does not split ${hidden} values into ${found.heads} heads of ${found.size} as the ${layout.name} layout does`);
    }
    shapes.set(core.reshapes[i].output[0], split);
  }
  const [tq, tk, tv] = core.traced;
  if (!samePerm(tq.perm, layout.perms.q) || !samePerm(tk.perm, layout.perms.k) || !samePerm(tv.perm, layout.perms.v)) {
    return bail(`the heads are not transposed as the ${layout.name} layout does`);
  }
  return { heads: found.heads, size: found.size, split, ranges };
}

/**
 * The head count a split leaves to Reshape to infer ([B, S, -1, d], as transformers 5 writes it):
 * q's projection width over the head size.
 */
function inferredHeads(g: FusionGraph, core: Core, size: number, shapeOf: ShapeOf): { heads: number; size: number } | Bail {
  const q = columns(g, core.projections[0], shapeOf);
  if (isBail(q)) return q;
  const heads = (q[1] - q[0]) / size;
  return Number.isInteger(heads) && heads > 0 ? { heads, size } : bail(`q is ${q[1] - q[0]} wide, not a whole number of heads of ${size}`);
}

interface Merged {
  /** the value the fused nodes produce in place of the pattern's result */
  output: string;
  nodes: NodeProto[];
  projection?: OutputProjection;
}

/** The context back from heads to [B, S, E], and for layouts that need it, through the output projection to [B, S, E']. */
function mergeContext(g: FusionGraph, core: Core, layout: AttentionLayout, heads: Heads, shapes: Map<string, Term[]>, shapeOf: ShapeOf): Merged | Bail {
  const target = (r: NodeProto) => evaluate(g, r.input[1], shapeOf)?.terms;
  const hidden = heads.heads * heads.size;
  // The context has q's per-head shape; exporters read its Shape for the merge.
  const contextShape = permute(heads.split, layout.perms.q);
  shapes.set(core.mv.output[0], contextShape);
  const context = traceForward(g, core.mv.output[0]);
  const merge = soleReader(g, context.end, 'Reshape');
  if (!merge || !samePerm(context.perm, layout.perms.merge)
    || !reshapesTo(target(merge), permute(contextShape, layout.perms.merge), layout.merged(hidden), intAttr(merge, 'allowzero', 0) === 1)) {
    return bail(`the context is not merged back from heads as the ${layout.name} layout does`);
  }
  shapes.set(merge.output[0], layout.merged(hidden));
  if (!layout.output) return { output: merge.output[0], nodes: [...context.nodes, merge] };

  const projection = findOutputProjection(g, merge.output[0], hidden);
  if (isBail(projection)) return projection;
  const projected = [layout.merged(hidden)[0], num(projection.width)];
  shapes.set(projection.output, projected);
  const back = soleReader(g, projection.output, 'Reshape');
  const restored = back && traceForward(g, back.output[0]);
  if (!back || !restored || !samePerm(restored.perm, layout.output.perm)
    || !reshapesTo(target(back), projected, layout.output.target(projection.width), intAttr(back, 'allowzero', 0) === 1)) {
    return bail(`the output projection's result is not brought back to [batch, sequence, ${projection.width}]`);
  }
  return { output: restored.end, nodes: [...context.nodes, merge, ...projection.nodes, back, ...restored.nodes], projection };
}

const permute = (shape: Term[], perm: number[]) => perm.map((i) => shape[i]);

/** The shape of a Transpose of a value whose shape is known (torch reads the Shape of transposed k). */
function transposedShape(g: FusionGraph, name: string, shapeOf: ShapeOf): Term[] | undefined {
  const t = producer(g, name, 'Transpose');
  const perm = t && intsAttr(t, 'perm');
  const shape = t && shapeOf(t.input[0]);
  return perm && shape && perm.length === shape.length ? permute(shape, perm) : undefined;
}
