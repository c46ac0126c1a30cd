/**
 * Benchmark: what `tdeploy quantize` buys on CPU, on a BERT-base-shaped encoder.
 *
 *   npm run build && node dist/bench/quantize-speed.js [rounds=5] [iterations=10]
 *
 * Exports a 12-layer encoder (hidden 768, 12 heads, FFN 3072, 30522-token embedding) with
 * torch's nn.TransformerEncoder through /usr/bin/python3 (torch 1.13), then makes
 *   fp16          tdeploy quantize --to fp16
 *   int8-dynamic  tdeploy quantize --to int8 --mode dynamic
 *   int8-static   tdeploy quantize --to int8 --mode static (calibrated on 16 random sequences)
 *   naive         the yardstick written below: every constant-weight MatMul/Gemm rewritten as
 *                 DynamicQuantizeLinear → MatMulInteger → Cast → Mul, per-tensor int8 weights
 * and measures, batch 1 × seq 128: p50 latency of every model side by side in one process,
 * interleaved over rounds (order rotated each round), the speed-up over FP32 per round, accuracy
 * against FP32 on inputs none of them was calibrated on, and FP16 conversion time against
 * copying the model file. The machine's load average is printed before and after.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareModels } from '../src/accuracy/check.js';
import { percentile, summarize } from '../src/bench/stats.js';
import type { NodeProto } from '../src/onnx/gen/onnx_pb.js';
import { type OnnxModel, loadModel, readTensor } from '../src/onnx/model.js';
import { saveModel } from '../src/onnx/save.js';
import { tensorToProto } from '../src/onnx/tensor-proto.js';
import { runTool } from '../src/process/runner.js';
import { attr, constantTensor, dropUnused, floatAttr, intAttr, makeNode, sortTopologically, viewGraph } from '../src/quantize/graph.js';
import { quantize } from '../src/quantize/quantize.js';
import { transpose2d } from '../src/quantize/int8/weights.js';
import { openSession, type Session } from '../src/runtime/session.js';
import { writeNpz } from '../src/tensor/npz.js';
import { Random } from '../src/tensor/random.js';
import type { Tensor, TensorMap } from '../src/tensor/tensor.js';

const rounds = Math.max(3, Number(process.argv[2] ?? 5));
const iterations = Number(process.argv[3] ?? 10);
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

function tokens(samples: number, seed: number): TensorMap {
  const random = new Random(seed);
  const ids = BigInt64Array.from({ length: samples * SEQ }, () => BigInt(random.int(0, VOCAB)));
  return new Map<string, Tensor>([
    ['input_ids', { dtype: 'int64', shape: [samples, SEQ], data: ids }],
    ['attention_mask', { dtype: 'int64', shape: [samples, SEQ], data: new BigInt64Array(samples * SEQ).fill(1n) }],
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

const median = (values: number[]) => summarize(values).p50;
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
const unseen = [2, 3, 4, 5].map((seed) => tokens(1, seed));

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
const [dynamicTime] = await seconds(() => quantize(fp32, { output: file('int8-dynamic.onnx'), to: 'int8', mode: 'dynamic', inputs: calibration }));
const [staticTime] = await seconds(() => quantize(fp32, { output: file('int8-static.onnx'), to: 'int8', mode: 'static', calibration }));
const [naiveTime] = await seconds(() => naiveRewrite(fp32, file('naive.onnx')));
console.log(`FP16: load, convert and write ${median(conversions).toFixed(2)} s (with the drift report ${median(commands).toFixed(2)} s) vs copying the file ${median(copies).toFixed(2)} s (medians of 3)`);
console.log(`INT8 dynamic ${dynamicTime.toFixed(1)} s, static ${staticTime.toFixed(1)} s (calibration included), naive rewrite ${naiveTime.toFixed(1)} s`);

const names = ['fp32', 'fp16', 'int8-dynamic', 'int8-static', 'naive'];
const paths = names.map((n) => (n === 'fp32' ? fp32 : file(`${n}.onnx`)));
console.log('\nsize:');
for (const [i, n] of names.entries()) console.log(`  ${n.padEnd(13)} ${(fs.statSync(paths[i]).size / 2 ** 20).toFixed(1)} MiB`);

console.log('\naccuracy against FP32 on 4 unseen sequences (cosine / max abs):');
for (const [i, n] of names.entries()) {
  if (n === 'fp32') continue;
  const report = await compareModels(fp32, paths[i], unseen, { atol: Infinity, rtol: 0 });
  console.log(`  ${n.padEnd(13)} ${report.outputs.map((o) => `${o.name} ${o.cosine?.toFixed(6)} / ${o.maxAbsError.toPrecision(3)}`).join('   ')}`);
}

const sessions: Session[] = [];
for (const p of paths) sessions.push(await openSession(p));
const feed = tokens(1, 99);
for (const s of sessions) for (let i = 0; i < 3; i++) await s.run(feed);
// One run of each model in turn, the order rotated every time, so that the other sessions'
// load (it comes and goes within seconds on this machine) falls on every model alike.
const samples = names.map((): number[] => []);
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < iterations; i++) {
    for (let k = 0; k < names.length; k++) {
      const m = (k + i + r) % names.length;
      const start = performance.now();
      await sessions[m].run(feed);
      samples[m].push(performance.now() - start);
    }
  }
}
for (const s of sessions) await s.release();

const roundP50 = (m: number, r: number) => median(samples[m].slice(r * iterations, (r + 1) * iterations));
console.log(`\nlatency, batch 1 × seq ${SEQ}, ${rounds} rounds × ${iterations} runs per model, one run of each model in turn:`);
console.log('  model          p50 ms  p10 ms   over FP32: p50 (rounds min..max), p10   over naive: p50, p10');
for (const [m, n] of names.entries()) {
  const over = (base: number, stat: (v: number[]) => number) => (stat(samples[base]) / stat(samples[m])).toFixed(2);
  const rounds_ = Array.from({ length: rounds }, (_, r) => roundP50(0, r) / roundP50(m, r));
  console.log(`  ${n.padEnd(13)} ${median(samples[m]).toFixed(1).padStart(7)} ${p10(samples[m]).toFixed(1).padStart(7)}   `
    + `${over(0, median)}x (${Math.min(...rounds_).toFixed(2)}..${Math.max(...rounds_).toFixed(2)}), ${over(0, p10)}x`.padEnd(40)
    + `${over(4, median)}x, ${over(4, p10)}x`);
}
console.log(`\nload average ${loadavg()} after`);
fs.rmSync(dir, { recursive: true, force: true });
