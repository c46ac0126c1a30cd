import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { type NodeProto, ValueInfoProtoSchema } from '../../src/onnx/gen/onnx_pb.js';
import { type OnnxModel, loadModel } from '../../src/onnx/model.js';
import { saveModel } from '../../src/onnx/save.js';
import { attr, makeNode } from '../../src/onnx/nodes.js';
import { tensorToProto } from '../../src/onnx/tensor-proto.js';
import { type FusionReport, fuseModel } from '../../src/quantize/fusion/fuse.js';
import { num, reshapesTo, size, times } from '../../src/quantize/fusion/shape-expr.js';
import { quantize } from '../../src/quantize/quantize.js';
import { openScratch } from '../../src/quantize/store.js';
import { Random } from '../../src/tensor/random.js';
import type { Tensor, TensorMap } from '../../src/tensor/tensor.js';
import { fixture, python, skipWithoutPython, tempDir } from '../helpers.js';
import { drift, run } from './helpers.js';

/**
 * Fusion must not change what the model computes: the fused float32 model is compared with the
 * one it came from on token batches with padding at the end and at the start of a row.
 */
function tokens(batch: number, seq: number, vocab: number, seed: number): TensorMap {
  const random = new Random(seed);
  const masks = [() => 1, (j: number) => Number(j < seq - 4), (j: number) => Number(j >= 2)];
  return new Map([
    ['input_ids', { dtype: 'int64', shape: [batch, seq], data: BigInt64Array.from({ length: batch * seq }, () => BigInt(random.int(0, vocab))) }],
    ['attention_mask', { dtype: 'int64', shape: [batch, seq], data: BigInt64Array.from({ length: batch * seq }, (_, i) => BigInt(masks[Math.floor(i / seq) % 3](i % seq))) }],
  ]);
}

interface Fused {
  report: FusionReport;
  before: string;
  after: string;
  model: OnnxModel;
}

/** Fuses a model (after an optional edit), writing both the model fused and the one it came from. */
async function fuse(source: string, edit?: (model: OnnxModel) => void, keep?: string[]): Promise<Fused> {
  const dir = tempDir();
  const model = await loadModel(source);
  edit?.(model);
  const before = path.join(dir, 'before.onnx');
  const after = path.join(dir, 'after.onnx');
  await saveModel(model, before);
  const scratch = await openScratch(model, after);
  try {
    const report = await fuseModel(model, scratch, { keep });
    await saveModel(model, after);
    return { report, before, after, model };
  } finally {
    await scratch.dispose();
  }
}

/** The largest difference between the two models' outputs, over every output. */
async function largestDifference(a: string, b: string, feeds: TensorMap): Promise<number> {
  const [x, y] = [await run(a, feeds), await run(b, feeds)];
  let largest = 0;
  for (const [name, t] of x) {
    const u = y.get(name)!;
    assert.deepEqual(u.shape, t.shape, name);
    for (let i = 0; i < t.data.length; i++) largest = Math.max(largest, Math.abs(Number(t.data[i]) - Number(u.data[i])));
  }
  return largest;
}

const ops = (model: OnnxModel) => model.proto.graph!.node.map((n) => n.opType);
const attribute = (node: NodeProto, name: string) => node.attribute.find((a) => a.name === name);

test('reshape targets match symbolically: 0 copies an input size, one -1 is inferred, allowzero means a literal 0', () => {
  const [B, S] = [size('B'), size('S')];
  const from = [S, B, num(32)];
  const expected = [S, times(num(4), B), num(8)];
  assert.equal(reshapesTo([S, times(B, num(4)), num(8)], from, expected, false), true);
  assert.equal(reshapesTo([num(0), num(-1), num(8)], from, expected, false), true);
  assert.equal(reshapesTo([num(0), num(-1), num(8)], from, expected, true), false, 'with allowzero, 0 is a size');
  assert.equal(reshapesTo([num(-1), num(-1), num(8)], from, expected, false), false, 'two -1');
  assert.equal(reshapesTo([B, times(num(4), S), num(8)], from, expected, false), false, 'batch and sequence swapped');
  assert.equal(reshapesTo([S, times(num(8), B), num(4)], from, [S, times(num(8), B), num(4)], false), true);
  assert.equal(reshapesTo([S, times(num(4), B), num(8)], [S, B, num(64)], expected, false), false, 'element counts differ');
});

test('the fixture encoder (BERT layout) fuses into 2 Attention that compute the same values', async () => {
  const { report, before, after, model } = await fuse(fixture('encoder.onnx'));
  assert.deepEqual(report, { applied: { Attention: 2 }, skipped: [] });
  const count = (op: string) => ops(model).filter((o) => o === op).length;
  assert.deepEqual([count('Attention'), count('Softmax'), count('Transpose'), count('Reshape'), count('Cast')], [2, 0, 0, 0, 2]);
  const fused = model.proto.graph!.node.filter((n) => n.opType === 'Attention');
  assert.deepEqual(fused.map((n) => n.name), ['/blocks.0/attention/Attention', '/blocks.1/attention/Attention']);
  assert.equal(fused[0].input[3], fused[1].input[3], 'one int32 mask serves both');
  assert.equal(Number(attribute(fused[0], 'num_heads')!.i), 4);
  assert.equal(attribute(fused[0], 'scale'), undefined, 'the scores are divided by √16: Attention\'s default');
  assert.equal(attribute(fused[0], 'mask_filter_value'), undefined, 'the mask adds -10000: Attention\'s default');
  assert.ok(await largestDifference(before, after, tokens(3, 12, 1000, 1)) <= 1e-5);
});

test('a head split that differs from the scaling gives Attention a scale; still the same values', async () => {
  // Block 0 splits 64 into 16 heads of 4 but still divides the scores by 4 (= √16, not √4).
  const { report, before, after, model } = await fuse(fixture('encoder.onnx'), (m) => {
    const graph = m.proto.graph!;
    const nodeOf = (name: string) => graph.node.find((n) => n.output.includes(name))!;
    for (const reshape of graph.node.filter((n) => n.opType === 'Reshape' && n.name.startsWith('/blocks.0/attention/'))) {
      const concat = nodeOf(reshape.input[1]);
      if (concat.input.length !== 4) continue;
      for (const [i, value] of [[2, 16], [3, 4]]) {
        nodeOf(concat.input[i]).attribute[0].t = tensorToProto('', { dtype: 'int64', shape: [1], data: BigInt64Array.of(BigInt(value)) });
      }
    }
  });
  assert.deepEqual(report.applied, { Attention: 2 });
  const first = model.proto.graph!.node.find((n) => n.opType === 'Attention')!;
  assert.equal(Number(attribute(first, 'num_heads')!.i), 16);
  assert.equal(attribute(first, 'scale')!.f, 0.25);
  assert.ok(await largestDifference(before, after, tokens(3, 12, 1000, 2)) <= 1e-5);
});

test('a head split that leaves the head count to Reshape (-1, as transformers 5 exports BERT) takes it from q\'s width', async () => {
  const { report, before, after, model } = await fuse(fixture('encoder.onnx'), (m) => {
    const graph = m.proto.graph!;
    const nodeOf = (name: string) => graph.node.find((n) => n.output.includes(name))!;
    for (const reshape of graph.node.filter((n) => n.opType === 'Reshape' && n.name.includes('/attention/'))) {
      const concat = nodeOf(reshape.input[1]);
      if (concat.input.length === 4) nodeOf(concat.input[2]).attribute[0].t = tensorToProto('', { dtype: 'int64', shape: [1], data: BigInt64Array.of(-1n) });
    }
  });
  assert.deepEqual(report.applied, { Attention: 2 });
  assert.deepEqual(model.proto.graph!.node.filter((n) => n.opType === 'Attention').map((n) => Number(attribute(n, 'num_heads')!.i)), [4, 4]);
  assert.ok(await largestDifference(before, after, tokens(3, 12, 1000, 3)) <= 1e-5);
});

test('patterns that are not exactly attention are left alone, each with its reason', async () => {
  const query = '/blocks.1/attention/query/Add_output_0';
  const exposed = await fuse(fixture('encoder.onnx'), (m) => m.proto.graph!.output.push(create(ValueInfoProtoSchema, { name: query })));
  assert.deepEqual(exposed.report, {
    applied: { Attention: 1 },
    skipped: [{ fusion: 'Attention', node: '/blocks.1/attention/Softmax', reason: `its value '${query}' is also read by the graph outputs` }],
  });
  assert.ok(await largestDifference(exposed.before, exposed.after, tokens(3, 12, 1000, 3)) <= 1e-5, 'q is still an output');

  // (0.5 - mask) · -10000 adds 5000 to the tokens the mask keeps: no Attention mask does that.
  const shifted = await fuse(fixture('encoder.onnx'), (m) => {
    const one = m.proto.graph!.node.find((n) => n.output.includes(m.proto.graph!.node.find((s) => s.opType === 'Sub')!.input[0]))!;
    one.attribute[0].t = tensorToProto('', { dtype: 'float32', shape: [], data: Float32Array.of(0.5) });
  });
  assert.deepEqual(shifted.report.applied, {});
  assert.deepEqual(shifted.report.skipped.map((s) => s.reason), Array(2).fill('the attention mask adds 5000 to kept tokens and -5000 to dropped ones, not 0 and a negative constant'));
  assert.equal(ops(shifted.model).filter((o) => o === 'Softmax').length, 2);

  const kept = await fuse(fixture('encoder.onnx'), undefined, ['/blocks.0/attention/query/MatMul']);
  assert.deepEqual(kept.report.skipped, [{ fusion: 'Attention', node: '/blocks.0/attention/Softmax', reason: "it contains '/blocks.0/attention/query/MatMul', named by `excludeNodes`" }]);
  assert.ok(kept.model.proto.graph!.node.some((n) => n.name === '/blocks.0/attention/query/MatMul'));
});

/**
 * The padding mask as transformers 5 exports BERT (torch 2.15, opset 20), built in place of the
 * fixture's: `mask[batch_idx, kv_idx]` is a Gather from the flattened mask at b·S + k (vmap's
 * index arithmetic), And-ed with an all-true query term `q_idx >= 0`, expanded to [B, 1, S, S]
 * (the expand target computed with Where(target == -1, 1, target)) and turned into 0 / float32's
 * lowest by Where. `stride` is what b is multiplied by: S as transformers writes it; anything
 * else picks other elements of the mask.
 */
function transformers5Mask(model: OnnxModel, stride: 'S' | 'one' = 'S'): void {
  const graph = model.proto.graph!;
  const hidden = '/norm/LayerNormalization_output_0';
  // Constant nodes, as torch writes them (ORT's type inference sees their values, not those of initializers).
  const constant = (name: string, t: Tensor) => graph.node.push(makeNode('Constant', [], [name], { name, attributes: [attr.tensor('value', tensorToProto('', t))] }));
  const i64 = (name: string, shape: number[], values: number[]) => constant(name, { dtype: 'int64', shape, data: BigInt64Array.from(values.map(BigInt)) });
  const f32 = (name: string, value: number) => constant(name, { dtype: 'float32', shape: [], data: Float32Array.of(value) });
  i64('t5.zero', [], [0]);
  i64('t5.one', [], [1]);
  i64('t5.minus_one', [], [-1]);
  i64('t5.one_vector', [1], [1]);
  i64('t5.flat', [1], [-1]);
  i64('t5.scalar_shape', [0], []);
  for (const axis of [0, 1, 2, 3]) i64(`t5.axis${axis}`, [1], [axis]);
  f32('t5.keep', 0);
  f32('t5.drop', -3.4028234663852886e38);
  const bool = (name: string, t: boolean) => tensorToProto(name, { dtype: 'bool', shape: [1], data: Uint8Array.of(Number(t)) });
  const n = (op: string, inputs: string[], output: string, attributes: NodeProto['attribute'] = []) => makeNode(op, inputs, [`t5/${output}`], { name: `t5/${op}_${output}`, attributes });
  const v = (name: string) => (name.startsWith('t5.') || name === hidden || name === 'attention_mask' ? name : `t5/${name}`);
  const node = (op: string, inputs: string[], output: string, attributes: NodeProto['attribute'] = []) => n(op, inputs.map(v), output, attributes);
  const unsqueezed = (input: string, axes: number[], output: string) =>
    axes.map((axis, i) => node('Unsqueeze', [i === 0 ? input : `${output}${i - 1}`, `t5.axis${axis}`], i === axes.length - 1 ? output : `${output}${i}`));
  const nodes = [
    node('Cast', ['attention_mask'], 'mask', [attr.int('to', 9)]),
    node('Flatten', ['mask'], 'flat', [attr.int('axis', 2)]),
    node('Shape', [hidden], 'hidden_shape'),
    node('Gather', ['hidden_shape', 't5.zero'], 'batch', [attr.int('axis', 0)]),
    node('Gather', ['hidden_shape', 't5.one'], 'queries', [attr.int('axis', 0)]),
    node('Shape', ['mask'], 'mask_shape'),
    node('Gather', ['mask_shape', 't5.one'], 'keys', [attr.int('axis', 0)]),
    node('Gather', ['mask_shape', 't5.one_vector'], 'row', [attr.int('axis', 0)]),
    node('Range', ['t5.zero', 'batch', 't5.one'], 'batch_idx'),
    ...unsqueezed('batch_idx', [1, 2, 3], 'b'),
    node('Mul', ['b', stride === 'S' ? 'row' : 't5.one_vector'], 'row_start'),
    node('Range', ['t5.zero', 'keys', 't5.one'], 'kv_idx'),
    ...unsqueezed('kv_idx', [0, 1, 2], 'k'),
    node('Add', ['k', 'row_start'], 'index'),
    node('Gather', ['flat', 'index'], 'picked', [attr.int('axis', 0)]),
    node('Reshape', ['picked', 't5.flat'], 'picked_flat'),
    node('Shape', ['index'], 'index_shape'),
    node('Reshape', ['picked_flat', 'index_shape'], 'padding'),
    node('Cast', ['padding'], 'padding_bool', [attr.int('to', 9)]),
    node('Range', ['t5.zero', 'queries', 't5.one'], 'q_idx'),
    ...unsqueezed('q_idx', [0, 1, 3], 'q'),
    node('GreaterOrEqual', ['q', 't5.zero'], 'any_query'),
    node('Cast', ['any_query'], 'any_query_bool', [attr.int('to', 9)]),
    node('ConstantOfShape', ['t5.scalar_shape'], 'true', [attr.tensor('value', bool('', true))]),
    node('And', ['true', 'any_query_bool'], 'query_term'),
    node('And', ['query_term', 'padding_bool'], 'allowed'),
    ...unsqueezed('batch', [0], 'batch_1d'),
    ...unsqueezed('queries', [0], 'queries_1d'),
    ...unsqueezed('keys', [0], 'keys_1d'),
    node('Concat', ['batch_1d', 't5.flat', 'queries_1d', 'keys_1d'], 'target_parts', [attr.int('axis', 0)]),
    node('Reshape', ['target_parts', 't5.flat'], 'target'),
    node('Shape', ['target'], 'target_shape'),
    node('ConstantOfShape', ['target_shape'], 'ones', [attr.tensor('value', tensorToProto('', { dtype: 'int64', shape: [1], data: BigInt64Array.of(1n) }))]),
    node('Mul', ['ones', 't5.minus_one'], 'minus_ones'),
    node('Equal', ['target', 'minus_ones'], 'inferred'),
    node('Where', ['inferred', 'ones', 'target'], 'expand_to'),
    node('Expand', ['allowed', 'expand_to'], 'expanded'),
    node('Where', ['expanded', 't5.keep', 't5.drop'], 'bias'),
  ];
  for (const reader of graph.node) reader.input = reader.input.map((name) => (name === '/Mul_output_0' ? 't5/bias' : name));
  graph.node.push(...nodes);
}

test('the padding mask as transformers 5 exports BERT (a Gather at b·S + k, And, Expand to [B, 1, S, S]) fuses and computes the same values', async () => {
  const { report, before, after, model } = await fuse(fixture('encoder.onnx'), (m) => transformers5Mask(m));
  assert.deepEqual(report, { applied: { Attention: 2 }, skipped: [] });
  const fused = model.proto.graph!.node.filter((n) => n.opType === 'Attention');
  assert.ok(fused.every((n) => n.input[3] === fused[0].input[3] && n.input.length === 4), 'one mask_index serves both');
  assert.equal(attribute(fused[0], 'mask_filter_value')!.f, Math.fround(-3.4028234663852886e38), 'dropped tokens get float32\'s lowest, as the pattern adds');
  assert.equal(ops(model).filter((o) => ['Softmax', 'And', 'Expand', 'GreaterOrEqual', 'Flatten'].includes(o)).length, 0, 'the mask chain is gone');
  // Rows padded at the end, at the start and not at all, so a mask read at the wrong places would show.
  assert.ok(await largestDifference(before, after, tokens(3, 12, 1000, 7)) <= 1e-5);
  assert.ok(await largestDifference(before, after, tokens(5, 9, 1000, 8)) <= 1e-5);

  // b + k instead of b·S + k reads the mask's first row(s) for every batch: not Attention's mask.
  const strided = await fuse(fixture('encoder.onnx'), (m) => transformers5Mask(m, 'one'));
  assert.deepEqual(strided.report.applied, {});
  assert.deepEqual(strided.report.skipped.map((s) => s.reason), Array(2).fill("'t5/Gather_picked' does not pick the mask's elements in a way tdeploy can follow"));
});

/** Exports tiny nn.TransformerEncoder models as bench/quantize-speed.ts builds the large one, with torch 1.13. */
const EXPORT = `
import sys, torch
from torch import nn
class Encoder(nn.Module):
    def __init__(self, batch_first, masked):
        super().__init__()
        self.batch_first, self.masked = batch_first, masked
        self.tokens = nn.Embedding(100, 32)
        self.norm = nn.LayerNorm(32)
        layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, activation='gelu', batch_first=batch_first)
        self.encoder = nn.TransformerEncoder(layer, 3, enable_nested_tensor=False)
    def forward(self, input_ids, attention_mask):
        x = self.norm(self.tokens(input_ids))
        padding = attention_mask == 0 if self.masked else None
        if self.batch_first:
            return self.encoder(x, src_key_padding_mask=padding)
        return self.encoder(x.transpose(0, 1), src_key_padding_mask=padding).transpose(0, 1)
for name, batch_first, masked in [('padded', True, True), ('unmasked', True, False), ('sequence_first', False, True)]:
    torch.manual_seed(0)
    model = Encoder(batch_first, masked).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.2 * torch.randn(p.shape))
    ids = torch.randint(0, 100, (2, 8))
    torch.onnx.export(model, (ids, torch.ones(2, 8, dtype=torch.long)), f'{sys.argv[1]}/{name}.onnx', opset_version=17,
        input_names=['input_ids', 'attention_mask'], output_names=['hidden_states'],
        dynamic_axes={'input_ids': {0: 'batch', 1: 'seq'}, 'attention_mask': {0: 'batch', 1: 'seq'}, 'hidden_states': {0: 'batch', 1: 'seq'}})
`;

test('torch nn.TransformerEncoder (batch_first, as torch 1.13 exports it) fuses exactly, with or without a padding mask', { skip: skipWithoutPython(['torch']) }, async () => {
  const dir = tempDir();
  python(['torch'], EXPORT, [dir]);

  const padded = await fuse(path.join(dir, 'padded.onnx'));
  assert.deepEqual(padded.report, { applied: { Attention: 3 }, skipped: [] });
  const count = (op: string) => ops(padded.model).filter((o) => o === op).length;
  assert.deepEqual([count('Attention'), count('Softmax'), count('Slice'), count('Gemm'), count('Shape')], [3, 0, 0, 0, 0]);
  const attention = padded.model.proto.graph!.node.find((n) => n.opType === 'Attention')!;
  assert.equal(attribute(attention, 'mask_filter_value')!.f, -Infinity, 'torch fills dropped tokens with -inf');
  assert.equal(attribute(attention, 'scale'), undefined, 'q / √8 is the default scale');
  assert.doesNotMatch(attention.input[1], /_qkv_weight$/, 'torch\'s packed in_proj weight is used as it is');
  assert.ok(await largestDifference(padded.before, padded.after, tokens(3, 10, 100, 4)) <= 1e-5);

  const unmasked = await fuse(path.join(dir, 'unmasked.onnx'));
  assert.deepEqual(unmasked.report.applied, { Attention: 3 });
  assert.ok(unmasked.model.proto.graph!.node.filter((n) => n.opType === 'Attention').every((n) => n.input.length === 3), 'no mask_index');
  assert.ok(await largestDifference(unmasked.before, unmasked.after, tokens(2, 10, 100, 5)) <= 1e-5);

  // Sequence-first MultiheadAttention never brings its result back to [batch, sequence, hidden] itself.
  const sequenceFirst = await fuse(path.join(dir, 'sequence_first.onnx'));
  assert.deepEqual(sequenceFirst.report.applied, {});
  assert.deepEqual(sequenceFirst.report.skipped.map((s) => s.reason), [
    "the output projection's result is not brought back to [batch, sequence, 32]",
    ...Array(2).fill("'/encoder/layers.1/self_attn/Reshape' does not split q into heads as the batch-first [B, H, S, d] (BERT) layout does").map((r, i) => r.replace('layers.1', `layers.${i + 1}`)),
  ]);

  // QAttention keeps torch's -inf fill for padded tokens: no NaN, and close to float32.
  const report = await quantize(path.join(dir, 'padded.onnx'), { output: path.join(dir, 'padded.int8.onnx'), to: 'int8' });
  assert.deepEqual(report.fused, { Attention: 3 });
  const feeds = tokens(3, 10, 100, 6);
  const { cosine } = drift((await run(path.join(dir, 'padded.onnx'), feeds)).get('hidden_states')!, (await run(report.output, feeds)).get('hidden_states')!);
  assert.ok(cosine > 0.999, `cosine ${cosine}`);
});

test('fusion is for INT8 dynamic: static refuses it, --op-types without Attention turns it off, --exclude-node keeps its layer unfused', async () => {
  const dir = tempDir();
  await assert.rejects(
    quantize(fixture('encoder.onnx'), { output: path.join(dir, 's.onnx'), to: 'int8', mode: 'static', calibration: fixture('encoder.calibration.npz'), fuse: true }),
    /fusion applies to `mode: dynamic`/,
  );
  const report = await quantize(fixture('encoder.onnx'), { output: path.join(dir, 'm.onnx'), to: 'int8', opTypes: ['MatMul', 'Gather'] });
  assert.deepEqual(report.fused, {});
  assert.ok(report.notes.includes('no fusion: `opTypes` leaves Attention out, and a fused attention would stay float32'));
  const excluded = await quantize(fixture('encoder.onnx'), { output: path.join(dir, 'e.onnx'), to: 'int8', excludeNodes: ['/blocks.0/attention/query/MatMul'] });
  assert.deepEqual(excluded.fused, { Attention: 1 }, 'the layer holding the excluded node stays unfused');
  assert.ok(excluded.blockedNodes.some((b) => b.node === '/blocks.0/attention/query/MatMul' && b.reason === 'named by `excludeNodes`'));
  assert.ok(excluded.notes.includes("not fused into Attention: /blocks.0/attention/Softmax, because it contains '/blocks.0/attention/query/MatMul', named by `excludeNodes`"), excluded.notes.join('\n'));
});
