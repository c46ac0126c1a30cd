import type { OnnxModel } from '../../onnx/model.js';
import type { Progress } from '../../progress.js';
import type { SessionOptions } from '../../runtime/session.js';
import type { TensorMap } from '../../tensor/tensor.js';
import { collectStats } from '../calibration/collect.js';
import type { TensorStats } from '../calibration/stats.js';
import { nodeLabel } from '../graph.js';
import type { ScratchSpace } from '../store.js';
import type { ValueType } from '../types.js';
import { FLOAT16_MAX } from './halves.js';
import { opt } from '../../option-ref.js';

/** A value loses "most of its values" to float16 underflow past this fraction of its nonzeros. */
const UNDERFLOW_FRACTION = 0.5;

/**
 * Runs the float32 model on the data with every float32 value exposed and finds the nodes that
 * float16 would break: any float input or output reaching beyond ±65504 (it would become
 * infinite, and a Cast into the node would overflow too), or losing most of its nonzero values
 * to underflow. Returns those nodes (by label) with the reason found.
 */
export async function findFloat16Hazards(
  model: OnnxModel, types: Map<string, ValueType>, batches: TensorMap[], scratch: ScratchSpace,
  session: SessionOptions | undefined, progress: Progress,
): Promise<Map<string, string>> {
  const graph = model.proto.graph!;
  const initializers = new Set(graph.initializer.map((t) => t.name));
  const names = [...types].filter(([name, t]) => t.dtype === 'float32' && !initializers.has(name)).map(([name]) => name);
  const stats = await collectStats(model, names, batches, scratch, { histogram: false, session }, progress);
  const hazards = new Map<string, string>();
  for (const node of graph.node) {
    for (const name of [...node.input, ...node.output]) {
      const s = stats.get(name);
      const reason = s && hazard(name, s);
      if (reason) {
        hazards.set(nodeLabel(node), reason);
        break;
      }
    }
  }
  return hazards;
}

function hazard(name: string, s: TensorStats): string | undefined {
  // An empty value (or one of infinities only) has no finite value for float16 to lose.
  if (s.count === 0) return undefined;
  const absMax = Math.max(Math.abs(s.min), Math.abs(s.max));
  if (absMax > FLOAT16_MAX) return `${opt('autoBlock')}: '${name}' reaches ${absMax.toPrecision(4)}, beyond float16's ${FLOAT16_MAX}`;
  if (s.nonzero > 0 && s.underflow / s.nonzero > UNDERFLOW_FRACTION) {
    return `${opt('autoBlock')}: ${Math.round((100 * s.underflow) / s.nonzero)}% of '${name}' underflows float16`;
  }
  return undefined;
}
