/**
 * The steps of `tdeploy run`, one row each: what it needs from earlier steps, how it runs (the
 * library call its command makes), and what it adds to the state later steps and the summary
 * read. A failed gate is a step whose status is 'failed'; bad input and tool failures throw.
 */
import path from 'node:path';
import { type CheckReport, check, compareModels, modelRef } from '../accuracy/check.js';
import type { GateOptions } from '../accuracy/compare.js';
import { DEFAULT_GATES, toAtol } from '../accuracy/gates.js';
import { bench, windowPlan } from '../bench/bench.js';
import type { BenchReport } from '../bench/result.js';
import { InputError, ToolError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModel } from '../onnx/model.js';
import { signature } from '../onnx/signature.js';
import { respellAll } from '../option-ref.js';
import type { Progress } from '../progress.js';
import { quantize } from '../quantize/quantize.js';
import type { QuantizeReport } from '../quantize/result.js';
import { toJson } from '../report/json.js';
import { readTensorFile } from '../tensor/files.js';
import { type ConvertReport, convert } from '../torch/convert.js';
import { CONVERT_GATE } from '../torch/gate.js';
import { parseInputSpec } from '../torch/inputs.js';
import { type PackageResult, packageModel } from '../triton/package.js';
import { type VerifyReport, verifyRepository } from '../triton/verify.js';
import { type EngineReport, buildEngine } from '../trt/engine.js';
import { findTrtexec } from '../trt/locate.js';
import { Bench, Engine, Gate, type GateConfig, Model, Package, type RunConfig, Variant } from './config.js';
import { type Section, configSpeller, respellError } from './spelling.js';

export type StepName = 'convert' | 'quantize' | 'check' | 'engine' | 'bench' | 'package';

/** What the steps share: the config, and what earlier steps made. */
export interface PipelineState {
  config: RunConfig;
  /** the artifacts' base name */
  name: string;
  /** artifact ('fp32', a quantize variant's name) → its ONNX file, in the order they were made */
  models: Map<string, string>;
  /** artifact → its comparison with the reference outputs */
  accuracy: Map<string, CheckReport>;
  reference?: string;
  engine?: string;
  timings?: BenchReport;
  bench?: string;
  repository?: string;
}

export interface StepOutcome<R> {
  status: 'passed' | 'failed' | 'skipped';
  /** why the step was skipped or failed */
  reason?: string;
  result: R;
  /** what its library calls noted */
  notes: string[];
}

export interface Step<R = unknown> {
  name: StepName;
  /** the steps whose results this one reads; they run before it */
  needs: StepName[];
  /** the config sections the step's options come from, for naming them in errors and notes */
  sections: Section[];
  run(state: PipelineState, progress: Progress): Promise<StepOutcome<R>>;
  /** what the step adds to the state */
  summarise(state: PipelineState, result: R): Partial<PipelineState>;
}

const skipped = <R>(result: R, reason: string): StepOutcome<R> => ({ status: 'skipped', reason, result, notes: [] });
const keys = (schema: { shape: object }) => Object.keys(schema.shape);
const gateSection = (where: string): Section => ({ path: where, keys: [...keys(Gate), 'tolerance'] });

/** Which outputs failed and why, for a step's reason. */
function failedOutputs(what: string, r: CheckReport): string {
  const failing = r.outputs.filter((o) => o.passed === false).map((o) => `${o.name} (${o.failures.join(', ')})`);
  return `${what}: ${failing.join('; ')}`;
}

/** The gate over a precision's default from a config's `gate`; none for `gate: false`. */
function gateFrom(base: GateOptions, config: GateConfig | false | undefined): GateOptions | null {
  if (config === false) return null;
  if (!config) return base;
  const { tolerance, atol, ...rest } = config;
  const perOutput = tolerance && Object.fromEntries(Object.entries(tolerance).map(([name, t]) => [name, { ...t, atol: toAtol(t.atol) }]));
  return {
    ...base,
    ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)),
    ...(atol === undefined ? {} : { atol: toAtol(atol) }),
    ...(perOutput ? { perOutput } : {}),
  };
}

export const convertStep: Step<ConvertReport | null> = {
  name: 'convert',
  needs: [],
  sections: [{ path: 'model', keys: keys(Model) }, gateSection('convert.gate')],
  async run({ config, name }, progress) {
    if (config.model.source.toLowerCase().endsWith('.onnx')) return skipped(null, 'the source is already ONNX');
    const converted = await convert(config.model.source, {
      output: path.join(config.output, `${name}.onnx`),
      inputs: config.model.inputs?.map(parseInputSpec),
      outputNames: config.model.outputNames,
      exampleDims: config.model.exampleDims,
      exampleInputs: config.model.exampleInputs,
      opset: config.model.opset,
      python: config.model.python,
      pythonPath: config.model.pythonPath,
      check: gateFrom(CONVERT_GATE, config.convert?.gate) ?? CONVERT_GATE,
    }, progress);
    const notes = [...converted.notes, ...(converted.check?.notes ?? [])];
    if (converted.check?.passed === false) {
      return { status: 'failed', reason: failedOutputs('the ONNX export differs from torch', converted.check), result: converted, notes };
    }
    return { status: 'passed', result: converted, notes };
  },
  summarise({ config, accuracy }, converted) {
    if (!converted) return { models: new Map([['fp32', config.model.source]]), reference: config.model.reference };
    return {
      models: new Map([['fp32', converted.output]]),
      reference: converted.reference,
      accuracy: converted.check ? new Map([...accuracy, ['fp32', converted.check]]) : accuracy,
    };
  },
};

/** Each variant's options are named by their place in the config: `quantize[1].maxDriftCosine`. */
const variantSpeller = (index: number) => configSpeller([{ path: `quantize[${index}]`, keys: keys(Variant) }, { path: '', keys: ['calibration'] }]);

export const quantizeStep: Step<QuantizeReport[]> = {
  name: 'quantize',
  needs: ['convert'],
  sections: [],
  async run({ config, name, models }, progress) {
    if (config.quantize.length === 0) return skipped([], 'no quantize variants in the config');
    const results: QuantizeReport[] = [];
    const notes: string[] = [];
    for (const [index, variant] of config.quantize.entries()) {
      const { name: variantName, gate, ...options } = variant;
      const spell = variantSpeller(index);
      let quantized: QuantizeReport;
      try {
        quantized = respellAll(await quantize(models.get('fp32')!, {
          ...options,
          output: path.join(config.output, `${name}.${variantName}.onnx`),
          calibration: config.calibration,
          gate: gate === false ? false : undefined,
        }, progress), spell);
      } catch (error) {
        throw respellError(error, spell, `${variantName}: `);
      }
      results.push(quantized);
      notes.push(...[...quantized.notes, ...quantized.drift.notes].map((n) => `${variantName}: ${n}`));
      if (quantized.drift.passed === false) {
        const gateName = variant.maxDriftCosine === undefined ? `the ${variant.to} drift gate` : spell('maxDriftCosine', String(variant.maxDriftCosine));
        return { status: 'failed', reason: failedOutputs(`${variantName} drifts from float32 beyond ${gateName}`, quantized.drift), result: results, notes };
      }
    }
    return { status: 'passed', result: results, notes };
  },
  summarise({ config, models }, results) {
    return { models: new Map([...models, ...results.map((r, i): [string, string] => [config.quantize[i].name, r.output])]) };
  },
};

export const checkStep: Step<Record<string, CheckReport> | null> = {
  name: 'check',
  needs: ['convert', 'quantize'],
  sections: [],
  async run({ config, models, accuracy, reference }, progress) {
    if (!reference) return skipped(null, 'no reference data (give model.reference for an ONNX source)');
    const results: Record<string, CheckReport> = {};
    for (const [artifact, file] of models) {
      const variant = config.quantize.find((v) => v.name === artifact);
      const gate = variant ? gateFrom(DEFAULT_GATES[variant.to], variant.gate) : gateFrom(CONVERT_GATE, config.convert?.gate);
      results[artifact] = accuracy.get(artifact) ?? await checkAgainstReference(models.get('fp32')!, file, reference, gate, progress);
    }
    const notes = Object.entries(results).filter(([a]) => !accuracy.has(a)).flatMap(([a, r]) => r.notes.map((n) => `${a}: ${n}`));
    const failed = Object.entries(results).filter(([, r]) => r.passed === false);
    if (failed.length) return { status: 'failed', reason: failed.map(([a, r]) => failedOutputs(`${a} against the reference`, r)).join('; '), result: results, notes };
    return { status: 'passed', result: results, notes };
  },
  summarise: (_, results) => (results ? { accuracy: new Map(Object.entries(results)) } : {}),
};

/**
 * The accuracy of one artifact against the reference outputs. A model whose outputs are not the
 * reference's dtype (float16 I/O) is compared through the float32 model on the reference inputs.
 */
async function checkAgainstReference(fp32: string, model: string, reference: string, gate: GateOptions | null, progress: Progress): Promise<CheckReport> {
  const { outputs } = signature((await loadModel(model, { deferAbove: 0 })).proto);
  const expected = await readTensorFile(reference);
  const sameTypes = outputs.every((o) => expected.get(o.name)?.dtype === o.dtype);
  if (sameTypes) return check(model, { reference, gate }, progress);
  const original = await modelRef(fp32);
  const feeds = new Map(original.signature.inputs.map((i) => {
    const tensor = expected.get(i.name);
    if (!tensor) throw new InputError(`the reference ${reference} has no input '${i.name}'`);
    return [i.name, tensor];
  }));
  return compareModels(original, await modelRef(model), [feeds], gate, undefined, progress);
}

export const engineStep: Step<EngineReport | null> = {
  name: 'engine',
  needs: ['convert', 'quantize'],
  sections: [{ path: 'engine', keys: keys(Engine) }],
  async run({ config, name, models }, progress) {
    if (config.engine === false) return skipped(null, 'engine: false in the config');
    try {
      findTrtexec({ trtexec: config.engine.trtexec });
    } catch (error) {
      if (error instanceof ToolError) {
        return skipped(null, 'no trtexec found: TensorRT engines need a machine with TensorRT (set engine.trtexec or TDEPLOY_TRTEXEC)');
      }
      throw error;
    }
    const built = await buildEngine(models.get(config.engine.model ?? 'fp32')!, {
      output: path.join(config.output, `${name}.plan`),
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
    return { status: 'passed', result: built, notes: built.notes };
  },
  summarise: (_, built) => (built?.engine ? { engine: built.engine } : {}),
};

export const benchStep: Step<BenchReport | null> = {
  name: 'bench',
  needs: ['convert', 'quantize', 'engine'],
  sections: [{ path: 'bench', keys: keys(Bench) }],
  async run({ config, models, engine }, progress) {
    if (config.bench === false) return skipped(null, 'bench: false in the config');
    const names = config.bench.models ?? [...models.keys()];
    const files = names.map((n) => models.get(n)!);
    if (engine && !config.bench.models) {
      names.push('engine');
      files.push(engine);
    }
    const timings = await bench(files, {
      labels: names,
      batch: config.bench.batch ?? [1],
      shapes: { shapes: {}, dims: config.bench.dims ?? {} },
      warmup: config.bench.warmup,
      window: windowPlan(config.bench.iterations ?? (config.bench.durationSeconds ? undefined : 50), config.bench.durationSeconds),
      session: { provider: config.bench.provider, threads: config.bench.threads },
      trtexec: config.engine ? config.engine.trtexec : undefined,
    }, progress);
    // Kept as a file so CI can gate later runs on it, as the baseline of tdeploy bench.
    await writeFileAtomic(path.join(config.output, 'bench.json'), toJson(timings));
    return { status: 'passed', result: timings, notes: timings.notes };
  },
  summarise: ({ config }, timings) => (timings ? { timings, bench: path.join(config.output, 'bench.json') } : {}),
};

export const packageStep: Step<(PackageResult & { verify: VerifyReport }) | null> = {
  name: 'package',
  needs: ['convert', 'quantize'],
  sections: [{ path: 'package', keys: keys(Package) }],
  async run({ config, name, models }, progress) {
    if (config.package === false) return skipped(null, 'package: false in the config');
    const { model: artifact = 'fp32', dims, ...serving } = config.package;
    const repository = path.join(config.output, 'models');
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
    const result = { ...packaged, verify: verified };
    if (!verified.passed) {
      const problems = verified.models.flatMap((m) => m.problems.map((p) => `${m.name}: ${p.message}`));
      return { status: 'failed', reason: `the repository fails verification: ${problems.join('; ')}`, result, notes: packaged.notes };
    }
    return { status: 'passed', result, notes: packaged.notes };
  },
  summarise: (_, packaged) => (packaged ? { repository: packaged.repository } : {}),
};

/** The pipeline, in order. */
export const STEPS: Step[] = [convertStep, quantizeStep, checkStep, engineStep, benchStep, packageStep] as Step[];
