/**
 * Benchmark: what `tdeploy quantize` gives on the real-model corpus (scripts/corpus/fetch.sh).
 *
 *   npm run build && node dist/bench/real-models.js [--models squeezenet1_1,resnet18] \
 *     [--variants fp32,fp16,int8,int8-dynamic,int8-static] [--rounds 3] [--iterations 20] [--threads 1]
 *
 * resnet50, densenet121 and efficientnet_b0 are not in the default corpus (the tests do not need
 * them): `TDEPLOY_CORPUS_EXTRA=resnet50,densenet121,efficientnet_b0 scripts/corpus/fetch.sh` exports
 * them; bert-base (transformers 5's BertModel from its config, input_ids and attention_mask at sequence
 * 128, batch 1 padded) is exported by `TDEPLOY_ANCHORS_PYTHON=<bench/anchors venv python>
 * scripts/corpus/export_hf.sh bert-base` into hf/. A model whose file is absent is skipped with a message.
 *
 * For each model, every variant is made by the library call `tdeploy quantize` makes (fp16 with
 * float32 inputs and outputs, int8 in its default mode, int8 --mode dynamic, int8 --mode static
 * calibrated on 4 samples), judged by the variant's default gate (a miss is written, measured and
 * shown in bold); the cosine is quantize's drift report (the lowest over the outputs, against fp32, on one held-out sample). Then all variants of the model
 * run in one process, interleaved run by run (the order rotated each run, so that other
 * processes' load falls on all of them), at batch 1 with ONNX Runtime's default intra-op threads
 * or --threads. Each variant's p50 is its median wall time over rounds × iterations, and the
 * speed-up fp32's fastest run over the variant's (on a shared machine load only ever adds time,
 * and the p50 moves with it). Where the load keeps the cores busy even the fastest run waits for
 * one, so each run's CPU time (process.cpuUsage, user + system, which counts ONNX Runtime's
 * threads) is taken too: the CPU speed-up, fp32's median CPU time over the variant's, is the
 * figure to trust there (with --threads 1 it compares like for like). Prints a Markdown table on
 * stdout (progress on stderr), with the machine and its load average.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { interleaved } from '../src/bench/interleaved.js';
import { median } from '../src/bench/stats.js';
import { TdeployError } from '../src/errors.js';
import { quantize } from '../src/quantize/quantize.js';
import type { QuantizeOptions } from '../src/quantize/options.js';
import { openSession } from '../src/runtime/session.js';
import { writeNpz } from '../src/tensor/npz.js';
import { Random } from '../src/tensor/random.js';
import type { Tensor, TensorMap } from '../src/tensor/tensor.js';

const corpusDir = process.env.TDEPLOY_CORPUS_DIR ?? path.join(import.meta.dirname, '..', '..', '.corpus');

function normal(shape: number[], seed: number, scale = 1): Tensor {
  const random = new Random(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'float32', shape, data: Float32Array.from({ length: n }, () => random.normal() * scale) };
}
const zeros = (shape: number[]) => normal(shape, 0, 0);
const int64 = (v: number): Tensor => ({ dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(v)) });

interface Model {
  file: string;
  /** `samples` inputs stacked along the batch axis (or, for a stateful model, along its chunk axis) */
  data: (samples: number, seed: number) => TensorMap;
  /** one sample, what is timed */
  feed: () => TensorMap;
}

const image = (name: string, c: number, h: number, w: number) => ({
  data: (n: number, seed: number) => new Map([[name, normal([n, c, h, w], seed)]]),
  feed: () => new Map([[name, normal([1, c, h, w], 99)]]),
});
const torchvision = (name: string): Model => ({ file: path.join(corpusDir, 'torchvision', `${name}.onnx`), ...image('image', 3, 224, 224) });
const paddle = (name: string, h: number, w: number): Model => ({ file: path.join(corpusDir, 'npm', `${name}.onnx`), ...image('x', 3, h, w) });

const int64s = (shape: number[], values: (i: number) => number): Tensor => ({
  dtype: 'int64', shape, data: BigInt64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => BigInt(values(i))),
});

/**
 * Token batches as a BERT tokenizer pads them: [CLS] random word pieces [SEP], then padding (id 0,
 * mask 0) to `seq`. Every row is padded, by 8 to 3/4 of the sequence, so the cosine is judged where
 * the mask matters.
 */
function tokens(seq: number, vocab: number): Pick<Model, 'data' | 'feed'> {
  const data = (n: number, seed: number) => {
    const random = new Random(seed);
    const lengths = Array.from({ length: n }, () => random.int(seq / 4, seq - 8));
    const ids = Array.from({ length: n * seq }, (_, i) => {
      const [row, j] = [Math.floor(i / seq), i % seq];
      return j === 0 ? 101 : j === lengths[row] - 1 ? 102 : j < lengths[row] ? random.int(1000, vocab) : 0;
    });
    return new Map([
      ['input_ids', int64s([n, seq], (i) => ids[i])],
      ['attention_mask', int64s([n, seq], (i) => Number(i % seq < lengths[Math.floor(i / seq)]))],
    ]);
  };
  return { data, feed: () => data(1, 99) };
}

const MODELS: Record<string, Model> = {
  squeezenet1_1: torchvision('squeezenet1_1'),
  resnet18: torchvision('resnet18'),
  shufflenet_v2_x0_5: torchvision('shufflenet_v2_x0_5'),
  mobilenet_v3_small: torchvision('mobilenet_v3_small'),
  resnet50: torchvision('resnet50'),
  densenet121: torchvision('densenet121'),
  efficientnet_b0: torchvision('efficientnet_b0'),
  'ppocr-det': paddle('ch_PP-OCRv4_det_infer', 96, 96),
  /** the detector at the size of a page photo, where it spends its time (and its Convs are sized) in use */
  'ppocr-det-640': paddle('ch_PP-OCRv4_det_infer', 640, 640),
  'ppocr-rec': paddle('ch_PP-OCRv4_rec_infer', 48, 160),
  'ppocr-cls': paddle('ch_ppocr_mobile_v2.0_cls_infer', 48, 192),
  'silero-vad-v5': {
    file: path.join(corpusDir, 'npm', 'silero_vad_v5.onnx'),
    data: (n, seed) => new Map([['input', normal([n, 512], seed, 0.1)], ['state', zeros([2, 1, 128])], ['sr', int64(16000)]]),
    feed: () => new Map([['input', normal([1, 512], 99, 0.1)], ['state', zeros([2, 1, 128])], ['sr', int64(16000)]]),
  },
  'hello-deepa': {
    file: path.join(corpusDir, 'npm', 'hello_deepa.onnx'),
    data: (n, seed) => new Map([['onnx::Flatten_0', normal([n, 25, 96], seed)]]),
    feed: () => new Map([['onnx::Flatten_0', normal([1, 25, 96], 99)]]),
  },
  'bert-base': { file: path.join(corpusDir, 'hf', 'bert-base.onnx'), ...tokens(128, 30522) },
};

type Variant = 'fp32' | 'fp16' | 'int8' | 'int8-dynamic' | 'int8-static';
const VARIANTS: Record<Exclude<Variant, 'fp32'>, (calibration: string) => Omit<QuantizeOptions, 'output' | 'inputs'>> = {
  fp16: () => ({ to: 'fp16', keepIoTypes: true }),
  int8: () => ({ to: 'int8' }),
  'int8-dynamic': () => ({ to: 'int8', mode: 'dynamic' }),
  'int8-static': (calibration) => ({ to: 'int8', mode: 'static', calibration }),
};

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const models = flag('models', Object.keys(MODELS).join(',')).split(',');
const variants = flag('variants', 'fp32,fp16,int8,int8-dynamic,int8-static').split(',') as Variant[];
const rounds = Number(flag('rounds', '3'));
const iterations = Number(flag('iterations', '20'));
const threadsFlag = flag('threads', '');
const threads = threadsFlag ? Number(threadsFlag) : undefined;
if (threads !== undefined && !(Number.isInteger(threads) && threads > 0)) throw new Error(`--threads ${threadsFlag}: expected a positive integer`);
for (const m of models) if (!MODELS[m]) throw new Error(`unknown model ${m}; known: ${Object.keys(MODELS).join(', ')}`);
for (const v of variants) if (v !== 'fp32' && !VARIANTS[v]) throw new Error(`unknown variant ${v}`);

interface Row {
  model: string;
  variant: Variant;
  bytes?: number;
  share?: number;
  cosine?: number;
  /** quantize's default gate for the variant (a miss is still written and measured) */
  passed?: boolean;
  /** the largest |fp32 - variant| over the outputs: a one-value output (a probability) has cosine 1 whenever the signs agree */
  maxAbs?: number;
  /** milliseconds per run: median and fastest wall time, median CPU time */
  p50?: number;
  fastest?: number;
  cpu?: number;
  outcome?: string;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tdeploy-real-'));
const log = (line: string) => process.stderr.write(`${line}\n`);
const load = () => os.loadavg()[0].toFixed(1);


/** Median and fastest wall time and median CPU time of each file, one run of each in turn, the order rotated every run. */
async function sideBySide(files: string[], feed: TensorMap): Promise<{ p50: number; fastest: number; cpu: number }[]> {
  const sessions = await Promise.all(files.map((f) => openSession(f, { threads })));
  try {
    const { wall, cpu } = await interleaved(sessions.map((s) => () => s.run(feed)), { warmup: 3, rounds: rounds * iterations });
    return wall.map((w, m) => ({ p50: median(w), fastest: Math.min(...w), cpu: median(cpu[m]) }));
  } finally {
    for (const s of sessions) await s.release();
  }
}

async function measure(name: string): Promise<Row[]> {
  const model = MODELS[name];
  if (!fs.existsSync(model.file)) {
    const how = path.basename(path.dirname(model.file)) === 'hf' ? `scripts/corpus/export_hf.sh ${name}` : `scripts/corpus/fetch.sh; TDEPLOY_CORPUS_EXTRA=${name} for a model outside the default corpus`;
    log(`${name}: skipped, ${model.file} is absent (${how})`);
    return [];
  }
  const calibration = path.join(dir, `${name}.calibration.npz`);
  const holdout = path.join(dir, `${name}.holdout.npz`);
  await writeNpz(calibration, model.data(4, 1));
  await writeNpz(holdout, model.data(1, 2));
  const size = fs.statSync(model.file).size;
  const rows: Row[] = [];
  const timed: { row: Row; file: string }[] = [];
  for (const variant of variants) {
    const row: Row = { model: name, variant };
    rows.push(row);
    if (variant === 'fp32') {
      Object.assign(row, { bytes: size, share: 1, cosine: 1, maxAbs: 0, passed: true });
      timed.push({ row, file: model.file });
      continue;
    }
    const output = path.join(dir, `${name}.${variant}.onnx`);
    log(`${name}: ${variant} (load ${load()})`);
    try {
      const report = await quantize(model.file, { ...VARIANTS[variant](calibration), output, inputs: holdout });
      const cosine = Math.min(...report.drift.outputs.map((o) => o.cosine ?? NaN));
      const maxAbs = Math.max(...report.drift.outputs.map((o) => o.maxAbsError));
      Object.assign(row, { bytes: report.sizeAfter, share: report.sizeAfter / size, cosine, maxAbs, passed: report.drift.passed === true });
      timed.push({ row, file: output });
    } catch (error) {
      if (!(error instanceof TdeployError)) throw error;
      row.outcome = error.kind === 'nothing-converted' ? 'nothing converted' : `error: ${error.message.slice(0, 80)}`;
    }
  }
  log(`${name}: timing ${timed.length} variants side by side (load ${load()})`);
  const times = await sideBySide(timed.map((t) => t.file), model.feed());
  timed.forEach((t, i) => Object.assign(t.row, times[i]));
  return rows;
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(2);

const loadBefore = load();
const rows: Row[] = [];
for (const name of models) rows.push(...(await measure(name)));
const processor = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
console.log(`Measured ${new Date().toISOString().slice(0, 10)} by \`node dist/bench/real-models.js${process.argv.slice(2).map((a) => ` ${a}`).join('')}\` on ${processor} (${os.cpus().length} cores, load average ${loadBefore} → ${load()}), batch 1, ${threads ?? 'default'} intra-op thread(s), ${rounds * iterations} interleaved runs per variant. Cosine: quantize's drift against fp32 on one held-out sample (lowest over the outputs; **bold** where the variant's default gate failed) and the largest element error; sizes as a share of fp32; speed-up: fp32's fastest run over the variant's (other processes' load only ever adds time); CPU speed-up: fp32's median CPU time per run over the variant's.\n`);
console.log('| model | variant | MiB | size | cosine | max abs error | p50 ms | fastest ms | speed-up | CPU ms | CPU speed-up |');
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
const ratio = (fp32: number | undefined, variant: number | undefined) => (fp32 && variant ? `${(fp32 / variant).toFixed(2)}×` : '');
for (const r of rows) {
  const fp32 = rows.find((x) => x.model === r.model && x.variant === 'fp32');
  if (r.outcome) {
    console.log(`| ${r.model} | ${r.variant} | ${r.outcome} | | | | | | | | |`);
    continue;
  }
  const cosine = r.cosine!.toPrecision(6);
  console.log(`| ${r.model} | ${r.variant} | ${mib(r.bytes!)} | ${(100 * r.share!).toFixed(1)} % | ${r.passed ? cosine : `**${cosine}**`} | ${r.maxAbs!.toPrecision(3)} | ${r.p50!.toFixed(2)} | ${r.fastest!.toFixed(2)} | ${ratio(fp32?.fastest, r.fastest)} | ${r.cpu!.toFixed(2)} | ${ratio(fp32?.cpu, r.cpu)} |`);
}
fs.rmSync(dir, { recursive: true, force: true });
