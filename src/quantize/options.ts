/**
 * quantize's options: one zod schema, from which the library's type, the CLI (its flags' strings
 * go through the same schema) and the run config's quantize variants all derive. A new option is
 * one more key here; what a key means only for one target or mode is checked in checkOptions.
 */
import { z } from 'zod';
import { DEFAULT_GATES } from '../accuracy/gates.js';
import { InputError } from '../errors.js';
import { opt } from '../option-ref.js';
import type { SessionOptions } from '../runtime/session.js';
import type { ShapeSpec } from '../runtime/shapes.js';
import { parseOptions } from '../validation.js';
import { CALIBRATION_METHODS } from './calibration/methods.js';
import { INT8_OP_TYPES } from './int8/registry.js';
import { INT8_MODES, INT8_TARGETS, TARGETS, type Target } from './targets.js';

/** A number, from a flag's text or a config's number alike. */
const numeric = (message: string) => z.coerce.number({ error: message });

const COSINE = 'expected a number from -1 to 1';
const PERCENT = 'expected a number in (0, 100]';
const POSITIVE = 'expected a positive integer';

export const QuantizeOptions = z.object({
  output: z.string().min(1).describe('where to write the quantized model'),
  to: z.enum(TARGETS).describe('target precision'),
  keepIoTypes: z.boolean().optional().describe('fp16: keep float32 graph inputs and outputs (Casts at the edges)'),
  blockOps: z.array(z.string()).optional().describe('fp16: op types kept in float32, on top of the default block list'),
  blockNodes: z.array(z.string()).optional().describe('fp16: nodes kept in float32, by name'),
  autoBlock: z.boolean().optional().describe('fp16: run the model on the data and keep in float32 the nodes whose values overflow or underflow float16'),
  mode: z.enum(INT8_MODES).optional().describe('int8: auto (the default: each op in the form the kernel table says runs faster than float), dynamic (activations quantized at run time) or static (QDQ, ranges from calibration data)'),
  target: z.enum(INT8_TARGETS).optional().describe('int8: what runs the model: cpu (ONNX Runtime, the default) or tensorrt (static QDQ as TensorRT\'s explicit quantization wants it)'),
  method: z.enum(CALIBRATION_METHODS).optional().describe('int8 static: how activation ranges are chosen (default minmax)'),
  percentile: numeric(PERCENT).gt(0, PERCENT).max(100, PERCENT).optional().describe('int8 static, percentile method: percent of |x| kept (default 99.99)'),
  perChannel: z.boolean().optional().describe('int8: one weight scale per output channel (default on)'),
  reduceRange: z.boolean().optional().describe('int8: 7-bit weights (default: on for x64 CPUs without VNNI, where 8-bit u8×s8 products saturate; off for target: tensorrt)'),
  symmetric: z.boolean().optional().describe('int8 static: int8 activations with zero point 0 (what TensorRT wants) instead of uint8'),
  opTypes: z.array(z.string()).optional().describe(`int8: the op types to quantize (default all: ${INT8_OP_TYPES.join(', ')})`),
  excludeNodes: z.array(z.string()).optional().describe('int8: nodes left in float32, by name'),
  fuse: z.boolean().optional().describe('int8 dynamic: fuse attention into com.microsoft Attention first (default on)'),
  calibration: z.string().min(1).optional().describe('representative inputs: .npz keyed by input name (samples stacked along axis 0), or a folder of test_data_set_*'),
  calibrationBatch: numeric(POSITIVE).int(POSITIVE).positive(POSITIVE).optional().describe('samples per batch when one calibration file is split (default 8)'),
  inputs: z.string().min(1).optional().describe('inputs the models are run on for the drift report and the float16 overflow search (.npz or folder; default: the calibration data, else generated)'),
  shapes: z.custom<ShapeSpec>().optional(),
  seed: z.number().int().nonnegative().optional(),
  intRange: z.tuple([z.number().int(), z.number().int()]).optional(),
  session: z.custom<SessionOptions>().optional(),
  maxDriftCosine: numeric(COSINE).min(-1, COSINE).max(1, COSINE).optional()
    .describe(`fail when an output's cosine similarity to the original model is below this (default: ${DEFAULT_GATES.fp16.minCosine} for fp16, ${DEFAULT_GATES.int8.minCosine} for int8)`),
  gate: z.boolean().optional().describe('false: report the drift against the original model without judging it'),
  fallback: z.union([z.boolean(), z.array(z.string())]).optional()
    .describe('when the drift misses the gate, search for a small set of nodes to keep in float32 that meets it (true); or such a set, as a search reported it'),
  fallbackMax: numeric(POSITIVE).int(POSITIVE).positive(POSITIVE).optional().describe('the most nodes the fallback search keeps in float32 (default 10% of the nodes converted)'),
});

export type QuantizeOptions = z.infer<typeof QuantizeOptions>;

/** Keys that only mean something for one target, so giving them for the other is a mistake. */
const onlyFor: Record<Target, (keyof QuantizeOptions)[]> = {
  fp16: ['keepIoTypes', 'blockOps', 'blockNodes', 'autoBlock'],
  int8: ['mode', 'target', 'method', 'percentile', 'perChannel', 'reduceRange', 'symmetric', 'opTypes', 'excludeNodes', 'fuse'],
};

/** Keys whose false is a choice too (no fusion), not only the absence of the option. */
const negatable = new Set<keyof QuantizeOptions>(['perChannel', 'reduceRange', 'fuse']);

/** The options validated: the schema, then what the schema cannot say (keys that fit the target and mode). */
export function quantizeOptions(given: unknown): QuantizeOptions {
  const options = parseOptions(QuantizeOptions, given);
  checkOptions(options);
  return options;
}

function checkOptions(options: QuantizeOptions): void {
  const other: Target = options.to === 'fp16' ? 'int8' : 'fp16';
  for (const key of onlyFor[other]) {
    const value = options[key];
    const given = value === false ? negatable.has(key) : value !== undefined && !(Array.isArray(value) && value.length === 0);
    if (given) throw usage(`${value === false ? opt(key, false) : opt(key)} applies to ${opt('to', other)}, not ${opt('to', options.to)}`);
  }
  if (options.to === 'int8' && !options.calibration) {
    for (const key of ['method', 'percentile', 'symmetric'] as const) {
      if (options[key] !== undefined && options[key] !== false) throw usage(`${opt(key)} sets how static INT8 uses ${opt('calibration')}, which is not given`);
    }
  }
  if (options.to === 'int8' && options.mode === 'dynamic') {
    for (const key of ['method', 'percentile', 'symmetric'] as const) {
      if (options[key] !== undefined && options[key] !== false) throw usage(`${opt(key)} applies to static INT8, not ${opt('mode', 'dynamic')}`);
    }
  }
  if (options.target === 'tensorrt' && options.mode && options.mode !== 'static') {
    throw usage(`${opt('target', 'tensorrt')} is static QDQ (TensorRT runs no dynamic quantization); leave ${opt('mode')} out or give ${opt('mode', 'static')}`);
  }
  if (options.fuse && (options.mode === 'static' || options.target === 'tensorrt')) {
    throw usage(`fusion applies to ${opt('mode', 'dynamic')} and ${opt('mode', 'auto')} on CPU: it makes com.microsoft ops, which a QDQ model meant for TensorRT cannot hold`);
  }
  if ((options.mode === 'static' || options.target === 'tensorrt') && !options.calibration) {
    throw new InputError('static quantization needs calibration data', { kind: 'usage', hint: `give ${opt('calibration')} (an .npz or a folder) with representative inputs` });
  }
  if (options.percentile !== undefined && options.method !== 'percentile') throw usage(`${opt('percentile')} applies to ${opt('method', 'percentile')} only`);
  if (options.opTypes?.length === 0) throw usage(`${opt('opTypes')}: no op type given; it knows ${INT8_OP_TYPES.join(', ')}`);
  for (const op of options.opTypes ?? []) {
    if (!INT8_OP_TYPES.includes(op)) throw usage(`${opt('opTypes')}: tdeploy does not quantize '${op}'; it knows ${INT8_OP_TYPES.join(', ')}`);
  }
  if (options.gate === false && options.fallback) throw usage(`${opt('fallback')} searches for what meets the drift gate, which ${opt('gate', false)} turns off`);
  if (options.fallbackMax !== undefined && options.fallback !== true) throw usage(`${opt('fallbackMax')} bounds the search that ${opt('fallback', true)} makes`);
  if (options.gate === false && options.maxDriftCosine !== undefined) {
    throw usage(`${opt('maxDriftCosine')} sets the drift gate, which ${opt('gate', false)} turns off`);
  }
}

function usage(message: string): InputError {
  return new InputError(message, { kind: 'usage' });
}
