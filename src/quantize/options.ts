import { InputError } from '../errors.js';
import type { SessionOptions } from '../runtime/session.js';
import type { ShapeSpec } from '../runtime/shapes.js';
import { type CalibrationMethod, methods } from './calibration/methods.js';
import { INT8_OP_TYPES } from './int8/registry.js';

export type Target = 'fp16' | 'int8';
export type Int8Mode = 'dynamic' | 'static';

export interface QuantizeOptions {
  output: string;
  to: Target;
  /** FP16: keep float32 graph inputs and outputs, with Casts at the edges */
  keepIoTypes?: boolean;
  /** FP16: op types and node names kept in float32, on top of the default block list */
  blockOps?: string[];
  blockNodes?: string[];
  /** FP16: keep in float32 the nodes whose values overflow or underflow float16 on the data */
  autoBlock?: boolean;
  /** INT8 (default dynamic) */
  mode?: Int8Mode;
  method?: CalibrationMethod;
  /** percentile of |x| kept by --method percentile (default 99.99) */
  percentile?: number;
  /** one weight scale per output channel (default on) */
  perChannel?: boolean;
  /** 7-bit weights; default chosen for the CPU (see cpu.ts) */
  reduceRange?: boolean;
  /** static: int8 activations with zero point 0 (what TensorRT wants) */
  symmetric?: boolean;
  opTypes?: string[];
  excludeNodes?: string[];
  /** INT8 dynamic: fuse patterns into single com.microsoft ops first (see fusion/fuse.ts); default on */
  fuse?: boolean;
  /** calibration data (.npz or folder); also the inputs of the drift report */
  calibration?: string;
  /** samples per calibration batch when one file is split (default 8) */
  calibrationBatch?: number;
  /** inputs for --auto-block and the drift report when there is no calibration data (.npz or folder) */
  inputs?: string;
  /** generated inputs, when there is no calibration data */
  shapes?: ShapeSpec;
  seed?: number;
  intRange?: [number, number];
  session?: SessionOptions;
  /** the drift gate: the report fails when an output's cosine similarity to the original is below this */
  maxDriftCosine?: number;
}

/** Flags that only mean something for one target, so giving them for the other is a mistake. */
const onlyFor: Record<Target, (keyof QuantizeOptions)[]> = {
  fp16: ['keepIoTypes', 'blockOps', 'blockNodes', 'autoBlock'],
  int8: ['mode', 'method', 'percentile', 'perChannel', 'reduceRange', 'symmetric', 'opTypes', 'excludeNodes', 'fuse'],
};

/** Options whose false is a choice too (--no-fuse), not only the absence of a flag. */
const negatable = new Set<keyof QuantizeOptions>(['perChannel', 'reduceRange', 'fuse']);

const flag = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** Checks what the types cannot: values from a closed set, and flags that fit the target and mode. */
export function checkOptions(options: QuantizeOptions): void {
  if (!Object.hasOwn(onlyFor, options.to)) throw usage(`--to: unknown precision '${options.to}'; use fp16 or int8`);
  const other: Target = options.to === 'fp16' ? 'int8' : 'fp16';
  for (const key of onlyFor[other]) {
    const value = options[key];
    const given = value === false ? negatable.has(key) : value !== undefined && !(Array.isArray(value) && value.length === 0);
    if (given) throw usage(`${value === false ? flag(key).replace(/^--/, '--no-') : flag(key)} applies to --to ${other}, not --to ${options.to}`);
  }
  if (options.mode !== undefined && !['dynamic', 'static'].includes(options.mode)) throw usage(`--mode: unknown mode '${options.mode}'; use dynamic or static`);
  if (options.method !== undefined && !Object.hasOwn(methods, options.method)) {
    throw usage(`--method: unknown calibration method '${options.method}'; use ${Object.keys(methods).join(', ')}`);
  }
  if (options.to === 'int8' && options.mode !== 'static') {
    for (const key of ['method', 'percentile', 'symmetric'] as const) {
      if (options[key] !== undefined && options[key] !== false) throw usage(`${flag(key)} applies to --mode static only`);
    }
  }
  if (options.fuse && options.mode === 'static') {
    throw usage('fusion applies to --mode dynamic: it makes com.microsoft ops, which a QDQ model meant for TensorRT cannot hold');
  }
  if (options.mode === 'static' && !options.calibration) {
    throw new InputError('static quantization needs calibration data', { kind: 'usage', hint: 'give --calibration <file.npz or folder> with representative inputs' });
  }
  if (options.percentile !== undefined && !(options.percentile > 0 && options.percentile <= 100)) throw usage(`--percentile: ${options.percentile} is not in (0, 100]`);
  if (options.percentile !== undefined && options.method !== 'percentile') throw usage('--percentile applies to --method percentile only');
  if (options.opTypes?.length === 0) throw usage(`--op-types: no op type given; it knows ${INT8_OP_TYPES.join(', ')}`);
  for (const op of options.opTypes ?? []) {
    if (!INT8_OP_TYPES.includes(op)) throw usage(`--op-types: tdeploy does not quantize '${op}'; it knows ${INT8_OP_TYPES.join(', ')}`);
  }
}

function usage(message: string): InputError {
  return new InputError(message, { kind: 'usage' });
}
