/** tdeploy as a library: `import { inspect, loadModel } from 'tdeploy'`. */
export * from './errors.js';
export type { Progress, ProgressEvent } from './progress.js';
export { loadModel, readTensor, allTensors, externalDataFiles, hasExternalData, type OnnxModel, type LoadOptions } from './onnx/model.js';
export { saveModel, type SaveOptions, type SavedModel } from './onnx/save.js';
export { signature, type ModelSignature, type TensorInfo, type Dim } from './onnx/signature.js';
export { inspect, type InspectReport } from './onnx/inspect.js';
export { type Dtype, DTYPES, dtypeInfo } from './tensor/dtype.js';
export type { Tensor, TensorMap } from './tensor/tensor.js';
export { readNpz, writeNpz } from './tensor/npz.js';
export { readTensorFile, writeTensorPb } from './tensor/files.js';
export { openSession, type Session, type SessionOptions, type Provider } from './runtime/session.js';
export { generateInputs } from './runtime/inputs.js';
export { resolveShapes, type ShapeSpec } from './runtime/shapes.js';
export { check, compareModels, type CheckReport, type CheckOptions } from './accuracy/check.js';
export { compareTensors, DEFAULT_GATE, type GateOptions, type Tolerance, type OutputComparison, type WorstElement } from './accuracy/compare.js';
export { checkTable } from './report/check.js';
