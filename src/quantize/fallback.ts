/**
 * `quantize` with `fallback`: when the quantized model misses its drift gate, find a small set of
 * nodes to keep in float32 that meets it. Every candidate set is a real quantize (the same entry
 * point, into a scratch folder) whose drift is measured; the final set is quantized once more into
 * the output, so the result is exactly what `excludeNodes` / `blockNodes` with that list give.
 *
 * Search: rank the converted nodes by the error jump of the layers they compute (`compareLayers`
 * against the original). Try the top of the ranking, up to the bound, at once; when that meets the
 * gate, bisect for the shortest prefix that does. Otherwise grow the set greedily: at each step
 * re-rank on the current best model (keeping one node float can move the divergence to the next,
 * as an overflow carried into a float16 reader does), measure the first few candidates kept float
 * one by one, and keep the best. Last, drop any kept node the set meets the gate without.
 */
import fs from 'node:fs';
import path from 'node:path';
import { compareLayers } from '../accuracy/layerwise.js';
import { walkUp } from '../accuracy/layerwise-graph.js';
import { OutputSet } from '../io/atomic.js';
import { loadModel } from '../onnx/model.js';
import { signature } from '../onnx/signature.js';
import { opt } from '../option-ref.js';
import { type Progress, silent } from '../progress.js';
import { INT8_OP_TYPES } from './int8/registry.js';
import type { QuantizeOptions } from './options.js';
import { inputData, quantize } from './quantize.js';
import type { FallbackReport, QuantizeReport } from './result.js';

/** Candidates measured one by one at each greedy step. */
const SHORTLIST = 3;
/** Share of the converted nodes the search may keep in float32 unless `fallbackMax` says otherwise. */
export const DEFAULT_FALLBACK_SHARE = 0.1;

/** The option that keeps nodes in float32, by target. */
export const KEEP_KEY = { fp16: 'blockNodes', int8: 'excludeNodes' } as const;

interface Attempt {
  kept: string[];
  report: QuantizeReport;
  /** FP16: intermediate tensors that overflow in float16 (checked only once the drift passes) */
  overflows: string[];
}

export async function quantizeWithFallback(modelPath: string, options: QuantizeOptions, progress: Progress = silent): Promise<QuantizeReport> {
  const started = performance.now();
  const key = KEEP_KEY[options.to];
  const given = options[key] ?? [];
  const model = await loadModel(modelPath);
  const graph = model.proto.graph!;
  const data = await inputData(signature(model.proto), options);
  const scratch = new OutputSet();
  const dir = await scratch.temp(path.join(path.dirname(path.resolve(options.output)), 'tdeploy-fallback'));
  await fs.promises.mkdir(dir);
  const tried = new Map<string, Attempt>();
  const attempt = async (kept: string[]): Promise<Attempt> => {
    const id = JSON.stringify([...kept].sort());
    const known = tried.get(id);
    if (known) return { ...known, kept };
    progress({ kind: 'phase', phase: 'fallback', detail: `attempt ${tried.size + 1}: ${kept.length} node(s) kept float` });
    const report = await quantizeInto(path.join(dir, `attempt-${tried.size + 1}.onnx`), kept);
    const overflows = options.to === 'fp16' && report.drift.passed ? await overflowing(report.output) : [];
    // Only the measurements are needed: a large model's attempts would fill the disk.
    await removeModel(report);
    tried.set(id, { kept, report, overflows });
    return { kept, report, overflows };
  };
  /**
   * onnxruntime's CPU kernels compute most float16 ops in float32 and drop the Casts between them,
   * which hides an overflow inside the graph that GPUs and TensorRT, computing in float16, hit:
   * an FP16 set meets the gate only when no shared tensor is NaN or infinite where the original's is not.
   */
  const overflowing = async (file: string) => (await compareLayers(modelPath, file, data.run, { session: options.session })).layers.filter((l) => l.nonFinite > 0).map((l) => l.tensor);
  const quantizeInto = (output: string, kept: string[]) => quantize(modelPath, { ...options, fallback: false, fallbackMax: undefined, output, [key]: [...given, ...kept] }, silent);
  try {
    const first = await attempt([]);
    const bound = options.fallbackMax ?? Math.max(1, Math.floor(DEFAULT_FALLBACK_SHARE * first.report.nodesConverted));
    const eligible = eligibleNodes(graph.node, first.report, options);
    const ranking = async (from: Attempt): Promise<string[]> => {
      progress({ kind: 'phase', phase: 'fallback', detail: 'ranking layers' });
      const ranked = await quantizeInto(path.join(dir, 'ranked.onnx'), from.kept);
      const layers = await compareLayers(modelPath, ranked.output, data.run, { session: options.session }).finally(() => removeModel(ranked));
      const compared = new Set(layers.layers.map((l) => l.tensor));
      const score = new Map<string, number>();
      for (const layer of layers.layers) {
        if (!(layer.jump > 0)) continue;
        walkUp(graph, layer.tensor, compared, (node) => {
          if (eligible.has(node.name) && !from.kept.includes(node.name)) score.set(node.name, Math.max(score.get(node.name) ?? 0, layer.jump));
        }, () => {});
      }
      // Stable: equal jumps stay in the graph's order.
      return [...score.keys()].sort((a, b) => score.get(b)! - score.get(a)!);
    };

    let best = first;
    if (!meets(first)) {
      const ranked = await ranking(first);
      best = (await bisect(ranked.slice(0, bound), attempt)) ?? (await greedy(first, bound, ranking, attempt));
      if (meets(best)) best = await prune(best, attempt);
    }
    progress({ kind: 'phase', phase: 'fallback', detail: `writing with ${best.kept.length} node(s) kept float` });
    const final = await quantize(modelPath, { ...options, fallback: false, fallbackMax: undefined, [key]: [...given, ...best.kept] }, progress);
    // The worst output cosine with the set kept so far, in the order the nodes were kept (measured already, mostly).
    const kept = [];
    for (const [i, name] of best.kept.entries()) {
      kept.push({ node: name, op: graph.node.find((n) => n.name === name)!.opType, cosine: worstCosine(await attempt(best.kept.slice(0, i + 1))) });
    }
    const fallback: FallbackReport = {
      kept,
      attempts: tried.size,
      seconds: (performance.now() - started) / 1000,
      met: meets(best),
      max: bound,
    };
    final.notes.push(fallbackNote(fallback, key, first, best));
    return { ...final, fallback };
  } finally {
    await scratch.abort();
  }
}

async function removeModel(report: QuantizeReport): Promise<void> {
  for (const file of [report.output, `${report.output}.data`]) await fs.promises.rm(file, { force: true });
}

function meets(a: Attempt): boolean {
  return a.report.drift.passed === true && a.overflows.length === 0;
}

/** Fewer failing outputs, then the higher worst cosine: which of two attempts is closer to the gate. */
function better(a: Attempt, b: Attempt): boolean {
  const failing = (x: Attempt) => x.report.drift.outputs.filter((o) => o.passed === false).length;
  return failing(a) !== failing(b) ? failing(a) < failing(b) : worstCosine(a) > worstCosine(b) + 1e-9;
}

/**
 * The top of the ranking at once; when it meets the gate, the shortest prefix that does (the
 * drift is taken to improve as more nodes stay float). Undefined when even all of them miss.
 */
async function bisect(top: string[], attempt: (kept: string[]) => Promise<Attempt>): Promise<Attempt | undefined> {
  if (top.length === 0 || !meets(await attempt(top))) return undefined;
  let lo = 0;
  let hi = top.length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (meets(await attempt(top.slice(0, mid)))) hi = mid;
    else lo = mid;
  }
  return attempt(top.slice(0, hi));
}

async function greedy(
  first: Attempt, bound: number, ranking: (from: Attempt) => Promise<string[]>, attempt: (kept: string[]) => Promise<Attempt>,
): Promise<Attempt> {
  let current = first;
  let best = current;
  while (!meets(current) && current.kept.length < bound) {
    const shortlist = (await ranking(current)).slice(0, SHORTLIST);
    if (shortlist.length === 0) break;
    let pick: Attempt | undefined;
    for (const node of shortlist) {
      const a = await attempt([...current.kept, node]);
      if (!pick || better(a, pick)) pick = a;
      if (meets(a)) break;
    }
    current = pick!;
    if (meets(current) || better(current, best)) best = current;
  }
  return best;
}

/** Drops, earliest first, every kept node the set still meets the gate without. */
async function prune(found: Attempt, attempt: (kept: string[]) => Promise<Attempt>): Promise<Attempt> {
  let current = found;
  for (const node of found.kept.slice(0, -1)) {
    const without = await attempt(current.kept.filter((n) => n !== node));
    if (meets(without)) current = without;
  }
  return current;
}

function worstCosine(a: Attempt): number {
  return Math.min(...a.report.drift.outputs.map((o) => o.cosine ?? 1));
}

/**
 * The nodes keeping float could change: for INT8 those of a quantized op type that were quantized
 * (not blocked); for FP16 every node that was converted.
 */
function eligibleNodes(nodes: { name: string; opType: string }[], first: QuantizeReport, options: QuantizeOptions): Set<string> {
  const blocked = new Set(first.blockedNodes.map((b) => b.node));
  const ops = options.to === 'int8' ? new Set(options.opTypes ?? INT8_OP_TYPES) : undefined;
  return new Set(nodes.filter((n) => n.name && !blocked.has(n.name) && (!ops || ops.has(n.opType))).map((n) => n.name));
}

function fallbackNote(f: FallbackReport, key: 'blockNodes' | 'excludeNodes', first: Attempt, best: Attempt): string {
  const reuse = f.kept.length ? `; to quantize the same way without the search: ${f.kept.map((k) => opt(key, k.node)).join(' ')}` : '';
  const overflow = (a: Attempt) => (a.overflows.length ? `, and ${a.overflows.length} intermediate tensor(s) overflow float16 (${a.overflows.slice(0, 3).join(', ')}), which onnxruntime's CPU kernels hide but GPUs do not` : '');
  const before = `the plain ${first.report.to} model's worst output cosine was ${worstCosine(first).toPrecision(6)}${overflow(first)}`;
  if (f.kept.length === 0 && meets(first)) return `${opt('fallback')}: nothing to keep, the quantized model meets the gate (${before})`;
  const outcome = f.met ? 'met the gate' : `missed the gate with the best set found (the bound is ${f.max} nodes, ${opt('fallbackMax')}${overflow(best)})`;
  return `${opt('fallback')}: ${outcome} keeping ${f.kept.length} node(s) in float32 after ${f.attempts} attempts in ${f.seconds.toFixed(1)} s (${before})${reuse}`;
}
