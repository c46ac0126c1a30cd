/**
 * The default accuracy gate of each precision, one table for check, quantize's drift and run.
 * Half and 8-bit models are judged on cosine similarity, which follows the output's scale; a
 * float16 element may also differ by 1% of its output's range (plus float16's relative error),
 * not by a fixed amount that is loose for small outputs and strict for large ones. An INT8
 * element error is reported, not judged: rounding to 256 levels moves single elements by a
 * large share of the range while the output as a whole stays close.
 */
import { z } from 'zod';
import type { ModelProto } from '../onnx/gen/onnx_pb.js';
import { type Precision, modelPrecision } from '../quantize/precision.js';
import { formatTolerance } from '../report/format.js';
import { type Atol, type GateOptions, DEFAULT_GATE } from './compare.js';

export const DEFAULT_GATES: Record<Precision, GateOptions> = {
  fp32: { atol: DEFAULT_GATE.atol, rtol: DEFAULT_GATE.rtol },
  fp16: { atol: { ofRange: 0.01 }, rtol: 1e-2, minCosine: 0.999 },
  int8: { atol: Infinity, rtol: 0, minCosine: 0.99 },
};

/** The default gate for a model, by the precision its graph computes in. */
export function defaultGate(proto: ModelProto): { precision: Precision; gate: GateOptions } {
  const precision = modelPrecision(proto);
  return { precision, gate: DEFAULT_GATES[precision] };
}

const ATOL_TEXT = /^(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?%?$/;

/**
 * An absolute tolerance as people write it: a number, or a share of each output's range (`1%`).
 * Kept as written (a transform here would drop the defaults around it from the JSON Schema);
 * `toAtol` reads it.
 */
const ATOL_EXPECTED = "expected a number >= 0, or a share of the output's range such as 1%";
export const AtolSchema = z.union([z.number().nonnegative(ATOL_EXPECTED), z.string().trim().regex(ATOL_TEXT, ATOL_EXPECTED)], { error: ATOL_EXPECTED });

export function toAtol(written: z.infer<typeof AtolSchema>): Atol {
  if (typeof written === 'number') return written;
  return written.endsWith('%') ? { ofRange: Number(written.slice(0, -1)) / 100 } : Number(written);
}

export function formatAtol(atol: Atol): string {
  return typeof atol === 'number' ? formatTolerance(atol) : `${+(atol.ofRange * 100).toPrecision(6)}% of the output's range`;
}

/** A gate in a few words: `cosine >= 0.99`, `atol 1% of the output's range, rtol 0.01, cosine >= 0.999`. */
export function describeGate(gate: GateOptions): string {
  const parts = gate.atol === Infinity ? [] : [`atol ${formatAtol(gate.atol)}, rtol ${formatTolerance(gate.rtol)}`];
  if (gate.minCosine !== undefined) parts.push(`cosine >= ${gate.minCosine}`);
  if (gate.minTop1 !== undefined) parts.push(`top-1 agreement >= ${gate.minTop1}`);
  return parts.join(', ') || 'no tolerance';
}
