/**
 * Benchmark: tdeploy's quantizers against onnxruntime's own tools, on the same models and the same inputs.
 *
 *   npm run bench:anchors -- [--models bert-base,gpt2] [--seq 128] [--rounds 3] [--iterations 10] [--readme]
 *
 * For each Hugging Face architecture of bench/anchors/models.py (built from its config, random weights):
 *   1. `tdeploy convert models:<factory>` with the anchors venv's torch (bench/anchors/venv.sh),
 *   2. tdeploy's variants: `quantize --to fp16`, `--to int8` (its default mode), `--to int8 --mode static`
 *      (all with --no-gate: the table shows the drift rather than a refusal),
 *   3. onnxruntime's recipes (bench/anchors/ort_tools.py): transformers optimizer (fp32, fp16),
 *      quantize_dynamic (plain and after the optimizer), quantize_static QDQ, all with their default settings,
 *   4. accuracy: `tdeploy check <variant> --against fp32` on held-out inputs (4 sequences, 2 of them padded;
 *      calibration used 16 others): the lowest cosine over the outputs,
 *   5. speed: `tdeploy bench` on every model side by side at batch 1 (onnxruntime-node 1.30 for all of them),
 *      repeated --rounds times with the model order rotated; p50 and speed-up vs fp32 are medians over rounds.
 * Writes bench/out/anchors/anchors.json and anchors.md (TDEPLOY_ANCHORS_DIR moves them); --readme puts the
 * Markdown between the README's anchor markers.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { median } from '../../src/bench/stats.js';
import { writeNpz } from '../../src/tensor/npz.js';
import { Random } from '../../src/tensor/random.js';
import type { Tensor, TensorMap } from '../../src/tensor/tensor.js';
import { repoRoot } from '../../test/helpers.js';
import { type AnchorModel, type Measured, type ModelRun, TOLERANCE, markdown, verdicts } from './table.js';
import { writeReadmeSection } from '../readme-section.js';

const { values: args } = parseArgs({
  options: {
    models: { type: 'string' },
    seq: { type: 'string', default: '128' },
    rounds: { type: 'string', default: '3' },
    iterations: { type: 'string', default: '10' },
    readme: { type: 'boolean', default: false },
  },
});
const SEQ = Number(args.seq);
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

/** The anchors venv's python (venv.sh makes it once per requirements file). */
const python = process.env.TDEPLOY_ANCHORS_PYTHON ?? run('bash', [path.join(here, 'venv.sh')]).trim();

/** Text inputs: ids in [1000, 30000) (inside every model's vocabulary), masks of ones except `padded` rows' last 16 tokens. */
function inputsFor(model: AnchorModel, samples: number, seed: number, padded = 0): TensorMap {
  const random = new Random(seed);
  const tensors = new Map<string, Tensor>();
  for (const spec of model.inputs) {
    const [name, dtype] = spec.split(':');
    if (dtype === 'float32') {
      tensors.set(name, { dtype, shape: [samples, 3, 224, 224], data: Float32Array.from({ length: samples * 3 * 224 * 224 }, () => random.normal()) });
    } else if (name === 'attention_mask') {
      const data = BigInt64Array.from({ length: samples * SEQ }, (_, i) => (Math.floor(i / SEQ) < padded && i % SEQ >= SEQ - 16 ? 0n : 1n));
      tensors.set(name, { dtype: 'int64', shape: [samples, SEQ], data });
    } else {
      tensors.set(name, { dtype: 'int64', shape: [samples, SEQ], data: BigInt64Array.from({ length: samples * SEQ }, () => BigInt(random.int(1000, 30000))) });
    }
  }
  return tensors;
}

const mib = (file: string) => fs.statSync(file).size / 2 ** 20;

interface CheckJson { outputs: { name: string; cosine: number }[] }
interface BenchJson { results: { label: string; latencyMs: { p50: number } }[] }

async function anchorModel(name: string, model: AnchorModel): Promise<ModelRun> {
  const dir = path.join(outDir, name);
  fs.mkdirSync(dir, { recursive: true });
  const file = (base: string) => path.join(dir, base);
  const notes: string[] = [];
  const fp32 = file('fp32.onnx');
  if (fs.existsSync(fp32)) {
    notes.push('fp32 export reused from an earlier run');
  } else {
    const inputFlags = model.inputs.flatMap((spec) => ['--input', spec]);
    tdeploy(['convert', `models:${model.factory}`, '--python-path', here, '--python', python, '-o', fp32, ...inputFlags,
      '--output-names', model.outputs.join(','), '--example-dim', 'batch=2', ...(model.inputs.some((s) => s.includes(',seq')) ? ['--example-dim', `seq=${SEQ}`] : [])]);
  }
  await writeNpz(file('calibration.npz'), inputsFor(model, 16, 1));
  await writeNpz(file('eval.npz'), inputsFor(model, 4, 2, 2));
  await writeNpz(file('timing.npz'), inputsFor(model, 1, 3));

  const variants = new Map<string, { tool: 'tdeploy' | 'onnxruntime'; file: string; seconds?: number }>([['fp32', { tool: 'tdeploy', file: fp32 }]]);
  const failed: Record<string, string> = {};
  const recipes: [string, string[]][] = [
    ['tdeploy-fp16', ['--to', 'fp16']],
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
  const ort = JSON.parse(run(python, [path.join(here, 'ort_tools.py'), JSON.stringify({
    model: fp32, outDir: dir, calibration: file('calibration.npz'), ortType: model.ortType, heads: model.heads, hidden: model.hidden,
  })], { cwd: dir }).trim().split('\n').pop()!) as { onnxruntime: string; models: Record<string, string>; seconds: Record<string, number>; failed: Record<string, string> };
  for (const [label, modelFile] of Object.entries(ort.models)) variants.set(label, { tool: 'onnxruntime', file: modelFile, seconds: ort.seconds[label] });
  Object.assign(failed, ort.failed);

  const cosine = new Map<string, number>();
  for (const [label, variant] of variants) {
    const report = JSON.parse(tdeploy(['check', variant.file, '--against', fp32, '--inputs', file('eval.npz')], { allowFail: true })) as CheckJson;
    cosine.set(label, Math.min(...report.outputs.map((o) => o.cosine)));
  }

  const labels = [...variants.keys()];
  const p50s = new Map<string, number[]>(labels.map((l) => [l, []]));
  const speedups = new Map<string, number[]>(labels.map((l) => [l, []]));
  for (let round = 0; round < Number(args.rounds); round++) {
    const order = labels.map((_, i) => labels[(i + round) % labels.length]);
    const report = JSON.parse(tdeploy(['bench', ...order.map((l) => variants.get(l)!.file), ...order.flatMap((l) => ['--label', l]),
      '--inputs', file('timing.npz'), '--iterations', args.iterations!, '--warmup', '3'])) as BenchJson;
    const p50 = new Map(report.results.map((r) => [r.label, r.latencyMs.p50]));
    for (const label of labels) {
      p50s.get(label)!.push(p50.get(label)!);
      speedups.get(label)!.push(p50.get('fp32')! / p50.get(label)!);
    }
  }
  const measured: Measured[] = labels.map((label) => ({
    label, tool: variants.get(label)!.tool, sizeMiB: mib(variants.get(label)!.file), cosine: cosine.get(label)!,
    p50Ms: median(p50s.get(label)!), speedup: median(speedups.get(label)!), seconds: variants.get(label)!.seconds,
  }));
  return { name, onnxruntime: ort.onnxruntime, measured, failed, notes };
}

async function main(): Promise<void> {
  fs.mkdirSync(outDir, { recursive: true });
  const catalog = JSON.parse(run(python, [path.join(here, 'models.py')])) as { transformers: string; torch: string; models: Record<string, AnchorModel> };
  const names = args.models ? args.models.split(',') : Object.keys(catalog.models);
  const unknown = names.filter((n) => !catalog.models[n]);
  if (unknown.length) throw new Error(`unknown model ${unknown.join(', ')}; models.py has ${Object.keys(catalog.models).join(', ')}`);
  const started = os.loadavg()[0];
  const runs: ModelRun[] = [];
  let text = '';
  // The report is rewritten after each model, so a long run that is stopped keeps what it measured.
  for (const name of names) {
    process.stderr.write(`anchors: ${name} (load average ${os.loadavg()[0].toFixed(1)})\n`);
    runs.push(await anchorModel(name, catalog.models[name]));
    const environment = {
      date: new Date().toISOString().slice(0, 10), cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length,
      torch: catalog.torch, transformers: catalog.transformers, onnxruntimePython: runs[0].onnxruntime, seq: SEQ,
      rounds: Number(args.rounds), iterations: Number(args.iterations), loadAverage: [started, os.loadavg()[0]], tolerance: TOLERANCE,
    };
    const document = { environment, runs, verdicts: runs.flatMap(verdicts) };
    fs.writeFileSync(path.join(outDir, 'anchors.json'), `${JSON.stringify(document, null, 2)}\n`);
    text = markdown(document);
    fs.writeFileSync(path.join(outDir, 'anchors.md'), text);
  }
  process.stdout.write(text);
  if (args.readme) writeReadmeSection(START, END, text);
}

const START = '<!-- anchors:start (npm run bench:anchors -- --readme) -->';
const END = '<!-- anchors:end -->';

await main();
