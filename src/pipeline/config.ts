/**
 * `tdeploy.config.json`: the whole pipeline in one file. Every object is strict, so a misspelt
 * key is an error naming its path rather than a silently ignored setting. Paths are relative to
 * the config file. `tdeploy schema` prints this as JSON Schema for editors.
 */
import path from 'node:path';
import { z } from 'zod';
import { AtolSchema } from '../accuracy/gates.js';
import { MAX_ITERATIONS } from '../bench/harness.js';
import { InputError } from '../errors.js';
import { readJson, requireFile } from '../io/read.js';
import { QuantizeOptions } from '../quantize/options.js';
import { PROVIDERS } from '../runtime/session.js';
import { isFactory } from '../torch/source.js';
import { ServingOptions, isSafeName } from '../triton/options.js';
import { plainIssue } from '../validation.js';

const name = z.string().refine(isSafeName, 'use letters, digits, _ . - only');
const positive = z.number().int().positive();
const nonNegative = z.number().min(0);

export const Gate = z.strictObject({
  atol: AtolSchema.optional().describe("absolute tolerance: a number, or a share of each output's range such as \"1%\""),
  rtol: nonNegative.optional().describe('relative tolerance, times |expected|'),
  minCosine: z.number().min(-1).max(1).optional().describe('fail an output whose cosine similarity is below this'),
  minTop1: z.number().min(0).max(1).optional().describe('fail a classifier output whose top-1 agreement is below this'),
  tolerance: z.record(z.string(), z.strictObject({
    atol: AtolSchema.describe("this output's absolute tolerance, or a share of its range such as \"1%\""),
    rtol: nonNegative.optional().describe("this output's relative tolerance"),
  })).optional().describe('per-output tolerances, by output name'),
}).describe('an accuracy gate over the precision\'s default: an element passes when |actual - expected| <= atol + rtol * |expected|');

export const Model = z.strictObject({
  source: z.string().min(1).describe('TorchScript .pt/.pth, torch.export .pt2, package.module:factory, or an ONNX model'),
  name: name.optional().describe('name of the artifacts and of the Triton model (default: the source file name)'),
  inputs: z.array(z.string()).optional().describe("forward's inputs for convert, as name:dtype:dims, e.g. input_ids:int64:batch,seq"),
  outputNames: z.array(z.string()).optional().describe('names of the outputs, in the order forward returns them'),
  exampleDims: z.record(z.string(), positive).optional().describe('sizes of symbolic dims in the example inputs'),
  exampleInputs: z.string().optional().describe('.npz of example inputs for convert'),
  opset: positive.optional().describe('ONNX opset to export (default: the highest your torch exports)'),
  python: z.string().optional().describe('Python interpreter with torch'),
  pythonPath: z.array(z.string()).optional().describe('folders to import a package.module:factory source from'),
  reference: z.string().optional().describe('reference data (.npz of inputs and expected outputs) for an ONNX source'),
});

/** The model keys only convert reads: with an ONNX source they would be silently ignored. */
const TORCH_ONLY = ['inputs', 'outputNames', 'exampleDims', 'exampleInputs', 'opset', 'python', 'pythonPath'] as const;

/** A quantize variant: quantize's own options, less what the pipeline sets itself (files, data, session). */
export const Variant = QuantizeOptions.omit({
  output: true, calibration: true, calibrationBatch: true, inputs: true, shapes: true, seed: true, intRange: true, session: true, gate: true,
}).extend({
  name: name.describe('artifact name: <model>.<name>.onnx'),
  gate: z.union([z.literal(false), Gate]).optional()
    .describe('the gate against the reference (over the precision\'s default), or false to report this variant\'s drift and accuracy without judging them'),
}).strict();

/** Which artifact a later step uses: the float32 model or a quantize variant by name. */
const artifact = z.string().min(1).describe("'fp32' or the name of a quantize variant");

export const Engine = z.strictObject({
  model: artifact.optional().describe("the ONNX model to build from (default 'fp32')"),
  precision: z.array(z.enum(['fp16', 'bf16', 'int8', 'fp8', 'best'])).optional().describe('precisions TensorRT may use besides fp32'),
  dims: z.record(z.string(), z.array(positive).length(3)).optional().describe('min, opt, max of each dynamic dim'),
  workspaceMiB: positive.optional().describe('builder workspace limit in MiB'),
  builderLevel: z.number().int().min(0).max(5).optional().describe('builder optimization level 0-5 (TensorRT 8.6+; default 3)'),
  trtexec: z.string().optional().describe('trtexec to run (default: $TDEPLOY_TRTEXEC, then PATH, then /usr/src/tensorrt/bin/trtexec)'),
  timeoutSeconds: positive.optional().describe('stop trtexec after this long'),
});

export const Bench = z.strictObject({
  models: z.array(artifact).optional().describe('artifacts to time, the first is the baseline (default: all)'),
  batch: z.array(positive).optional().describe('values of the batch-like dim (a sweep)'),
  dims: z.record(z.string(), z.array(positive).min(1)).optional().describe('values of symbolic dims (a list sweeps)'),
  iterations: positive.max(MAX_ITERATIONS).optional().describe('timed runs per window, at least (default 10)'),
  durationSeconds: z.number().positive().optional().describe('seconds per window, at least (default 3 unless iterations is given)'),
  warmup: z.number().int().min(0).optional().describe('untimed runs before each case (default 10)'),
  threads: positive.optional().describe('intra-op threads (default: onnxruntime decides)'),
  provider: z.union([z.enum(PROVIDERS), z.array(z.enum(PROVIDERS)).min(1)], { error: `expected one of ${PROVIDERS.join(', ')}, or a list of them tried in order` }).optional()
    .describe("execution provider, or several tried in order (['cuda', 'cpu']); one that cannot be had fails the step unless the list goes on"),
});

export const Package = ServingOptions.omit({ shapes: true }).extend({
  model: artifact.optional().describe("the artifact to serve (default 'fp32')"),
  name: name.optional().describe("the model's name in the repository (default: model.name)"),
  tokenizer: z.string().optional().describe('Hugging Face tokenizer folder: adds a tokenizer step and an ensemble'),
  maxLength: positive.optional().describe('tokens the tokenizer step keeps when the model takes any length'),
  dims: z.record(z.string(), positive).optional().describe('symbolic dims of the warm-up request'),
  triton: z.string().regex(/^\d\d\.\d\d$/, 'a tritonserver release as YY.MM, e.g. 24.05').optional()
    .describe("the tritonserver release the repository is for; every model is checked against it (default: the newest in tdeploy's table)"),
  irVersion: positive.optional().describe('write the ONNX model with this lower IR version (for older tritonserver releases)'),
}).strict();

export const RunConfig = z.strictObject({
  $schema: z.string().optional().describe("this file's JSON Schema, for editors: `tdeploy schema > tdeploy.schema.json`"),
  output: z.string().default('tdeploy-out').describe('folder for every artifact and the Triton repository'),
  model: Model.describe('the model to deploy, and how convert exports it when it is not ONNX'),
  calibration: z.string().optional().describe('calibration inputs (.npz or test_data_set folder): static INT8, drift reports'),
  convert: z.strictObject({ gate: Gate.optional() }).optional().describe("the check of the ONNX export against torch's outputs"),
  quantize: z.array(Variant).default([]).describe('quantized variants, each judged by its precision\'s default drift gate'),
  engine: z.union([z.literal(false), Engine]).default({}).describe('TensorRT engine (skipped when no trtexec is found), or false'),
  bench: z.union([z.literal(false), Bench]).default({}).describe('latency and throughput of every artifact side by side, or false'),
  package: z.union([z.literal(false), Package]).default({ dynamicBatching: false }).describe('the Triton model repository, verified after it is written, or false'),
});

export type RunConfig = z.infer<typeof RunConfig>;
export type Variant = z.infer<typeof Variant>;
export type GateConfig = z.infer<typeof Gate>;

/** Where the schema is published: the package ships tdeploy.schema.json at its root. */
export const SCHEMA_ID = 'https://unpkg.com/tdeploy/tdeploy.schema.json';

export function configSchema(): object {
  const { $schema, ...rest } = z.toJSONSchema(RunConfig, { io: 'input', target: 'draft-2020-12' });
  return {
    $schema,
    $id: SCHEMA_ID,
    title: 'tdeploy.config.json',
    description: "the pipeline tdeploy run runs: convert, quantize, check, engine, bench, package. Paths are relative to this file; unknown keys are errors",
    ...rest,
  };
}

/** Reads, validates and resolves a config file: every path becomes absolute, relative to the file. */
export async function readConfig(file: string): Promise<RunConfig> {
  return resolveConfig(await readJson(file, 'config file'), path.dirname(path.resolve(file)), file);
}

/**
 * A step is `false` or an object, and zod reports a wrong setting inside the object as the whole
 * union failing ("bench: Invalid input"). The branch whose issues lie deepest says what is wrong.
 */
function innermost(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union') return [issue];
  const deepest = issue.errors.filter((branch) => branch[0] && branch[0].path.length > 0)
    .sort((a, b) => b[0].path.length - a[0].path.length)[0];
  return deepest ? deepest.flatMap((i) => innermost({ ...i, path: [...issue.path, ...i.path] })) : [issue];
}

/** Keys an earlier release spelt otherwise: a config that uses the old one is told the new one. */
const RENAMED: Record<string, string> = { 'package.warmup': 'package.warmupBatch' };

function describeIssue(issue: z.core.$ZodIssue): string {
  const at = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
  const renamed = issue.code === 'unrecognized_keys'
    ? issue.keys.map((k) => RENAMED[at ? `${at}.${k}` : k]).filter(Boolean).map((to) => ` (now ${to})`).join('')
    : '';
  return `${at ? `${at}: ` : ''}${issue.message}${renamed}`;
}

/** Validates a config object and resolves its paths against `dir`. */
export function resolveConfig(json: unknown, dir: string, where: string): RunConfig {
  const parsed = RunConfig.safeParse(json, { error: plainIssue });
  if (!parsed.success) {
    // Every problem at once: a config is fixed in one edit, not one run per mistake.
    const problems = [...new Set(parsed.error.issues.flatMap(innermost).map(describeIssue))];
    const many = problems.length > 1 ? `${problems.length} problems: ` : '';
    throw new InputError(`${where}: ${many}${problems.join('; ')}`, { kind: 'config', hint: "'tdeploy schema' prints the JSON Schema of the config" });
  }
  const config = parsed.data;
  const abs = (p: string | undefined) => (p === undefined ? undefined : path.resolve(dir, p));
  const names = new Set(['fp32']);
  for (const [i, v] of config.quantize.entries()) {
    if ((v.mode === 'static' || v.target === 'tensorrt') && config.calibration === undefined) {
      throw new InputError(`${where}: quantize[${i}]: static quantization needs calibration data`, { kind: 'config', hint: 'set "calibration" (an .npz or a test_data_set folder) at the top of the config' });
    }
    if (names.has(v.name)) throw new InputError(`${where}: quantize: the name '${v.name}' is used twice (or is 'fp32')`, { kind: 'config' });
    names.add(v.name);
  }
  const used: [string, string | undefined][] = [
    ['engine.model', config.engine ? config.engine.model : undefined],
    ['package.model', config.package ? config.package.model : undefined],
    ...(config.bench ? (config.bench.models ?? []).map((m, i): [string, string] => [`bench.models[${i}]`, m]) : []),
  ];
  for (const [key, value] of used) {
    if (value !== undefined && !names.has(value)) {
      throw new InputError(`${where}: ${key}: no artifact '${value}'`, { kind: 'config', hint: `the artifacts are ${[...names].join(', ')}` });
    }
  }
  const source = config.model.source;
  const factory = isFactory(source, dir);
  if (!factory) requireFile(path.resolve(dir, source), `${where}: model.source`);
  const onnx = !factory && source.toLowerCase().endsWith('.onnx');
  const ignored = (onnx ? TORCH_ONLY : ['reference'] as const).find((key) => config.model[key] !== undefined);
  if (ignored) {
    throw new InputError(`${where}: model.${ignored} applies to ${onnx ? 'a PyTorch source' : 'an ONNX source'}, and the source is ${source}`, {
      kind: 'config', hint: onnx ? 'an ONNX model declares its own inputs and outputs' : 'convert writes the reference for a PyTorch source',
    });
  }
  return {
    ...config,
    output: path.resolve(dir, config.output),
    calibration: abs(config.calibration),
    model: {
      ...config.model,
      source: factory ? source : path.resolve(dir, source),
      exampleInputs: abs(config.model.exampleInputs),
      reference: abs(config.model.reference),
      pythonPath: config.model.pythonPath?.map((p) => path.resolve(dir, p)),
    },
    engine: config.engine && { ...config.engine, trtexec: config.engine.trtexec?.includes('/') ? abs(config.engine.trtexec) : config.engine.trtexec },
    package: config.package && { ...config.package, tokenizer: abs(config.package.tokenizer), labelFile: config.package.labelFile && resolveLabel(dir, config.package.labelFile) },
  };
}

/** A label file is `FILE` or `OUTPUT=FILE`; only the file part is a path. */
function resolveLabel(dir: string, spec: string): string {
  const named = /^([^=/]+)=(.+)$/.exec(spec);
  return named ? `${named[1]}=${path.resolve(dir, named[2])}` : path.resolve(dir, spec);
}
