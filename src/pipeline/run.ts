import fs from 'node:fs';
import path from 'node:path';
import { type CheckReport, check, compareModels } from '../accuracy/check.js';
import type { GateOptions } from '../accuracy/compare.js';
import { bench, windowPlan } from '../bench/bench.js';
import type { BenchReport } from '../bench/report.js';
import { InputError, TdeployError, ToolError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { toJson } from '../report/json.js';
import { loadModel } from '../onnx/model.js';
import { signature } from '../onnx/signature.js';
import { type Progress, silent } from '../progress.js';
import { quantize } from '../quantize/quantize.js';
import type { QuantizeReport } from '../quantize/report.js';
import { readTensorFile } from '../tensor/files.js';
import { convert } from '../torch/convert.js';
import { parseInputSpec } from '../torch/inputs.js';
import { packageModel } from '../triton/package.js';
import { verifyRepository } from '../triton/verify.js';
import { buildEngine } from '../trt/engine.js';
import { findTrtexec } from '../trt/locate.js';
import type { GateConfig, RunConfig, Variant } from './config.js';

/**
 * `tdeploy run`: convert → quantize → check → engine → bench → package, each step the library
 * call its command makes. A failed gate stops the pipeline; the report says which step failed.
 */
export type StepName = 'convert' | 'quantize' | 'check' | 'engine' | 'bench' | 'package';

export interface StepRecord {
  name: StepName;
  status: 'passed' | 'failed' | 'skipped';
  seconds: number;
  /** why a step was skipped or failed */
  reason?: string;
  result: unknown;
}

export interface Artifact {
  /** 'fp32', a quantize variant's name, or 'engine' */
  name: string;
  path: string;
  sizeBytes: number;
  /** against the reference outputs (worst output): null when there is no reference to compare with */
  accuracy: { passed: boolean; minCosine: number | null; maxAbsError: number } | null;
  p50Ms: number | null;
  speedup: number | null;
}

export interface RunReport {
  passed: boolean;
  /** the step whose gate failed */
  failedStep?: StepName;
  steps: StepRecord[];
  artifacts: Artifact[];
  outputs: { folder: string; reference?: string; engine?: string; bench?: string; repository?: string };
  notes: string[];
}

/** Each precision's default gate against the reference outputs; a variant's `gate` overrides it. */
const DEFAULT_GATES: Record<'fp32' | Variant['to'], GateOptions> = {
  fp32: { atol: 1e-4, rtol: 1e-3 },
  fp16: { atol: 2e-2, rtol: 2e-2, minCosine: 0.999 },
  int8: { atol: 1, rtol: 0.2, minCosine: 0.99 },
};

function gateFrom(base: GateOptions, config: GateConfig | undefined): GateOptions {
  if (!config) return base;
  const { tolerance, ...rest } = config;
  return { ...base, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)), ...(tolerance ? { perOutput: tolerance } : {}) };
}

class GateStop extends Error {
  constructor(readonly step: StepName, readonly reason: string) {
    super(reason);
  }
}

export async function runPipeline(config: RunConfig, progress: Progress = silent): Promise<RunReport> {
  const out = config.output;
  const name = config.model.name ?? path.basename(config.model.source).replace(/\.(onnx|pt2?|pth)$/, '').replace(/[^\w.-].*$/, '');
  const report: RunReport = { passed: true, steps: [], artifacts: [], outputs: { folder: out }, notes: [] };
  const models = new Map<string, string>();
  const accuracy = new Map<string, CheckReport>();
  let reference = config.model.reference;
  let engine: string | undefined;
  let timings: BenchReport | undefined;

  /** Runs one step, timing it and naming it in any error it throws. */
  const step = async (stepName: StepName, body: () => Promise<{ result: unknown; status?: StepRecord['status']; reason?: string }>) => {
    progress({ kind: 'phase', phase: stepName });
    const started = performance.now();
    const record: StepRecord = { name: stepName, status: 'passed', seconds: 0, result: null };
    report.steps.push(record);
    try {
      Object.assign(record, await body());
    } catch (error) {
      if (error instanceof GateStop) {
        Object.assign(record, { status: 'failed', reason: error.reason });
        throw error;
      }
      if (error instanceof TdeployError) error.message = `${stepName}: ${error.message}`;
      throw error;
    } finally {
      record.seconds = round((performance.now() - started) / 1000);
    }
  };

  try {
    await step('convert', async () => {
      if (config.model.source.toLowerCase().endsWith('.onnx')) {
        models.set('fp32', config.model.source);
        return { result: null, status: 'skipped', reason: 'the source is already ONNX' };
      }
      const gate = gateFrom(DEFAULT_GATES.fp32, config.convert?.gate);
      const converted = await convert(config.model.source, {
        output: path.join(out, `${name}.onnx`),
        inputs: config.model.inputs?.map(parseInputSpec),
        outputNames: config.model.outputNames,
        exampleDims: config.model.exampleDims,
        exampleInputs: config.model.exampleInputs,
        opset: config.model.opset,
        python: config.model.python,
        pythonPath: config.model.pythonPath,
        check: gate,
      }, progress);
      models.set('fp32', converted.output);
      reference = converted.reference;
      if (converted.check) accuracy.set('fp32', converted.check);
      if (converted.check && !converted.check.passed) throw new GateStop('convert', failedOutputs('the ONNX export differs from torch', converted.check));
      return { result: converted };
    });

    await step('quantize', async () => {
      if (config.quantize.length === 0) return { result: [], status: 'skipped', reason: 'no quantize variants in the config' };
      const results: QuantizeReport[] = [];
      for (const variant of config.quantize) {
        const { name: variantName, gate: _gate, ...options } = variant;
        const quantized = await quantize(models.get('fp32')!, {
          ...options,
          output: path.join(out, `${name}.${variantName}.onnx`),
          calibration: config.calibration,
        }, progress);
        results.push(quantized);
        models.set(variantName, quantized.output);
        if (!quantized.drift.passed) throw new GateStop('quantize', failedOutputs(`${variantName} drifts from float32 beyond --max-drift-cosine`, quantized.drift));
      }
      return { result: results };
    });

    await step('check', async () => {
      if (!reference) return { result: null, status: 'skipped', reason: 'no reference data (give model.reference for an ONNX source)' };
      const results: Record<string, CheckReport> = {};
      for (const [artifact, file] of models) {
        const variant = config.quantize.find((v) => v.name === artifact);
        const gate = gateFrom(DEFAULT_GATES[variant?.to ?? 'fp32'], variant ? variant.gate : config.convert?.gate);
        results[artifact] = accuracy.get(artifact) ?? await checkAgainstReference(models.get('fp32')!, file, reference, gate, progress);
        accuracy.set(artifact, results[artifact]);
      }
      const failed = Object.entries(results).filter(([, r]) => !r.passed);
      if (failed.length) throw new GateStop('check', failed.map(([a, r]) => failedOutputs(`${a} against the reference`, r)).join('; '));
      return { result: results };
    });

    await step('engine', async () => {
      if (config.engine === false) return { result: null, status: 'skipped', reason: 'engine: false in the config' };
      try {
        findTrtexec({ trtexec: config.engine.trtexec });
      } catch (error) {
        if (error instanceof ToolError) {
          return { result: null, status: 'skipped', reason: 'no trtexec found: TensorRT engines need a machine with TensorRT (set engine.trtexec or TDEPLOY_TRTEXEC)' };
        }
        throw error;
      }
      const source = models.get(config.engine.model ?? 'fp32')!;
      const built = await buildEngine(source, {
        output: path.join(out, `${name}.plan`),
        trtexec: config.engine.trtexec,
        precision: config.engine.precision ?? ['fp16'],
        workspaceMiB: config.engine.workspaceMiB,
        builderLevel: config.engine.builderLevel,
        shapes: { shapes: {}, dims: config.engine.dims ?? {} },
        timeoutMs: config.engine.timeoutSeconds ? config.engine.timeoutSeconds * 1000 : undefined,
      }, progress);
      if (built.outcome !== 'passed' || !built.engine) {
        throw new ToolError(`trtexec ${built.outcome}: ${built.failure?.message.split('\n')[0] ?? 'no engine written'}`, { hint: `see ${built.log}`, kind: built.failure?.kind });
      }
      engine = built.engine;
      report.outputs.engine = engine;
      return { result: built };
    });

    await step('bench', async () => {
      if (config.bench === false) return { result: null, status: 'skipped', reason: 'bench: false in the config' };
      const names = config.bench.models ?? [...models.keys()];
      const files = names.map((n) => models.get(n)!);
      if (engine && !config.bench.models) {
        names.push('engine');
        files.push(engine);
      }
      timings = await bench(files, {
        labels: names,
        batch: config.bench.batch ?? [1],
        shapes: { shapes: {}, dims: config.bench.dims ?? {} },
        warmup: config.bench.warmup,
        window: windowPlan(config.bench.iterations ?? (config.bench.durationSeconds ? undefined : 50), config.bench.durationSeconds),
        session: { provider: config.bench.provider, threads: config.bench.threads },
        trtexec: config.engine ? config.engine.trtexec : undefined,
      }, progress);
      // Kept as a file so CI can gate later runs on it: tdeploy bench ... --baseline bench.json
      report.outputs.bench = path.join(out, 'bench.json');
      await writeFileAtomic(report.outputs.bench, toJson(timings));
      return { result: timings };
    });

    await step('package', async () => {
      if (config.package === false) return { result: null, status: 'skipped', reason: 'package: false in the config' };
      const { model: artifact = 'fp32', dims, ...serving } = config.package;
      const repository = path.join(out, 'models');
      // The pipeline owns its output folder: a second run replaces the version it wrote before.
      const packaged = await packageModel(models.get(artifact)!, {
        ...serving,
        output: repository,
        name: serving.name ?? name,
        modelVersion: 1,
        force: true,
        shapes: { shapes: {}, dims: Object.fromEntries(Object.entries(dims ?? {}).map(([k, v]) => [k, [v]])) },
      }, progress);
      const verified = await verifyRepository(repository, progress, { triton: serving.triton });
      report.outputs.repository = repository;
      if (!verified.ok) throw new GateStop('package', `the repository fails verification: ${verified.models.flatMap((m) => m.problems.map((p) => `${m.name}: ${p.message}`)).join('; ')}`);
      return { result: { ...packaged, verify: verified } };
    });
  } catch (error) {
    if (!(error instanceof GateStop)) throw error;
    report.passed = false;
    report.failedStep = error.step;
  }
  report.artifacts = await artifacts(models, engine, accuracy, timings);
  report.outputs.reference = reference;
  return report;
}

/**
 * The accuracy of one artifact against the reference outputs. A model whose outputs are not the
 * reference's dtype (float16 I/O) is compared through the float32 model on the reference inputs.
 */
async function checkAgainstReference(fp32: string, model: string, reference: string, gate: GateOptions, progress: Progress): Promise<CheckReport> {
  const { outputs } = signature((await loadModel(model, { deferAbove: 0 })).proto);
  const expected = await readTensorFile(reference);
  const sameTypes = outputs.every((o) => expected.get(o.name)?.dtype === o.dtype);
  if (sameTypes) return check(model, { reference, gate }, progress);
  const { inputs } = signature((await loadModel(fp32, { deferAbove: 0 })).proto);
  const feeds = new Map(inputs.map((i) => {
    const tensor = expected.get(i.name);
    if (!tensor) throw new InputError(`the reference ${reference} has no input '${i.name}'`);
    return [i.name, tensor];
  }));
  return compareModels(fp32, model, [feeds], gate, undefined, progress);
}

function failedOutputs(what: string, r: CheckReport): string {
  const failing = r.outputs.filter((o) => !o.passed).map((o) => `${o.name} (${o.failures.join(', ')})`);
  return `${what}: ${failing.join('; ')}`;
}

function artifacts(models: Map<string, string>, engine: string | undefined, accuracy: Map<string, CheckReport>, timings: BenchReport | undefined): Promise<Artifact[]> {
  const files = [...models, ...(engine ? [['engine', engine] as [string, string]] : [])];
  return Promise.all(files.map(async ([name, file]) => {
    const r = accuracy.get(name);
    // The first case of the sweep is the summary's figure; the bench report has every case.
    const timed = timings?.results.find((t) => t.label === name);
    return {
      name,
      path: file,
      sizeBytes: name === 'engine' ? (await fs.promises.stat(file)).size : (await loadModel(file, { deferAbove: 0 })).sizeBytes,
      accuracy: r ? {
        passed: r.passed,
        minCosine: r.outputs.some((o) => o.cosine !== null) ? Math.min(...r.outputs.flatMap((o) => (o.cosine === null ? [] : [o.cosine]))) : null,
        maxAbsError: Math.max(...r.outputs.map((o) => o.maxAbsError)),
      } : null,
      p50Ms: timed?.latencyMs.p50 ?? null,
      speedup: timed?.speedup ?? null,
    };
  }));
}

const round = (x: number) => Math.round(x * 1000) / 1000;
