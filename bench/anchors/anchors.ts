/**
 * Benchmark: tdeploy's quantizers against onnxruntime's own tools, on the same models and the same inputs.
 *
 *   npm run bench:anchors -- [--models bert-base,gpt2,resnet18] [--seq 128] [--rounds 3] [--iterations 10]
 *     [--threads 1] [--merge] [--readme]
 *
 * For each Hugging Face architecture of bench/anchors/models.py (built from its config, random weights)
 * and each corpus model of corpus.ts (ONNX files with image inputs, from TDEPLOY_CORPUS_DIR):
 *   1. `tdeploy convert models:<factory>` with the anchors venv's torch (bench/anchors/venv.sh); a corpus
 *      file is its own fp32 model,
 *   2. tdeploy's variants: `quantize --to fp16 --keep-io-types` (float32 in and out, as onnxruntime's fp16 recipe
 *      keeps them, so one float32 input file feeds every variant), `--to int8` (its default mode), `--to int8 --mode static`
 *      (all with --no-gate: the table shows the drift rather than a refusal),
 *   3. onnxruntime's recipes (bench/anchors/ort_tools.py): transformers optimizer (fp32, fp16),
 *      quantize_dynamic (plain and after the optimizer), quantize_static QDQ, all with their default settings
 *      (the optimizer only for the transformers it knows),
 *   4. accuracy: `tdeploy check <variant> --against fp32` on held-out inputs (4 samples, for text 2 of them
 *      padded; calibration used 16 others): the lowest cosine over the outputs,
 *   5. what each file holds: `tdeploy inspect`'s op histogram (which nodes each tool quantized or fused),
 *   6. speed: `tdeploy bench` on every model side by side at batch 1 (onnxruntime-node 1.30 for all of them),
 *      repeated --rounds times with the model order rotated; each round's p50s are kept, table.ts derives the
 *      p50 (median of rounds) and the speed-ups from them.
 * Writes bench/out/anchors/anchors.json and anchors.md (TDEPLOY_ANCHORS_DIR moves them); --merge keeps the
 * runs of models not measured this time from the anchors.json already there (each run carries its own
 * settings and load average); --report measures nothing and renders anchors.json again (after a change to
 * table.ts); --readme puts the Markdown between the README's anchor markers.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeNpz } from '../../src/tensor/npz.js';
import { Random } from '../../src/tensor/random.js';
import type { Tensor, TensorMap } from '../../src/tensor/tensor.js';
import { repoRoot } from '../../test/helpers.js';
import { corpusModels } from './corpus.js';
import { type AnchorModel, type AnchorsDocument, type Measured, type ModelRun, markdown, verdicts } from './table.js';
import { writeReadmeSection } from '../readme-section.js';

const { values: args } = parseArgs({
  options: {
    models: { type: 'string' },
    seq: { type: 'string', default: '128' },
    rounds: { type: 'string', default: '3' },
    iterations: { type: 'string', default: '10' },
    threads: { type: 'string' },
    merge: { type: 'boolean', default: false },
    report: { type: 'boolean', default: false },
    readme: { type: 'boolean', default: false },
  },
});
const SEQ = Number(args.seq);
const ROUNDS = Number(args.rounds);
const THREADS = args.threads === undefined ? undefined : Number(args.threads);
if (THREADS !== undefined && !(Number.isInteger(THREADS) && THREADS > 0)) throw new Error(`--threads ${args.threads}: expected a positive integer`);
const corpusDir = process.env.TDEPLOY_CORPUS_DIR ?? path.join(repoRoot, '.corpus');
const here = path.join(repoRoot, 'bench', 'anchors');
const outDir = process.env.TDEPLOY_ANCHORS_DIR ?? path.join(repoRoot, 'bench', 'out', 'anchors');

function run(command: string, argv: string[], options: { allowFail?: boolean; cwd?: string } = {}): string {
  const result = spawnSync(command, argv, { cwd: options.cwd ?? repoRoot, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (result.status !== 0 && !(options.allowFail && result.stdout.trim().startsWith('{'))) {
    throw new Error(`${path.basename(command)} ${argv.slice(0, 3).join(' ')} … exited ${result.status}:\n${result.stderr.slice(-3000)}`);
  }
  return result.stdout;
}

const tdeploy = (argv: string[], options?: { allowFail?: boolean }) =>
  run(process.execPath, [path.join(repoRoot, 'bin', 'tdeploy.js'), ...argv, '--json', '--no-progress'], options);

/** The anchors venv's python (venv.sh makes it once per requirements file); --report needs none. */
let venvPython: string | undefined;
const pythonPath = () => (venvPython ??= process.env.TDEPLOY_ANCHORS_PYTHON ?? run('bash', [path.join(here, 'venv.sh')]).trim());

/** An input spec's dims for one sample: `seq` is --seq, the leading `batch` dropped, the rest are numbers. */
function sampleDims(spec: string): number[] {
  return spec.split(':')[2].split(',').slice(1).map((d) => (d === 'seq' ? SEQ : Number(d)));
}

/** What one timed inference is fed, for the table: "seq 128" for text, "3×224×224" for an image. */
function inputText(model: AnchorModel): string {
  const shapes = new Set(model.inputs.map((spec) => (spec.endsWith(',seq') ? `seq ${SEQ}` : sampleDims(spec).join('×'))));
  return [...shapes].join(', ');
}

/**
 * Images: standard normal values (what the corpus benchmarks feed); text: ids in [1000, 30000) (inside every
 * model's vocabulary), masks of ones except `padded` rows' last 16 tokens.
 */
function inputsFor(model: AnchorModel, samples: number, seed: number, padded = 0): TensorMap {
  const random = new Random(seed);
  const tensors = new Map<string, Tensor>();
  for (const spec of model.inputs) {
    const [name, dtype] = spec.split(':');
    const shape = [samples, ...sampleDims(spec)];
    const n = shape.reduce((a, b) => a * b, 1);
    if (dtype === 'float32') {
      tensors.set(name, { dtype, shape, data: Float32Array.from({ length: n }, () => random.normal()) });
    } else if (name === 'attention_mask') {
      const data = BigInt64Array.from({ length: n }, (_, i) => (Math.floor(i / SEQ) < padded && i % SEQ >= SEQ - 16 ? 0n : 1n));
      tensors.set(name, { dtype: 'int64', shape, data });
    } else {
      tensors.set(name, { dtype: 'int64', shape, data: BigInt64Array.from({ length: n }, () => BigInt(random.int(1000, 30000))) });
    }
  }
  return tensors;
}

const mib = (file: string) => fs.statSync(file).size / 2 ** 20;

/** check's report, or its error document where onnxruntime-node cannot run the variant */
interface CheckJson { outputs?: { name: string; cosine: number }[]; error?: { message: string } }
interface BenchJson { results: { label: string; latencyMs: { p50: number } }[] }
interface InspectJson { ops: Record<string, number> }

async function anchorModel(name: string, model: AnchorModel): Promise<ModelRun> {
  const dir = path.join(outDir, name);
  fs.mkdirSync(dir, { recursive: true });
  const file = (base: string) => path.join(dir, base);
  const notes: string[] = [];
  const loadStart = os.loadavg();
  const fp32 = 'file' in model ? model.file : file('fp32.onnx');
  if (!('factory' in model)) {
    if (!fs.existsSync(fp32)) throw new Error(`${name}: ${fp32} is missing (scripts/corpus/fetch.sh; TDEPLOY_CORPUS_DIR)`);
  } else if (fs.existsSync(fp32)) {
    notes.push('fp32 export reused from an earlier run');
  } else {
    const inputFlags = model.inputs.flatMap((spec) => ['--input', spec]);
    tdeploy(['convert', `models:${model.factory}`, '--python-path', here, '--python', pythonPath(), '-o', fp32, ...inputFlags,
      '--output-names', model.outputs.join(','), '--example-dim', 'batch=2', ...(model.inputs.some((s) => s.includes(',seq')) ? ['--example-dim', `seq=${SEQ}`] : [])]);
  }
  await writeNpz(file('calibration.npz'), inputsFor(model, 16, 1));
  await writeNpz(file('eval.npz'), inputsFor(model, 4, 2, 2));
  await writeNpz(file('timing.npz'), inputsFor(model, 1, 3));

  const variants = new Map<string, { tool: 'tdeploy' | 'onnxruntime'; file: string; seconds?: number }>([['fp32', { tool: 'tdeploy', file: fp32 }]]);
  const failed: Record<string, string> = {};
  const recipes: [string, string[]][] = [
    ['tdeploy-fp16', ['--to', 'fp16', '--keep-io-types']],
    ['tdeploy-int8', ['--to', 'int8']],
    ['tdeploy-int8-static', ['--to', 'int8', '--mode', 'static', '--calibration', file('calibration.npz')]],
  ];
  for (const [label, flags] of recipes) {
    const started = performance.now();
    try {
      tdeploy(['quantize', fp32, '-o', file(`${label}.onnx`), ...flags, '--no-gate', '--inputs', file('eval.npz')]);
      variants.set(label, { tool: 'tdeploy', file: file(`${label}.onnx`), seconds: (performance.now() - started) / 1000 });
    } catch (error) {
      failed[label] = String((error as Error).message).split('\n').find((l) => l.startsWith('tdeploy: error')) ?? String(error);
    }
  }
  // In the model's folder: quant_pre_process leaves its scratch files in the working directory.
  const ort = JSON.parse(run(pythonPath(), [path.join(here, 'ort_tools.py'), JSON.stringify({
    model: fp32, outDir: dir, calibration: file('calibration.npz'), ...('factory' in model ? { ortType: model.ortType, heads: model.heads, hidden: model.hidden } : { ortType: null }),
  })], { cwd: dir }).trim().split('\n').pop()!) as { onnxruntime: string; models: Record<string, string>; seconds: Record<string, number>; failed: Record<string, string> };
  for (const [label, modelFile] of Object.entries(ort.models)) variants.set(label, { tool: 'onnxruntime', file: modelFile, seconds: ort.seconds[label] });
  Object.assign(failed, ort.failed);

  const cosine = new Map<string, number>();
  const ops = new Map<string, Record<string, number>>();
  for (const [label, variant] of variants) {
    const report = JSON.parse(tdeploy(['check', variant.file, '--against', fp32, '--inputs', file('eval.npz')], { allowFail: true })) as CheckJson;
    if (!report.outputs) {
      failed[label] = `made, but tdeploy check cannot run it: ${report.error?.message}`;
      variants.delete(label);
      continue;
    }
    cosine.set(label, Math.min(...report.outputs.map((o) => o.cosine)));
    ops.set(label, (JSON.parse(tdeploy(['inspect', variant.file])) as InspectJson).ops);
  }

  const labels = [...variants.keys()];
  const p50s = new Map<string, number[]>(labels.map((l) => [l, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = labels.map((_, i) => labels[(i + round) % labels.length]);
    const report = JSON.parse(tdeploy(['bench', ...order.map((l) => variants.get(l)!.file), ...order.flatMap((l) => ['--label', l]),
      '--inputs', file('timing.npz'), '--iterations', args.iterations!, '--warmup', '3', ...(THREADS ? ['--threads', String(THREADS)] : [])])) as BenchJson;
    const p50 = new Map(report.results.map((r) => [r.label, r.latencyMs.p50]));
    for (const label of labels) p50s.get(label)!.push(p50.get(label)!);
  }
  const measured: Measured[] = labels.map((label) => ({
    label, tool: variants.get(label)!.tool, sizeMiB: mib(variants.get(label)!.file), cosine: cosine.get(label)!,
    p50Rounds: p50s.get(label)!, ops: ops.get(label)!, seconds: variants.get(label)!.seconds,
  }));
  return {
    name, input: inputText(model), date: new Date().toISOString().slice(0, 16).replace('T', ' '), rounds: ROUNDS, iterations: Number(args.iterations),
    threads: THREADS, loadAverage: { start: loadStart, end: os.loadavg() }, onnxruntime: ort.onnxruntime, measured, failed, notes,
  };
}

/** anchors.json and anchors.md, with the verdicts computed again from the runs. */
function publish(jsonFile: string, document: AnchorsDocument): string {
  const complete = { ...document, verdicts: document.runs.flatMap(verdicts) };
  fs.writeFileSync(jsonFile, `${JSON.stringify(complete, null, 2)}\n`);
  const text = markdown(complete);
  fs.writeFileSync(path.join(outDir, 'anchors.md'), text);
  return text;
}

async function measure(jsonFile: string): Promise<string> {
  const hf = JSON.parse(run(pythonPath(), [path.join(here, 'models.py')])) as { transformers: string; torch: string; models: Record<string, AnchorModel> };
  const catalog: Record<string, AnchorModel> = { ...hf.models, ...corpusModels(corpusDir) };
  const known = Object.keys(catalog);
  const names = args.models ? args.models.split(',') : known;
  const unknown = names.filter((n) => !catalog[n]);
  if (unknown.length) throw new Error(`unknown model ${unknown.join(', ')}; known: ${known.join(', ')}`);
  const kept = args.merge && fs.existsSync(jsonFile) ? (JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as AnchorsDocument).runs.filter((r) => !names.includes(r.name)) : [];
  const runs: ModelRun[] = [];
  let text = '';
  // The report is rewritten after each model, so a long run that is stopped keeps what it measured.
  for (const name of names) {
    process.stderr.write(`anchors: ${name} (load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')})\n`);
    runs.push(await anchorModel(name, catalog[name]));
    const all = [...kept, ...runs].sort((a, b) => known.indexOf(a.name) - known.indexOf(b.name));
    const environment = {
      cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length,
      torch: hf.torch, transformers: hf.transformers, onnxruntimePython: runs[0].onnxruntime,
    };
    text = publish(jsonFile, { environment, runs: all, verdicts: [] });
  }
  return text;
}

async function main(): Promise<void> {
  fs.mkdirSync(outDir, { recursive: true });
  const jsonFile = path.join(outDir, 'anchors.json');
  const text = args.report ? publish(jsonFile, JSON.parse(fs.readFileSync(jsonFile, 'utf8')) as AnchorsDocument) : await measure(jsonFile);
  process.stdout.write(text);
  if (args.readme) writeReadmeSection(START, END, text);
}

const START = '<!-- anchors:start (npm run bench:anchors -- --readme) -->';
const END = '<!-- anchors:end -->';

await main();
