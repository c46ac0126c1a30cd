import { type CheckReport, check } from '../accuracy/check.js';
import type { GateOptions } from '../accuracy/compare.js';
import { ToolError } from '../errors.js';
import type { OutputSet } from '../io/atomic.js';
import { loadModel } from '../onnx/model.js';
import { type TensorInfo, opsetVersion, signature } from '../onnx/signature.js';
import type { Progress } from '../progress.js';
import { openSession } from '../runtime/session.js';
import type { InputSpec } from './inputs.js';
import { placeModel } from './place.js';
import { opt } from '../option-ref.js';

export interface Delivered {
  opset: number | undefined;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  dataFile?: string;
  /** inputs torch left out of the graph */
  notes: string[];
}

/**
 * What happens once torch has written the model: it must load in onnxruntime before it is
 * reported written, then it moves to `output` within `set`. Kept apart from the export so that
 * onnxruntime, the ONNX reader and the check load while Python is still importing torch.
 */
export async function deliver(onnx: string, output: string, set: OutputSet, specs: InputSpec[], progress: Progress): Promise<Delivered> {
  progress({ kind: 'phase', phase: 'validating with onnxruntime' });
  let model;
  try {
    model = await loadModel(onnx);
    // Loading is the test; optimizing the graph is the job of whoever runs the model later.
    const session = await openSession(onnx, { graphOptimization: 'disabled' });
    await session.release();
  } catch (error) {
    const reason = (error as Error).message.replace(/^onnxruntime cannot load \S+: /, '');
    throw new ToolError(`torch exported a model that ${model ? 'onnxruntime cannot load' : 'is not valid ONNX'}: ${reason}`, {
      kind: 'invalid-export', hint: `try another ${opt('opset')}`, cause: error,
    });
  }
  const { inputs, outputs } = signature(model.proto);
  const notes = specs.filter((spec) => !inputs.some((i) => i.name === spec.name)).map((spec) => `torch dropped input '${spec.name}': the model does not use it`);
  const dataFile = await placeModel(model, output, set);
  return { opset: opsetVersion(model.proto), inputs, outputs, ...(dataFile ? { dataFile } : {}), notes };
}

/**
 * Runs the written model on the reference inputs and compares with torch's outputs. It runs on
 * the files in place, so the report names them; a failed gate leaves them there to examine.
 */
export function checkConverted(output: string, reference: string, gate: GateOptions, progress: Progress): Promise<CheckReport> {
  progress({ kind: 'phase', phase: 'checking against torch\'s outputs' });
  return check(output, { reference, gate }, progress);
}
