import path from 'node:path';
import { type OnnxModel, hasExternalData } from '../../onnx/model.js';
import { saveModel } from '../../onnx/save.js';
import { type Progress, silent } from '../../progress.js';
import { type SessionOptions, openSession } from '../../runtime/session.js';
import type { TensorMap } from '../../tensor/tensor.js';
import type { ScratchSpace } from '../store.js';
import { exposeValues } from './expose.js';
import { type TensorStats, accumulate, emptyStats } from './stats.js';

export interface CollectOptions {
  /** keep an |x| histogram per tensor (percentile and entropy need it) */
  histogram: boolean;
  session?: SessionOptions;
}

/**
 * Runs the model on each batch with the wanted float32 values exposed as outputs and folds
 * them into per-tensor statistics, one batch at a time: memory holds one batch's values and a
 * fixed-size histogram per tensor, however many batches there are.
 */
export async function collectStats(
  model: OnnxModel, names: string[], batches: TensorMap[], scratch: ScratchSpace,
  options: CollectOptions, progress: Progress = silent,
): Promise<Map<string, TensorStats>> {
  const stats = new Map(names.map((n) => [n, emptyStats(options.histogram)]));
  // Graph inputs are read from the batches; everything else is fetched from the model.
  const inputs = new Set(model.proto.graph!.input.map((i) => i.name));
  const computed = names.filter((n) => !inputs.has(n));
  const fold = (values: TensorMap) => {
    for (const [name, tensor] of values) {
      const s = stats.get(name);
      if (s && tensor.dtype === 'float32') accumulate(s, tensor.data as Float32Array);
    }
  };
  batches.forEach(fold);
  if (computed.length === 0) return stats;
  const fetch = await saveExposing(model, computed, path.join(scratch.dir, 'calibration.onnx'));
  const session = await openSession(path.join(scratch.dir, 'calibration.onnx'), options.session);
  try {
    for (const [b, batch] of batches.entries()) {
      progress({ kind: 'phase', phase: 'calibrating', detail: `batch ${b + 1} of ${batches.length}`, fraction: b / batches.length });
      const fetched = await session.run(batch, [...fetch.values()]);
      fold(new Map(computed.map((name) => [name, fetched.get(fetch.get(name)!)!])));
    }
  } finally {
    await session.release();
  }
  return stats;
}

/** Saves the model with `names` exposed as graph outputs (exposeValues), leaving the loaded model as it was; returns the name each is fetched under. */
async function saveExposing(model: OnnxModel, names: string[], file: string): Promise<Map<string, string>> {
  const { fetch, undo } = exposeValues(model.proto.graph!, names);
  try {
    await saveModel(model, file, { externalData: hasExternalData(model) ? 'always' : 'auto' });
  } finally {
    undo();
  }
  return fetch;
}
