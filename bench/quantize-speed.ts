/**
 * Benchmark: what `tdeploy quantize` buys on CPU, on a BERT-base-shaped encoder.
 *
 *   npm run build && node dist/bench/quantize-speed.js [rounds=5] [iterations=10] [seqs=128]
 *
 * Exports a 12-layer encoder (hidden 768, 12 heads, FFN 3072, 30522-token embedding) with
 * torch's nn.TransformerEncoder through /usr/bin/python3 (torch 1.13), then makes
 *   fp16          tdeploy quantize --to fp16
 *   int8-dynamic  tdeploy quantize --to int8 --mode dynamic (attention fused into QAttention)
 *   int8-unfused  the same with --no-fuse, to show what the fusion itself buys
 *   int8-static   tdeploy quantize --to int8 --mode static (calibrated on 16 random sequences)
 *   naive         the yardstick written below: every constant-weight MatMul/Gemm rewritten as
 *                 DynamicQuantizeLinear → MatMulInteger → Cast → Mul, per-tensor int8 weights
 * and measures, at batch 1 for each sequence length (a comma list, e.g. 128,16): p50 latency of
 * every model side by side in one process with the default threads, interleaved over rounds
 * (order rotated each run), the speed-up per round; then the CPU time per run with one thread,
 * which other processes' load hardly moves. Also accuracy against FP32 on sequences none of the
 * models was calibrated on (two of them padded), and FP16 conversion time against copying the
 * model file. The machine's load average is printed before and after each part.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareModels, modelRef } from '../src/accuracy/check.js';
import { interleaved } from '../src/bench/interleaved.js';
import { median, percentile } from '../src/bench/stats.js';
import type { NodeProto } from '../src/onnx/gen/onnx_pb.js';
import { type OnnxModel, loadModel, readTensor } from '../src/onnx/model.js';
import { saveModel } from '../src/onnx/save.js';
import { tensorToProto } from '../src/onnx/tensor-proto.js';
import { runTool } from '../src/process/runner.js';
import { attr, constantTensor, dropUnused, floatAttr, intAttr, makeNode, sortTopologically, viewGraph } from '../src/quantize/graph.js';
import { quantize } from '../src/quantize/quantize.js';
import { transpose2d } from '../src/quantize/int8/weights.js';
import { openSession, type Session, type SessionOptions } from '../src/runtime/session.js';
import { writeNpz } from '../src/tensor/npz.js';
import { Random } from '../src/tensor/random.js';
import type { Tensor, TensorMap } from '../src/tensor/tensor.js';

const rounds = Math.max(3, Number(process.argv[2] ?? 5));
const iterations = Number(process.argv[3] ?? 10);
const seqs = (process.argv[4] ?? '128').split(',').map(Number);
const SEQ = 128;
const VOCAB = 30522;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tdeploy-qbench-'));
const file = (name: string) => path.join(dir, name);

const EXPORT = `
import sys, torch
from torch import nn
class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.tokens = nn.Embedding(${VOCAB}, 768)
        self.positions = nn.Embedding(512, 768)
        self.norm = nn.LayerNorm(768)
        layer = nn.TransformerEncoderLayer(768, 12, 3072, dropout=0.0, activation='gelu', batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 12, enable_nested_tensor=False)
        self.classifier = nn.Linear(768, 2)
    def forward(self, input_ids, attention_mask):
        positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
        x = self.norm(self.tokens(input_ids) + self.positions(positions))
        x = self.encoder(x, src_key_padding_mask=attention_mask == 0)
        return self.classifier(x[:, 0]), x
model = Encoder().eval()
# TransformerEncoder deep-copies one layer; distinct weights per layer keep the exporter from sharing them.
g = torch.Generator().manual_seed(1)
with torch.no_grad():
    for name, p in model.named_parameters():
        p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g) if 'norm' in name and name.endswith('weight') else 0.02 * torch.randn(p.shape, generator=g))
ids = torch.randint(0, ${VOCAB}, (1, ${SEQ}))
# Export with autograd on: in eval mode without it, torch takes a fused fast path that has no ONNX form.
torch.onnx.export(model, (ids, torch.ones(1, ${SEQ}, dtype=torch.long)), sys.argv[1], opset_version=17,
    input_names=['input_ids', 'attention_mask'], output_names=['logits', 'hidden_states'],
    dynamic_axes={'input_ids': {0: 'batch', 1: 'seq'}, 'attention_mask': {0: 'batch', 1: 'seq'}, 'logits': {0: 'batch'}, 'hidden_states': {0: 'batch', 1: 'seq'}})
`;

/** Random tokens; `padded` rows end in 16 padding tokens the mask drops. */
function tokens(samples: number, seed: number, seq = SEQ, padded = 0): TensorMap {
  const random = new Random(seed);
  const ids = BigInt64Array.from({ length: samples * seq }, () => BigInt(random.int(0, VOCAB)));
  const mask = BigInt64Array.from({ length: samples * seq }, (_, i) => (Math.floor(i / seq) < padded && i % seq >= seq - 16 ? 0n : 1n));
  return new Map<string, Tensor>([
    ['input_ids', { dtype: 'int64', shape: [samples, seq], data: ids }],
    ['attention_mask', { dtype: 'int64', shape: [samples, seq], data: mask }],
  ]);
}

/**
 * The yardstick: each MatMul/Gemm with a constant 2-D weight becomes DynamicQuantizeLinear →
 * MatMulInteger → Cast → Mul by (input scale × one weight scale), plus the Gemm's bias.
 */
async function naiveRewrite(source: string, dest: string): Promise<void> {
  const model: OnnxModel = await loadModel(source);
  const graph = model.proto.graph!;
  const view = viewGraph(graph);
  const nodes: NodeProto[] = [];
  for (const node of graph.node) {
    const weight = ['MatMul', 'Gemm'].includes(node.opType) ? constantTensor(view, node.input[1]) : undefined;
    const gemmOk = node.opType !== 'Gemm' || (intAttr(node, 'transA', 0) === 0 && floatAttr(node, 'alpha', 1) === 1 && floatAttr(node, 'beta', 1) === 1);
    if (!weight || weight.dims.length !== 2 || constantTensor(view, node.input[0]) || !gemmOk) {
      nodes.push(node);
      continue;
    }
    let w = await readTensor(model, weight);
    if (node.opType === 'Gemm' && intAttr(node, 'transB', 0) === 1) w = transpose2d(w);
    const values = w.data as Float32Array;
    const scale = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 127 || 1;
    const p = `naive_${nodes.length}`;
    graph.initializer.push(
      tensorToProto(`${p}_w`, { dtype: 'int8', shape: w.shape, data: Int8Array.from(values, (v) => Math.max(-127, Math.min(127, Math.round(v / scale)))) }),
      tensorToProto(`${p}_ws`, { dtype: 'float32', shape: [], data: Float32Array.of(scale) }),
      tensorToProto(`${p}_wz`, { dtype: 'int8', shape: [], data: Int8Array.of(0) }),
    );
    const bias = node.opType === 'Gemm' ? node.input[2] : undefined;
    const product = bias ? `${p}_y` : node.output[0];
    nodes.push(
      makeNode('DynamicQuantizeLinear', [node.input[0]], [`${p}_x`, `${p}_xs`, `${p}_xz`]),
      makeNode('MatMulInteger', [`${p}_x`, `${p}_w`, `${p}_xz`, `${p}_wz`], [`${p}_i`]),
      makeNode('Cast', [`${p}_i`], [`${p}_f`], { attributes: [attr.int('to', 1)] }),
      makeNode('Mul', [`${p}_xs`, `${p}_ws`], [`${p}_s`]),
      makeNode('Mul', [`${p}_f`, `${p}_s`], [product]),
      ...(bias ? [makeNode('Add', [product, bias], [node.output[0]])] : []),
    );
  }
  graph.node = sortTopologically(nodes);
  dropUnused(graph);
  await saveModel(model, dest);
}

async function seconds<T>(work: () => Promise<T>): Promise<[number, T]> {
  const start = performance.now();
  const result = await work();
  return [(performance.now() - start) / 1000, result];
}

/** The fastest tenth: load from other processes only ever adds time, so this shows the models' own speed. */
const p10 = (values: number[]) => percentile(Float64Array.from(values).sort(), 10);
const loadavg = () => os.loadavg().map((v) => v.toFixed(2)).join(' ');

console.log(`machine: ${os.cpus().length} cores (${os.cpus()[0]?.model}), load average ${loadavg()} before`);
const fp32 = file('encoder.onnx');
const exported = await runTool({ file: '/usr/bin/python3', args: ['-c', EXPORT, fp32], label: 'python', timeoutMs: 600_000 });
if (exported.exitCode !== 0) throw new Error(`export failed:\n${exported.stderr}`);
console.log(`exported in ${exported.seconds.toFixed(1)} s: ${(fs.statSync(fp32).size / 2 ** 20).toFixed(0)} MiB`);

const calibration = file('calibration.npz');
await writeNpz(calibration, tokens(16, 1));
const unseen = [2, 3, 4, 5].map((seed) => tokens(1, seed, SEQ, seed % 2));

const copies: number[] = [];
const conversions: number[] = [];
const commands: number[] = [];
for (let i = 0; i < 3; i++) {
  copies.push((await seconds(() => fs.promises.copyFile(fp32, file('copy.onnx'))))[0]);
  const start = performance.now();
  let written = 0;
  await quantize(fp32, { output: file('fp16.onnx'), to: 'fp16', inputs: calibration }, (e) => {
    if (e.kind === 'phase' && e.phase === 'measuring drift') written = performance.now();
  });
  conversions.push((written - start) / 1000);
  commands.push((performance.now() - start) / 1000);
}
console.log(`FP16: load, convert and write ${median(conversions).toFixed(2)} s (with the drift report ${median(commands).toFixed(2)} s) vs copying the file ${median(copies).toFixed(2)} s (medians of 3)`);
const made: [string, () => Promise<unknown>][] = [
  ['int8-dynamic', () => quantize(fp32, { output: file('int8-dynamic.onnx'), to: 'int8', mode: 'dynamic', inputs: calibration })],
  ['int8-unfused', () => quantize(fp32, { output: file('int8-unfused.onnx'), to: 'int8', mode: 'dynamic', fuse: false, inputs: calibration })],
  ['int8-static', () => quantize(fp32, { output: file('int8-static.onnx'), to: 'int8', mode: 'static', calibration })],
  ['naive', () => naiveRewrite(fp32, file('naive.onnx'))],
];
const times: string[] = [];
for (const [name, make] of made) times.push(`${name} ${(await seconds(make))[0].toFixed(1)} s`);
console.log(`made in: ${times.join(', ')} (static with calibration, all with their drift report)`);

const names = ['fp32', 'fp16', 'int8-dynamic', 'int8-unfused', 'int8-static', 'naive'];
const paths = names.map((n) => (n === 'fp32' ? fp32 : file(`${n}.onnx`)));
const [FP32, NAIVE] = [names.indexOf('fp32'), names.indexOf('naive')];
console.log('\nsize:');
for (const [i, n] of names.entries()) console.log(`  ${n.padEnd(13)} ${(fs.statSync(paths[i]).size / 2 ** 20).toFixed(1)} MiB`);

console.log('\naccuracy against FP32 on 4 unseen sequences, 2 of them padded (cosine / max abs):');
for (const [i, n] of names.entries()) {
  if (i === FP32) continue;
  const report = await compareModels(await modelRef(fp32), await modelRef(paths[i]), unseen, null);
  console.log(`  ${n.padEnd(13)} ${report.outputs.map((o) => `${o.name} ${o.cosine?.toFixed(6)} / ${o.maxAbsError.toPrecision(3)}`).join('   ')}`);
}

async function opened(options: SessionOptions): Promise<Session[]> {
  const sessions: Session[] = [];
  for (const p of paths) sessions.push(await openSession(p, options));
  return sessions;
}

for (const seq of seqs) {
  const feed = tokens(1, 99, seq);
  let sessions = await opened({});
  console.log(`\nlatency, batch 1 × seq ${seq}, default threads, ${rounds} rounds × ${iterations} runs per model, one run of each model in turn (load average ${loadavg()}):`);
  const { wall: samples } = await interleaved(sessions.map((s) => () => s.run(feed)), { warmup: 3, rounds: rounds * iterations });
  for (const s of sessions) await s.release();
  const roundP50 = (m: number, r: number) => median(samples[m].slice(r * iterations, (r + 1) * iterations));
  console.log('  model          p50 ms  p10 ms   over FP32: p50 (rounds min..max), p10   over naive: p50, p10');
  for (const [m, n] of names.entries()) {
    const over = (base: number, stat: (v: number[]) => number) => (stat(samples[base]) / stat(samples[m])).toFixed(2);
    const perRound = Array.from({ length: rounds }, (_, r) => roundP50(FP32, r) / roundP50(m, r));
    console.log(`  ${n.padEnd(13)} ${median(samples[m]).toFixed(1).padStart(7)} ${p10(samples[m]).toFixed(1).padStart(7)}   `
      + `${over(FP32, median)}x (${Math.min(...perRound).toFixed(2)}..${Math.max(...perRound).toFixed(2)}), ${over(FP32, p10)}x`.padEnd(40)
      + `${over(NAIVE, median)}x, ${over(NAIVE, p10)}x`);
  }
  sessions = await opened({ threads: 1 });
  console.log(`CPU time per run, one thread (load average ${loadavg()}):`);
  const { cpu } = await interleaved(sessions.map((s) => () => s.run(feed)), { warmup: 3, rounds: rounds * iterations });
  for (const s of sessions) await s.release();
  for (const [m, n] of names.entries()) {
    console.log(`  ${n.padEnd(13)} ${median(cpu[m]).toFixed(1).padStart(7)} ms   ${(median(cpu[FP32]) / median(cpu[m])).toFixed(2)}x FP32   ${(median(cpu[NAIVE]) / median(cpu[m])).toFixed(2)}x naive`);
  }
}
console.log(`\nload average ${loadavg()} after`);
fs.rmSync(dir, { recursive: true, force: true });
