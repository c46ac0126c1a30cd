import { loadModel } from '../onnx/model.js';
import { type Dim, type TensorInfo, formatShape, signature } from '../onnx/signature.js';
import { DataType, type ModelConfig, type ModelInput, type ModelOutput } from './gen/model_config_pb.js';
import { tritonType } from './from-model.js';
import type { Report } from './verify-config.js';

/**
 * The config's tensors against an ONNX model file, with the ONNX Runtime backend's rules: every
 * model input listed, listed tensors present with the model's type, and dims that the model's
 * shape allows (fixed dims equal; with batching, a dynamic leading dim that the config leaves out).
 */
export async function checkOnnxModel(file: string, config: ModelConfig, report: Report): Promise<void> {
  let model: { inputs: TensorInfo[]; outputs: TensorInfo[] };
  try {
    model = signature((await loadModel(file)).proto);
  } catch (error) {
    report('', `cannot read the model: ${(error as Error).message}`);
    return;
  }
  compare('input', config.input, model.inputs, config.maxBatchSize, report);
  compare('output', config.output, model.outputs, config.maxBatchSize, report);
  for (const input of model.inputs) {
    if (!config.input.some((t) => t.name === input.name)) report('input', `the model's input '${input.name}' ${formatShape(input.shape)} is missing from the config`);
  }
}

function compare(list: 'input' | 'output', tensors: (ModelInput | ModelOutput)[], actual: TensorInfo[], maxBatchSize: number, report: Report): void {
  tensors.forEach((t, i) => {
    const at = `${list}[${i}]`;
    const model = actual.find((m) => m.name === t.name);
    if (!model) {
      report(`${at}.name`, `'${t.name}' is not an ${list} of the model (its ${list}s: ${actual.map((m) => m.name).join(', ')})`);
      return;
    }
    const type = tritonType(model.dtype);
    if (type !== t.dataType) {
      report(`${at}.data_type`, `'${t.name}' is ${DataType[t.dataType]} in the config but ${model.dtype} (${type === undefined ? 'no Triton type' : DataType[type]}) in the model`);
    }
    const dims = t.reshape ? t.reshape.shape : t.dims;
    const problem = model.shape && dimsProblem(model.shape, dims.map(Number), maxBatchSize);
    if (problem) report(`${at}.${t.reshape ? 'reshape' : 'dims'}`, `'${t.name}': ${problem}`);
  });
}

function dimsProblem(shape: Dim[], dims: number[], maxBatchSize: number): string | undefined {
  if (maxBatchSize > 0 && (shape.length === 0 || typeof shape[0] === 'number')) {
    return `max_batch_size ${maxBatchSize} needs a dynamic leading (batch) dim, but the model's shape is ${formatShape(shape)}`;
  }
  const model = maxBatchSize > 0 ? shape.slice(1) : shape;
  const fits = model.length === dims.length && model.every((d, i) => typeof d !== 'number' || d === dims[i]);
  const full = maxBatchSize > 0 ? `[batch, ${dims.join(', ')}]` : `[${dims.join(', ')}]`;
  return fits ? undefined : `dims ${full} do not fit the model's shape ${formatShape(shape)}`;
}
