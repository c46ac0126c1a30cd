/**
 * Benchmark: which INT8 op forms ONNX Runtime's CPU provider runs faster than float, on this CPU.
 * Its output is the kernel table in src/quantize/int8/kernels.ts, which decides what `quantize`
 * turns into int8.
 *
 *   npm run build && nice -n 10 node dist/bench/int8-kernels.js [rounds=30] [only forms whose name contains this]
 *
 * Each form is one op, built here twice: in float32, and in the int8 form tdeploy emits for it.
 * Static forms take and give uint8 tensors (DequantizeLinear → op → QuantizeLinear, which ONNX
 * Runtime fuses into one QLinear kernel), so the figure is the kernel's own, as it runs inside an
 * int8 chain; `static-conv-island` is the same Conv between float neighbours, paying for the
 * QuantizeLinear, DequantizeLinear and layout changes around it; dynamic forms take and give
 * float32 (they quantize their input themselves). Both
 * models run in turn, the order swapped every round, so load from other processes falls on both
 * alike; the speed-up is the ratio of the medians. "ran as" lists the ops of the graph ONNX
 * Runtime optimized the int8 model into: a form that did not fuse shows its DequantizeLinear.
 */
import { create } from '@bufbuild/protobuf';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { interleaved } from '../src/bench/interleaved.js';
import { median } from '../src/bench/stats.js';
import { type NodeProto, ModelProtoSchema, ValueInfoProtoSchema } from '../src/onnx/gen/onnx_pb.js';
import { loadModel } from '../src/onnx/model.js';
import { saveModel } from '../src/onnx/save.js';
import { tensorToProto } from '../src/onnx/tensor-proto.js';
import { cpuProfile } from '../src/quantize/cpu.js';
import { attr, makeNode } from '../src/quantize/graph.js';
import { quantizeWeight } from '../src/quantize/int8/weights.js';
import { openSession } from '../src/runtime/session.js';
import { type Dtype, onnxFromDtype } from '../src/tensor/dtype.js';
import { Random } from '../src/tensor/random.js';
import type { Tensor, TensorMap } from '../src/tensor/tensor.js';

const rounds = Number(process.argv[2] ?? 30);
/** only the forms whose name contains this */
const only = process.argv[3] ?? '';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tdeploy-kernels-'));
const random = new Random(7);
const MS = 'com.microsoft';

type Dims = number[];
interface Graph {
  nodes: NodeProto[];
  inputs: [string, Dtype, Dims][];
  outputs: [string, Dtype][];
  weights: Record<string, Tensor>;
}
interface Form {
  /** the kernel table's key */
  form: string;
  shape: string;
  float: Graph;
  int8: Graph;
}

const count = (dims: Dims) => dims.reduce((a, b) => a * b, 1);
const normal = (dims: Dims, sd = 1): Tensor => ({ dtype: 'float32', shape: dims, data: Float32Array.from({ length: count(dims) }, () => random.normal() * sd) });
const bytes = (dims: Dims): Tensor => ({ dtype: 'uint8', shape: dims, data: Uint8Array.from({ length: count(dims) }, () => random.int(0, 256)) });
const scalar = (dtype: 'float32' | 'uint8' | 'int8', v: number): Tensor => ({ dtype, shape: [], data: dtype === 'float32' ? Float32Array.of(v) : dtype === 'uint8' ? Uint8Array.of(v) : Int8Array.of(v) });

/**
 * The activation scale and zero point every static form uses: values in about [-6.4, 6.4]; after
 * a Relu, [0, 6.4] with zero point 0, as calibration gives it (and as ONNX Runtime needs to drop
 * the Relu into the QLinearConv).
 */
const ACT = { x_s: scalar('float32', 0.05), x_z: scalar('uint8', 128), y_s: scalar('float32', 0.05), y_z: scalar('uint8', 128) };
const RELU_OUT = { y_s: scalar('float32', 0.025), y_z: scalar('uint8', 0) };

const dq = (x: string, out: string) => makeNode('DequantizeLinear', [x, 'x_s', 'x_z'], [out]);
const q = (x: string, out: string) => makeNode('QuantizeLinear', [x, 'y_s', 'y_z'], [out]);

/** An int8 weight per output channel (axis), and its DequantizeLinear; with an int32 bias when given. */
function qdqWeight(name: string, w: Tensor, axis: number, bias?: Tensor): { nodes: NodeProto[]; weights: Record<string, Tensor> } {
  const qw = quantizeWeight(w, axis, 127);
  const nodes = [makeNode('DequantizeLinear', [`${name}_q`, `${name}_s`, `${name}_z`], [`${name}_dq`], { attributes: [attr.int('axis', axis)] })];
  const weights: Record<string, Tensor> = { [`${name}_q`]: qw.values, [`${name}_s`]: qw.scale, [`${name}_z`]: qw.zeroPoint };
  if (bias) {
    const scales = Float32Array.from(qw.scale.data as Float32Array, (s) => s * 0.05);
    weights[`${name}_b_q`] = { dtype: 'int32', shape: bias.shape, data: Int32Array.from(bias.data as Float32Array, (b, i) => Math.round(b / scales[i])) };
    weights[`${name}_b_s`] = { dtype: 'float32', shape: bias.shape, data: scales };
    weights[`${name}_b_z`] = { dtype: 'int32', shape: bias.shape, data: new Int32Array(bias.shape[0]) };
    nodes.push(makeNode('DequantizeLinear', [`${name}_b_q`, `${name}_b_s`, `${name}_b_z`], [`${name}_b_dq`], { attributes: [attr.int('axis', 0)] }));
  }
  return { nodes, weights };
}

/**
 * Conv (+Relu): float, its static QDQ form (QLinearConv), the same between float neighbours, and
 * its dynamic form (ConvInteger). With `HardSwish`, which has no int8 kernel and which float Conv
 * runs fused, only the island form: the Conv's int8 output is dequantized for it.
 */
function conv(label: string, [n, c, h, w]: Dims, m: number, k: number, group = 1, stride = 1, activation: 'Relu' | 'HardSwish' = 'Relu'): Form[] {
  const weight = normal([m, c / group, k, k], 0.1);
  const bias = normal([m], 0.1);
  const attributes = [attr.ints('kernel_shape', [k, k]), attr.ints('pads', Array(4).fill(k >> 1)), attr.ints('strides', [stride, stride]), attr.int('group', group)];
  const input: [string, Dtype, Dims] = ['x', 'float32', [n, c, h, w]];
  const float: Graph = { nodes: [makeNode('Conv', ['x', 'w', 'b'], ['c'], { attributes }), makeNode(activation, ['c'], ['y'])], inputs: [input], outputs: [['y', 'float32']], weights: { w: weight, b: bias } };
  const qw = qdqWeight('w', weight, 0, bias);
  const fixed = { w: weight, b: bias };
  const shape = `${label}: ${c}→${m} ${k}×${k}${group > 1 ? ` group ${group}` : ''}${stride > 1 ? ` stride ${stride}` : ''} on ${h}×${w}`;
  const qw7 = quantizeWeight(weight, 0, 127);
  const outH = Math.ceil(h / stride);
  const macsPerValue = (m * (c / group) * k * k * outH * outH) / (c * h * w + m * outH * outH);
  // Between float 1×1 Convs (which ORT runs channels-blocked, NCHWc): the island also breaks their layout chain.
  const before = normal([c, c, 1, 1], 0.1);
  const after = normal([m, m, 1, 1], 0.1);
  const pointwise = (from: string, weight: string, to: string) => [makeNode('Conv', [from, weight], [`${to}_c`], { attributes: [attr.ints('kernel_shape', [1, 1])] }), makeNode(activation, [`${to}_c`], [to])];
  const middle = activation === 'Relu'
    ? [makeNode('QuantizeLinear', ['a', 'x_s', 'x_z'], ['a_q']), dq('a_q', 'a_dq'), ...qw.nodes, makeNode('Conv', ['a_dq', 'w_dq', 'w_b_dq'], ['c'], { attributes }), makeNode('Relu', ['c'], ['r']),
      makeNode('QuantizeLinear', ['r', 'r_s', 'r_z'], ['r_q']), makeNode('DequantizeLinear', ['r_q', 'r_s', 'r_z'], ['m'])]
    : [makeNode('QuantizeLinear', ['a', 'x_s', 'x_z'], ['a_q']), dq('a_q', 'a_dq'), ...qw.nodes, makeNode('Conv', ['a_dq', 'w_dq', 'w_b_dq'], ['c'], { attributes }),
      makeNode('QuantizeLinear', ['c', 'y_s', 'y_z'], ['c_q']), makeNode('DequantizeLinear', ['c_q', 'y_s', 'y_z'], ['c_dq']), makeNode('HardSwish', ['c_dq'], ['m'])];
  const island: Form = {
    form: 'static-conv-island', shape: `${shape}, then ${activation}, between float 1×1 Convs (${macsPerValue.toFixed(2)} multiply-adds per converted value)`,
    float: {
      nodes: [...pointwise('x', 'before', 'a'), makeNode('Conv', ['a', 'w', 'b'], ['c'], { attributes }), makeNode(activation, ['c'], ['m']), ...pointwise('m', 'after', 'y')],
      inputs: [input], outputs: [['y', 'float32']], weights: { w: weight, b: bias, before, after },
    },
    int8: {
      nodes: [...pointwise('x', 'before', 'a'), ...middle, ...pointwise('m', 'after', 'y')],
      inputs: [input], outputs: [['y', 'float32']], weights: { ...qw.weights, ...ACT, r_s: RELU_OUT.y_s, r_z: RELU_OUT.y_z, before, after },
    },
  };
  if (activation === 'HardSwish') return [island];
  return [
    {
      form: 'static-conv', shape,
      float,
      int8: {
        nodes: [dq('x', 'x_dq'), ...qw.nodes, makeNode('Conv', ['x_dq', 'w_dq', 'w_b_dq'], ['c'], { attributes }), makeNode('Relu', ['c'], ['r']), q('r', 'y')],
        inputs: [['x', 'uint8', [n, c, h, w]]], outputs: [['y', 'uint8']], weights: { ...qw.weights, ...ACT, ...RELU_OUT },
      },
    },
    island,
    {
      form: 'dynamic-conv', shape,
      float,
      int8: {
        nodes: [
          makeNode('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz']),
          makeNode('ConvInteger', ['xq', 'wq', 'xz'], ['ci'], { attributes }),
          makeNode('Cast', ['ci'], ['cf'], { attributes: [attr.int('to', onnxFromDtype('float32'))] }),
          makeNode('Mul', ['xs', 'ws'], ['s']),
          makeNode('Mul', ['cf', 's'], ['cs']),
          makeNode('Add', ['cs', 'bb'], ['c']),
          makeNode('Relu', ['c'], ['y']),
        ],
        inputs: [input], outputs: [['y', 'float32']],
        weights: { ...fixed, wq: qw7.values, ws: { ...qw7.scale, shape: [m, 1, 1] }, bb: { ...bias, shape: [m, 1, 1] } },
      },
    },
  ];
}

/** MatMul by a constant [K, N] weight on [tokens, K]: dynamic (DynamicQuantizeMatMul), static QLinearMatMul, and QDQ in with float out (MatMulIntegerToFloat). */
function matmul(label: string, tokens: number, kk: number, nn: number): Form[] {
  const weight = normal([kk, nn], 0.05);
  const bias = normal([nn], 0.1);
  const float: Graph = { nodes: [makeNode('MatMul', ['x', 'w'], ['p']), makeNode('Add', ['p', 'b'], ['y'])], inputs: [['x', 'float32', [1, tokens, kk]]], outputs: [['y', 'float32']], weights: { w: weight, b: bias } };
  const shape = `${label}: ${tokens} tokens × ${kk}→${nn}`;
  const dyn = quantizeWeight(weight, 1, 127);
  const qw = qdqWeight('w', weight, 1);
  const staticIn: [string, Dtype, Dims][] = [['x', 'uint8', [1, tokens, kk]]];
  return [
    {
      form: 'dynamic-matmul', shape, float,
      int8: { nodes: [makeNode('DynamicQuantizeMatMul', ['x', 'wq', 'ws', 'wz', 'b'], ['y'], { domain: MS })], inputs: float.inputs, outputs: float.outputs, weights: { wq: dyn.values, ws: dyn.scale, wz: dyn.zeroPoint, b: bias } },
    },
    {
      form: 'static-matmul', shape, float,
      int8: { nodes: [dq('x', 'x_dq'), ...qw.nodes, makeNode('MatMul', ['x_dq', 'w_dq'], ['p']), makeNode('Add', ['p', 'b'], ['a']), q('a', 'y')], inputs: staticIn, outputs: [['y', 'uint8']], weights: { ...qw.weights, b: bias, ...ACT } },
    },
    {
      form: 'static-matmul-float-out', shape, float,
      int8: { nodes: [dq('x', 'x_dq'), ...qw.nodes, makeNode('MatMul', ['x_dq', 'w_dq'], ['p']), makeNode('Add', ['p', 'b'], ['y'])], inputs: staticIn, outputs: [['y', 'float32']], weights: { ...qw.weights, b: bias, ...ACT } },
    },
  ];
}

/** Gemm (transB, bias) on [batch, K]: static QDQ with an int32 bias (QGemm). */
function gemm(label: string, batch: number, kk: number, nn: number): Form {
  const weight = normal([nn, kk], 0.05);
  const bias = normal([nn], 0.1);
  const attributes = [attr.int('transB', 1)];
  const qw = qdqWeight('w', weight, 0, bias);
  return {
    form: 'static-gemm', shape: `${label}: batch ${batch} × ${kk}→${nn}`,
    float: { nodes: [makeNode('Gemm', ['x', 'w', 'b'], ['y'], { attributes })], inputs: [['x', 'float32', [batch, kk]]], outputs: [['y', 'float32']], weights: { w: weight, b: bias } },
    int8: { nodes: [dq('x', 'x_dq'), ...qw.nodes, makeNode('Gemm', ['x_dq', 'w_dq', 'w_b_dq'], ['g'], { attributes }), q('g', 'y')], inputs: [['x', 'uint8', [batch, kk]]], outputs: [['y', 'uint8']], weights: { ...qw.weights, ...ACT } },
  };
}

/** An op between int8 neighbours: DequantizeLinear on each input, QuantizeLinear on the output. */
function chained(form: string, op: string, inputs: Dims[], attributes = [] as ReturnType<typeof attr.int>[]): Form {
  const names = inputs.map((_, i) => `x${i}`);
  return {
    form, shape: `${op} on ${inputs.map((d) => d.join('×')).join(' and ')}`,
    float: { nodes: [makeNode(op, names, ['y'], { attributes })], inputs: inputs.map((d, i) => [names[i], 'float32', d]), outputs: [['y', 'float32']], weights: {} },
    int8: {
      nodes: [...names.map((n) => dq(n, `${n}_dq`)), makeNode(op, names.map((n) => `${n}_dq`), ['r'], { attributes }), q('r', 'y')],
      inputs: inputs.map((d, i) => [names[i], 'uint8', d]), outputs: [['y', 'uint8']], weights: { ...ACT },
    },
  };
}

async function write(file: string, g: Graph): Promise<string> {
  const value = (name: string, dtype: Dtype, dims?: Dims) => create(ValueInfoProtoSchema, {
    name,
    type: { value: { case: 'tensorType', value: { elemType: onnxFromDtype(dtype), ...(dims ? { shape: { dim: dims.map((d) => ({ value: { case: 'dimValue' as const, value: BigInt(d) } })) } } : {}) } } },
  });
  const proto = create(ModelProtoSchema, {
    irVersion: 8n,
    producerName: 'tdeploy-bench',
    opsetImport: [{ domain: '', version: 17n }, { domain: MS, version: 1n }],
    graph: {
      name: 'kernel', node: g.nodes,
      input: g.inputs.map(([n, t, d]) => value(n, t, d)),
      output: g.outputs.map(([n, t]) => value(n, t)),
      initializer: Object.entries(g.weights).map(([n, t]) => tensorToProto(n, t)),
    },
  });
  await saveModel({ path: file, proto, sizeBytes: 0, ranges: new Map() }, file);
  return file;
}

/** The ops ONNX Runtime runs for a model: the graph it optimized the model into. */
async function ranAs(file: string): Promise<string> {
  const optimized = `${file}.optimized.onnx`;
  const session = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimized, logSeverityLevel: 3 });
  await session.release();
  const ops = (await loadModel(optimized)).proto.graph!.node.map((n) => n.opType);
  return [...new Set(ops)].join('+');
}

const feedsFor = (g: Graph): TensorMap => new Map(g.inputs.map(([n, t, d]) => [n, t === 'uint8' ? bytes(d) : normal(d)]));

async function measure(form: Form, index: number): Promise<{ floatMs: number; int8Ms: number; ran: string }> {
  const files = [await write(path.join(dir, `${index}.float.onnx`), form.float), await write(path.join(dir, `${index}.int8.onnx`), form.int8)];
  const ran = await ranAs(files[1]);
  const sessions = [await openSession(files[0]), await openSession(files[1])];
  const feeds = [feedsFor(form.float), feedsFor(form.int8)];
  const { wall } = await interleaved(sessions.map((s, k) => () => s.run(feeds[k])), { warmup: 3, rounds });
  for (const s of sessions) await s.release();
  return { floatMs: median(wall[0]), int8Ms: median(wall[1]), ran };
}

const image = (c: number, h: number) => [1, c, h, h];
const forms: Form[] = [
  ...matmul('BERT-base projection', 128, 768, 768),
  ...matmul('BERT-base FFN', 128, 768, 3072),
  ...matmul('small', 16, 64, 64),
  ...matmul('CNN classifier', 2, 1280, 1000),
  ...conv('ResNet 3×3', image(64, 56), 64, 3),
  ...conv('ResNet 1×1', image(64, 56), 256, 1),
  ...conv('MobileNet depthwise', image(96, 56), 96, 3, 96),
  ...conv('stem', image(3, 224), 64, 7, 1, 2),
  ...conv('small', image(16, 14), 16, 3),
  ...conv('MobileNetV3 stem', image(3, 224), 16, 3, 1, 2),
  ...conv('MobileNetV3 expand', image(24, 28), 88, 1),
  ...conv('MobileNetV3 depthwise', image(88, 28), 88, 3, 88),
  ...conv('MobileNetV3 depthwise 5×5', image(240, 14), 240, 5, 240),
  ...conv('MobileNetV3 late expand', image(96, 7), 576, 1),
  ...conv('ResNet 3×3', image(64, 56), 64, 3, 1, 1, 'HardSwish'),
  ...conv('ResNet 1×1', image(64, 56), 256, 1, 1, 1, 'HardSwish'),
  ...conv('MobileNetV3 stem', image(3, 224), 16, 3, 1, 2, 'HardSwish'),
  ...conv('MobileNetV3 expand', image(40, 14), 240, 1, 1, 1, 'HardSwish'),
  ...conv('MobileNetV3 late expand', image(96, 7), 576, 1, 1, 1, 'HardSwish'),
  ...conv('MobileNetV3 depthwise 5×5', image(240, 14), 240, 5, 240, 1, 'HardSwish'),
  gemm('classifier', 1, 2048, 1000),
  gemm('small', 1, 64, 10),
  chained('static-add', 'Add', [image(64, 56), image(64, 56)]),
  chained('static-mul', 'Mul', [image(64, 56), image(64, 56)]),
  chained('static-concat', 'Concat', [image(64, 28), image(64, 28)], [attr.int('axis', 1)]),
  chained('static-maxpool', 'MaxPool', [image(64, 112)], [attr.ints('kernel_shape', [3, 3]), attr.ints('strides', [2, 2]), attr.ints('pads', [1, 1, 1, 1])]),
  chained('static-averagepool', 'AveragePool', [image(64, 56)], [attr.ints('kernel_shape', [2, 2]), attr.ints('strides', [2, 2])]),
  chained('static-globalaveragepool', 'GlobalAveragePool', [image(1280, 7)]),
  chained('static-sigmoid', 'Sigmoid', [image(64, 56)]),
  chained('static-hardsigmoid', 'HardSigmoid', [image(64, 56)]),
  chained('static-hardswish', 'HardSwish', [image(64, 56)]),
];

const cpu = cpuProfile();
console.log(`# ${os.cpus()[0]?.model}, ${os.cpus().length} cores, ${cpu.description}; onnxruntime-node ${ort.env.versions.common}, default threads, ${rounds} rounds; load average ${os.loadavg()[0].toFixed(2)}`);
console.log('| form | shape | float ms | int8 ms | speed-up | ran as |');
console.log('|---|---|---:|---:|---:|---|');
for (const [i, form] of forms.entries()) {
  if (!form.form.includes(only)) continue;
  const r = await measure(form, i);
  console.log(`| ${form.form} | ${form.shape} | ${r.floatMs.toFixed(3)} | ${r.int8Ms.toFixed(3)} | ${(r.floatMs / r.int8Ms).toFixed(2)} | ${r.ran} |`);
}
console.log(`# load average ${os.loadavg()[0].toFixed(2)} after`);
fs.rmSync(dir, { recursive: true, force: true });
