import path from 'node:path';
import { InputError } from '../errors.js';
import { opt } from '../option-ref.js';
import { type Progress, silent } from '../progress.js';
import { round } from '../report/format.js';
import type { TensorInfo } from '../onnx/signature.js';
import { type ShapeSpec, emptyShapeSpec } from '../runtime/shapes.js';
import type { SessionOptions } from '../runtime/session.js';
import type { TensorMap } from '../tensor/tensor.js';
import { backendFor } from './backend.js';
import type { BenchTarget, OpenOptions } from './backend-types.js';
import { type Gate, compareToBaseline, regressions, resultKey } from './baseline.js';
import type { WindowPlan } from './harness.js';
import { type FedCase, type InputSource, feedsFor, runCases } from './inputs.js';
import { type BenchReport, type BenchResult, environment, environmentChanges, tool } from './result.js';
import { type Measured, type StabilityCriterion, measureWindows } from './stability.js';
import { type LatencyStats, summarize } from './stats.js';
import { formatShapes } from './sweep.js';

export interface BenchOptions {
  session?: SessionOptions;
  shapes?: ShapeSpec;
  /** values for the model's batch-like dim (a sweep) */
  batch?: number[];
  source?: InputSource;
  /** untimed calls before each case's first window */
  warmup?: number;
  window?: WindowPlan;
  stability?: StabilityCriterion;
  /** one per model; by default the file name (the path where two models share a name) */
  labels?: string[];
  gate?: Gate;
  /** fail the gate when a result never met the stability criterion (needs `stability`) */
  requireStable?: boolean;
  /** the trtexec that runs TensorRT engines */
  trtexec?: string;
  /** the ONNX model whose inputs the run feeds (default: the first ONNX model of the run); engines need one */
  ioFrom?: string;
}

export const DEFAULT_WARMUP = 10;
export const DEFAULT_WINDOW: WindowPlan = { iterations: 10, durationMs: 3000 };

/** A window from iterations and a duration: either alone sets it (at least 10 runs), neither gives 10 runs and 3 s. */
export function windowPlan(iterations?: number, durationS?: number): WindowPlan {
  if (iterations === undefined && durationS === undefined) return DEFAULT_WINDOW;
  return { iterations: iterations ?? DEFAULT_WINDOW.iterations, durationMs: (durationS ?? 0) * 1000 };
}

/**
 * Benchmarks every model on the same inputs, case by case of the sweep. Results come in the
 * order the models were given, the sweep's order within a model; the first model is the
 * baseline the others' speed-ups are relative to. Every model is checked against every case
 * before the first is timed, so a bad model fails in seconds rather than after a long run.
 */
export async function bench(models: string[], options: BenchOptions = {}, progress: Progress = silent): Promise<BenchReport> {
  if (models.length === 0) throw new InputError('no model to benchmark', { kind: 'usage' });
  if (options.requireStable && !options.stability) {
    throw new InputError(`${opt('requireStable')} needs a stability criterion`, { kind: 'usage', hint: `give one with ${opt('stability', '10%')}` });
  }
  const labels = labelModels(models, options.labels);
  const backends = await Promise.all(models.map(backendFor));
  const open: OpenOptions = { session: options.session, trtexec: options.trtexec };
  const signatures = await Promise.all(models.map((m, i) => backends[i].inputs(m, open)));
  const inputs = await runInputs(models, signatures, options.ioFrom, open);
  const { cases, notes: caseNotes } = await runCases(inputs, options.shapes ?? emptyShapeSpec(), options.batch, options.source ?? {});
  const feeds = models.map((model, i) => cases.map((c) => feedsFor(signatures[i] ?? inputs, c.feeds, model)));
  const notes = [...caseNotes];
  if (options.gate) notes.push(...unmatchedInBaseline(options.gate, labels.flatMap((label) => cases.map((c) => ({ label, shapes: c.shapes })))));

  const results: BenchResult[] = [];
  for (const [i, model] of models.entries()) {
    const target = await backends[i].open(model, open, progress);
    try {
      for (const [j, c] of cases.entries()) {
        const what = `${labels[i]} ${formatShapes(c.shapes)}`;
        const measured = await measureCase(target, feeds[i][j], what, options, progress);
        if (!measured.stable) {
          notes.push(`${what}: no 3 consecutive windows agreed within ${options.stability?.percent}% in ${measured.measured} windows; reporting the last 3`);
        }
        results.push(result(model, labels[i], backends[i].name, target.provider, c, measured, options.stability !== undefined));
      }
    } finally {
      await target.close();
    }
    notes.push(...target.notes.map((n) => `${labels[i]}: ${n}`));
  }
  // results[k % cases.length] is the first model's result for the same case.
  for (const [k, r] of results.entries()) r.speedup = round(results[k % cases.length].latencyMs.p50 / r.latencyMs.p50, 4);
  return benchReport(results, options, notes);
}

/**
 * The report around measured results, with the verdict of `bench` and `bench --server` alike: no
 * regression beyond the baseline and, when required, every result stable; null when nothing was gated.
 */
export function benchReport(results: BenchResult[], options: { gate?: Gate; requireStable?: boolean }, notes: string[]): BenchReport {
  const regressed = regressions(options.gate ? compareToBaseline(results, options.gate) : []);
  const here = environment();
  const baselineEnvironment = options.gate ? environmentChanges(options.gate.baseline.environment, here) : [];
  if (baselineEnvironment.length) notes.push(`the baseline was measured in another environment, so the comparison measures it too: ${baselineEnvironment.join('; ')}`);
  const gated = options.gate !== undefined || options.requireStable === true;
  const passed = gated ? regressed.length === 0 && (!options.requireStable || results.every((r) => r.stable)) : null;
  return { tool, environment: here, results, regressions: regressed, passed, baselineEnvironment, notes };
}

async function measureCase(target: BenchTarget, feeds: TensorMap, what: string, options: BenchOptions, progress: Progress): Promise<Measured> {
  const runner = await target.load(feeds);
  progress({ kind: 'phase', phase: `warming up ${what}` });
  await runner.warmUp(options.warmup ?? DEFAULT_WARMUP);
  return measureWindows((index) => {
    const phase = `timing ${what}${options.stability ? ` (window ${index + 1})` : ''}`;
    progress({ kind: 'phase', phase, fraction: 0 });
    return runner.window(options.window ?? DEFAULT_WINDOW, (fraction) => progress({ kind: 'phase', phase, fraction }));
  }, options.stability);
}

function result(model: string, label: string, backend: string, provider: string, c: FedCase, measured: Measured, criterion: boolean): BenchResult {
  const samples = measured.windows.flatMap((w) => w.samplesMs);
  const seconds = measured.windows.reduce((sum, w) => sum + w.seconds, 0);
  const inferencesPerSec = samples.length / seconds;
  const stats = summarize(samples);
  return {
    model, label, backend, provider, batch: c.batch, shapes: c.shapes, iterations: samples.length,
    // The clock counts nanoseconds: digits beyond 1e-6 ms are interpolation noise.
    latencyMs: roundStats(stats),
    throughput: { inferencesPerSec: round(inferencesPerSec, 3), samplesPerSec: round(inferencesPerSec * c.batch, 3) },
    speedup: 1,
    stable: criterion ? measured.stable : null,
  };
}

function roundStats(stats: LatencyStats): LatencyStats {
  const { mean, std, min, p50, p90, p95, p99, max } = stats;
  return { mean: round(mean, 6), std: round(std, 6), min: round(min, 6), p50: round(p50, 6), p90: round(p90, 6), p95: round(p95, 6), p99: round(p99, 6), max: round(max, 6) };
}

/** The inputs the run feeds: `ioFrom`'s, else the first model's that describes its own (an engine does not). */
async function runInputs(models: string[], signatures: (TensorInfo[] | null)[], ioFrom: string | undefined, open: OpenOptions): Promise<TensorInfo[]> {
  const found = ioFrom ? await (await backendFor(ioFrom)).inputs(ioFrom, open) : signatures.find((s) => s !== null);
  if (found) return found;
  throw new InputError(`${ioFrom ?? models[0]} does not say what its inputs are`, {
    kind: 'usage',
    hint: `a TensorRT engine is fed the inputs of an ONNX model: put the model it was built from in the run, or give it with ${opt('ioFrom', 'model.onnx')}`,
  });
}

/** File names, or the paths as given where two models share a file name; `#n` for a model given twice. */
export function labelModels(models: string[], given?: string[]): string[] {
  if (given) {
    if (given.length !== models.length) {
      throw new InputError(`${opt('labels')}: ${given.length} label(s) for ${models.length} model(s)`, { kind: 'usage', hint: 'give one label per model, in the same order' });
    }
    const twice = given.find((l, i) => given.indexOf(l) !== i);
    if (twice) throw new InputError(`${opt('labels')}: '${twice}' is given twice`, { kind: 'usage' });
    return given;
  }
  const names = models.map((m) => path.basename(m));
  const unique = models.map((m, i) => (names.filter((n) => n === names[i]).length > 1 ? m : names[i]));
  return unique.map((l, i) => {
    const earlier = unique.slice(0, i).filter((u) => u === l).length;
    return earlier ? `${l}#${earlier + 1}` : l;
  });
}

/**
 * A gate that compares nothing would pass silently: a baseline that matches no result is refused;
 * the results it lacks are named.
 */
export function unmatchedInBaseline(gate: Gate, planned: Parameters<typeof resultKey>[0][]): string[] {
  const known = new Set(gate.baseline.results.map(resultKey));
  const missing = planned.filter((p) => !known.has(resultKey(p)));
  if (missing.length === planned.length) {
    const have = [...new Set(gate.baseline.results.map(describeResult))];
    throw new InputError('the baseline has no result with the label and shapes of any result of this run', {
      kind: 'baseline',
      hint: `it has ${have.slice(0, 4).join(', ') || 'no results'}${have.length > 4 ? ', …' : ''}; labels are file names unless set with ${opt('labels')}`,
    });
  }
  return missing.map((m) => `no baseline result for ${describeResult(m)}; not gated`);
}

/** A result as people name it: `encoder.onnx (input_ids:1x16)`, with its load level when served. */
export function describeResult(r: Parameters<typeof resultKey>[0]): string {
  const level = r.concurrency !== undefined ? `, concurrency ${r.concurrency}` : r.requestRate !== undefined ? `, ${r.requestRate} requests/s` : '';
  return `${r.label} (${formatShapes(r.shapes)}${level})`;
}
