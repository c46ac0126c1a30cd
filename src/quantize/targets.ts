/** What quantize converts to, and how INT8 finds its activation scales: the values its modules share. */
export const TARGETS = ['fp16', 'int8'] as const;
export type Target = (typeof TARGETS)[number];

export const INT8_MODES = ['auto', 'dynamic', 'static'] as const;
export type Int8Mode = (typeof INT8_MODES)[number];
/** The form one node is quantized in: `auto` picks one of these per node. */
export type Int8Form = Exclude<Int8Mode, 'auto'>;

/** What runs the INT8 model: ONNX Runtime's CPU provider (the kernel table decides), or TensorRT (explicit QDQ). */
export const INT8_TARGETS = ['cpu', 'tensorrt'] as const;
export type Int8Target = (typeof INT8_TARGETS)[number];
