/**
 * Every ai.onnx operator tdeploy upgrades, with the opset versions at which its meaning or its
 * form changed between opset 6 and 13 and the adapter for each (as ONNX's version converter
 * registers adapters). An op with no steps has new versions in that range that only widened its
 * types or allowed what was an error before (negative axes, broadcasting, optional inputs): its
 * nodes mean the same at 13. An op missing from the table is refused by name.
 */
import type { Adapter } from './context.js';
import {
  attributesToInputs, batchNormIsTest, batchNormSpatial, clipBounds, drop, dropoutMask, dropoutRatio, legacyBroadcast,
  padInputs, preluSlope, resizeCoordinates, resizeOptionalScales, scatterElements, softmaxAxis, upsampleScales, upsampleToResize,
} from './adapters.js';

/** [opset the change came with, its adapter or why it cannot be converted] */
export type Step = [since: number, adapter: Adapter | { refuse: string }];

const same: Step[] = [];
const broadcast: Step[] = [[7, legacyBroadcast]];
const softmax: Step[] = [[13, softmaxAxis]];

export const UPGRADES: Record<string, Step[]> = {
  Add: broadcast, Sub: broadcast, Mul: broadcast, Div: broadcast, Pow: broadcast,
  And: broadcast, Or: broadcast, Xor: broadcast, Equal: broadcast, Greater: broadcast, Less: broadcast,
  Gemm: [[7, drop(['broadcast'], 'broadcast attribute dropped')]],
  PRelu: [[7, preluSlope]],
  BatchNormalization: [[7, batchNormIsTest], [9, batchNormSpatial]],
  Dropout: [[7, drop(['is_test'], 'is_test dropped')], [10, dropoutMask], [12, dropoutRatio]],
  Softmax: softmax, LogSoftmax: softmax, Hardmax: softmax,
  Split: [[13, attributesToInputs(['split'])]],
  Squeeze: [[13, attributesToInputs(['axes'])]],
  Unsqueeze: [[13, attributesToInputs(['axes'])]],
  ReduceSum: [[13, attributesToInputs(['axes'])]],
  Slice: [[10, attributesToInputs(['starts', 'ends', 'axes'])]],
  TopK: [[10, attributesToInputs(['k'])]],
  Clip: [[11, clipBounds]],
  Pad: [[11, padInputs]],
  Upsample: [[7, { refuse: 'Upsample before opset 7 was experimental' }], [9, upsampleScales], [10, upsampleToResize]],
  Resize: [[11, resizeCoordinates], [13, resizeOptionalScales]],
  Scatter: [[11, scatterElements]],
  LSTM: [[7, { refuse: 'the opset-6 form changed' }]], GRU: [[7, { refuse: 'the opset-6 form changed' }]], RNN: [[7, { refuse: 'the opset-6 form changed' }]],
  MeanVarianceNormalization: [[9, { refuse: 'the opset-1 form normalized by across_channels, not by axes' }]],
  Scan: [[9, { refuse: 'Scan-8 has a batch axis that Scan-9 dropped' }]],
  // The same at 13: new versions only widened types, allowed negative axes or indices, added
  // inputs or attributes whose defaults keep the old behaviour, or the op is new in this range.
  ...Object.fromEntries([
    'Abs', 'Acos', 'Acosh', 'ArgMax', 'ArgMin', 'Asin', 'Asinh', 'Atan', 'Atanh', 'AveragePool', 'BitShift', 'Cast', 'Ceil', 'Celu',
    'Compress', 'Concat', 'ConcatFromSequence', 'Constant', 'ConstantOfShape', 'Conv', 'ConvInteger', 'ConvTranspose', 'Cos', 'Cosh',
    'CumSum', 'DepthToSpace', 'DequantizeLinear', 'Det', 'DynamicQuantizeLinear', 'Einsum', 'Elu', 'Erf', 'Exp', 'Expand', 'EyeLike',
    'Flatten', 'Floor', 'Gather', 'GatherElements', 'GatherND', 'GlobalAveragePool', 'GlobalLpPool', 'GlobalMaxPool', 'GreaterOrEqual',
    'HardSigmoid', 'Identity', 'If', 'InstanceNormalization', 'IsInf', 'IsNaN', 'LeakyRelu', 'LessOrEqual', 'Log', 'Loop', 'LpNormalization',
    'LpPool', 'LRN', 'MatMul', 'MatMulInteger', 'Max', 'MaxPool', 'MaxRoiPool', 'MaxUnpool', 'Mean', 'Min',
    'Mod', 'Multinomial', 'Neg', 'NegativeLogLikelihoodLoss', 'NonZero', 'Not', 'OneHot', 'QLinearConv', 'QLinearMatMul',
    'QuantizeLinear', 'RandomNormal', 'RandomNormalLike', 'RandomUniform', 'RandomUniformLike', 'Range', 'Reciprocal', 'ReduceL1', 'ReduceL2',
    'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSumSquare', 'Relu', 'Reshape',
    'ReverseSequence', 'RoiAlign', 'Round', 'ScatterElements', 'ScatterND', 'Selu', 'SequenceAt', 'SequenceConstruct', 'SequenceEmpty',
    'SequenceErase', 'SequenceInsert', 'SequenceLength', 'Shape', 'Shrink', 'Sigmoid', 'Sign', 'Sin', 'Sinh', 'Size', 'SoftmaxCrossEntropyLoss',
    'Softplus', 'Softsign', 'SpaceToDepth', 'SplitToSequence', 'Sqrt', 'StringNormalizer', 'Sum', 'Tan', 'Tanh', 'TfIdfVectorizer',
    'ThresholdedRelu', 'Tile', 'Transpose', 'Unique', 'Where',
  ].map((op) => [op, same])),
};
