/**
 * Constants float16 cannot hold. A weight beyond ±65504 clamped to 65504 changes what the node
 * computes (a BatchNormalization whose running variance is 1e7 then normalizes by the wrong
 * amount, and the whole output drifts), so every node that reads such a constant stays float32
 * and reads it unchanged; the report says which constant and why. Values too small for float16
 * are still clamped to its smallest subnormal and counted: they move by less than 6e-8.
 */
import type { NodeProto } from '../../onnx/gen/onnx_pb.js';
import { type OnnxModel, readTensor } from '../../onnx/model.js';
import { tensorDtype, tensorFromProto } from '../../onnx/tensor-proto.js';
import { type GraphView, isOnnxOp, nodeLabel } from '../graph.js';
import { FLOAT16_MAX } from './halves.js';

/** The nodes (by label) that read a constant beyond float16's range, each with the reason. */
export async function nodesReadingWideConstants(model: OnnxModel, view: GraphView): Promise<Map<string, string>> {
  const blocked = new Map<string, string>();
  const block = (node: NodeProto, reason: string) => {
    if (blocked.has(nodeLabel(node))) return;
    blocked.set(nodeLabel(node), reason);
    // An Identity passes the value on unchanged: its readers would see it clamped too.
    if (node.opType === 'Identity' && isOnnxOp(node)) for (const reader of view.consumers.get(node.output[0]) ?? []) block(reader, reason);
  };
  const graphInputs = new Set(view.graph.input.map((i) => i.name));
  for (const tensor of view.graph.initializer) {
    if (graphInputs.has(tensor.name) || tensorDtype(tensor) !== 'float32') continue;
    const absMax = largest((await readTensor(model, tensor)).data as Float32Array);
    if (absMax > FLOAT16_MAX) for (const reader of view.consumers.get(tensor.name) ?? []) block(reader, reason(tensor.name, absMax));
  }
  for (const node of view.graph.node) {
    const absMax = attributeAbsMax(node);
    if (absMax === undefined || absMax <= FLOAT16_MAX) continue;
    const why = reason(node.output[0], absMax);
    // A ConstantOfShape computes its value: it stays float32 itself, as do its readers.
    if (node.opType === 'ConstantOfShape') block(node, why);
    for (const reader of view.consumers.get(node.output[0]) ?? []) block(reader, why);
  }
  return blocked;
}

function reason(name: string, absMax: number): string {
  return `constant '${name}' holds ${absMax.toPrecision(4)}, beyond float16's ${FLOAT16_MAX}: kept in float32 rather than clamped`;
}

/** The largest |x| of a Constant's or ConstantOfShape's float32 value, if it has one. */
function attributeAbsMax(node: NodeProto): number | undefined {
  if (!isOnnxOp(node) || (node.opType !== 'Constant' && node.opType !== 'ConstantOfShape')) return undefined;
  let max: number | undefined;
  for (const a of node.attribute) {
    if (a.name === 'value' && a.t && tensorDtype(a.t) === 'float32') max = largest(tensorFromProto(a.t).data as Float32Array);
    if (a.name === 'value_float') max = Math.abs(a.f);
    if (a.name === 'value_floats') max = largest(Float32Array.from(a.floats));
  }
  return max;
}

/** The largest finite |x|: infinities stay infinities in float16, nothing is clamped. */
function largest(values: Float32Array): number {
  let max = 0;
  for (const v of values) {
    const a = Math.abs(v);
    if (a > max && a !== Infinity) max = a;
  }
  return max;
}
