import { InputError } from '../errors.js';
import type { Dim, ModelSignature, TensorInfo } from '../onnx/signature.js';
import type { EngineBinding } from '../trt/bindings.js';
import { readTrtexecLog } from '../trt/log-parser.js';
import { opt } from '../option-ref.js';

/**
 * An engine's inputs and outputs from its trtexec log (the `<engine>.log` that `tdeploy engine`
 * keeps). Input dims are dynamic where the network says -1 or the optimization profile varies;
 * trtexec prints outputs only at the dims it ran, so an output's leading dim counts as dynamic
 * when every input's leading dim is dynamic and the run bound it to the same size.
 */
export async function signatureFromEngineLog(file: string): Promise<ModelSignature> {
  const { bindings } = await readTrtexecLog(file, 'engine log');
  const inputs = bindings.filter((b) => b.io === 'input');
  const outputs = bindings.filter((b) => b.io === 'output');
  if (inputs.length === 0 || outputs.length === 0) {
    throw new InputError(`${file} does not list the engine's inputs and outputs (a build without inference and without trtexec's verbose logging prints none)`, {
      hint: `give the ONNX model the engine was built from: ${opt('ioFrom', 'model.onnx')}`,
    });
  }
  const inputShapes = inputs.map((b) => inputShape(b, file));
  const batchDynamic = inputShapes.every((s) => s.length > 0 && s[0] === 'batch');
  const boundBatch = new Set(inputs.map((b) => b.inferenceShape?.[0]));
  return {
    inputs: inputs.map((b, i) => info(b, inputShapes[i], file)),
    outputs: outputs.map((b) => {
      const bound = b.inferenceShape;
      if (!bound) throw new InputError(`${file} does not give the dims of output '${b.name}'`, { hint: `use ${opt('ioFrom', 'model.onnx')}` });
      const dynamicLead = batchDynamic && boundBatch.size === 1 && boundBatch.has(bound[0]);
      return info(b, bound.map((d, axis) => (axis === 0 && dynamicLead ? 'batch' : d)), file);
    }),
  };
}

function inputShape(b: EngineBinding, file: string): Dim[] {
  const dynamic = (axis: number) => (axis === 0 ? 'batch' : `${b.name}_${axis}`);
  if (b.networkShape) return b.networkShape.map((d, axis) => (d < 0 ? dynamic(axis) : d));
  if (b.profile) return b.profile.min.map((d, axis) => (d !== b.profile!.max[axis] ? dynamic(axis) : d));
  if (b.inferenceShape) return b.inferenceShape;
  throw new InputError(`${file} does not give the dims of input '${b.name}'`, { hint: `use ${opt('ioFrom', 'model.onnx')}` });
}

function info(b: EngineBinding, shape: Dim[], file: string): TensorInfo {
  if (!b.dtype) {
    throw new InputError(`${file} does not state the dtype of '${b.name}' (trtexec prints binding dtypes from TensorRT 10.16, or in verbose builds for inputs)`, {
      hint: `give the ONNX model the engine was built from: ${opt('ioFrom', 'model.onnx')}`,
    });
  }
  return { name: b.name, dtype: b.dtype, shape };
}
