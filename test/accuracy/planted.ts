/**
 * Models with one planted sensitive node, for layerwise and fallback tests: a chain of MatMul +
 * Tanh layers with random weights, where one layer is numerically fragile.
 *
 * - `outlier` (INT8): the layer before it adds 1000 to feature 5 (an outlier channel, as large
 *   transformers have), and `sensitive` reads that activation with a zero weight row for feature
 *   5. Quantizing its input to 256 levels over [-3, 1000] rounds every other feature to a few
 *   levels; kept in float, it is exact.
 * - `overflow` (FP16): the layer before it adds 40000 to feature 5 (representable in float16),
 *   and `sensitive` adds that activation to itself: 80000, beyond float16's 65504, in an
 *   activation, not a constant. The LayerNormalization after it (`norm`) brings it back into
 *   range and is also a graph output (the hidden state a transformer returns), so the repair keeps
 *   both in float32. onnxruntime's CPU provider runs most float16 ops in float32 and drops the
 *   Casts between them, which hides an overflow inside the graph; its LayerNormalization computes
 *   in float16 for real when it writes a float16 graph output, so this one shows on CPU too.
 */
import path from 'node:path';
import { create } from '@bufbuild/protobuf';
import { type NodeProto, NodeProtoSchema } from '../../src/onnx/gen/onnx_pb.js';
import { Random } from '../../src/tensor/random.js';
import type { Tensor, TensorMap } from '../../src/tensor/tensor.js';
import { writeNpz } from '../../src/tensor/npz.js';
import { floats, value, writeModel } from '../quantize/helpers.js';

export const WIDTH = 16;
/** layers before and after the planted pair */
const BEFORE = 5;
const AFTER = 5;
const OUTLIER = 5;

export type Plant = 'outlier' | 'overflow';

export interface PlantedModel {
  model: string;
  /** inputs the models are compared on (32 rows) */
  inputs: string;
  /** calibration data (64 rows) */
  calibration: string;
  /** the node that must stay float */
  sensitive: string;
  /** the output it writes */
  tensor: string;
}

function named(name: string, opType: string, inputs: string[], outputs: string[]): NodeProto {
  return create(NodeProtoSchema, { name, opType, input: inputs, output: outputs });
}

export async function plantedModel(dir: string, plant: Plant): Promise<PlantedModel> {
  const random = new Random(7);
  const weights: Record<string, Tensor> = {};
  const nodes: NodeProto[] = [];
  const gaussian = (scale: number) => floats([WIDTH, WIDTH], () => random.normal() * scale);
  let h = 'x';
  const layer = (name: string, weight: Tensor, bias?: Tensor, act = true) => {
    weights[`${name}.w`] = weight;
    nodes.push(named(name, 'MatMul', [h, `${name}.w`], [`${name}.mm`]));
    h = `${name}.mm`;
    if (bias) {
      weights[`${name}.b`] = bias;
      nodes.push(named(`${name}.add`, 'Add', [h, `${name}.b`], [`${name}.biased`]));
      h = `${name}.biased`;
    }
    if (act) {
      nodes.push(named(`${name}.tanh`, 'Tanh', [h], [`${name}.out`]));
      h = `${name}.out`;
    }
  };
  for (let i = 0; i < BEFORE; i++) layer(`before${i}`, gaussian(1.5 / Math.sqrt(WIDTH)));
  const big = plant === 'outlier' ? 1000 : 40000;
  layer('source', gaussian(1 / Math.sqrt(WIDTH)), floats([WIDTH], (i) => (i === OUTLIER ? big : 0)), false);
  if (plant === 'outlier') {
    const sensitive = gaussian(1 / Math.sqrt(WIDTH));
    (sensitive.data as Float32Array).fill(0, OUTLIER * WIDTH, (OUTLIER + 1) * WIDTH);
    layer('sensitive', sensitive, undefined, false);
  } else {
    nodes.push(named('sensitive', 'Add', [h, h], ['sensitive.sum']));
    h = 'sensitive.sum';
  }
  const tensor = h;
  weights['norm.scale'] = floats([WIDTH], () => 1);
  weights['norm.bias'] = floats([WIDTH], () => 0);
  nodes.push(named('norm', 'LayerNormalization', [h, 'norm.scale', 'norm.bias'], ['norm.out']));
  h = 'norm.out';
  for (let i = 0; i < AFTER; i++) layer(`after${i}`, gaussian(1.5 / Math.sqrt(WIDTH)));
  nodes.push(named('head', 'MatMul', [h, 'head.w'], ['y']));
  weights['head.w'] = floats([WIDTH, 4], () => random.normal() / Math.sqrt(WIDTH));
  const outputs = [value('y', 'float32', ['batch', 4]), ...(plant === 'overflow' ? [value('norm.out', 'float32', ['batch', WIDTH])] : [])];
  const model = await writeModel(path.join(dir, `${plant}.onnx`), nodes, [value('x', 'float32', ['batch', WIDTH])], outputs, weights);
  const data = (rows: number): TensorMap => new Map([['x', floats([rows, WIDTH], () => random.normal())]]);
  const inputs = path.join(dir, `${plant}.inputs.npz`);
  const calibration = path.join(dir, `${plant}.calibration.npz`);
  await writeNpz(inputs, data(32));
  await writeNpz(calibration, data(64));
  return { model, inputs, calibration, sensitive: 'sensitive', tensor };
}
