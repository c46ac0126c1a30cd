import type { CheckReport } from '../accuracy/check.js';
import type { SpeedReport } from './speed.js';
import type { Int8Mode, Int8Target } from './targets.js';

/** A node of a convertible kind that stayed in float32, and why. */
export interface BlockedNode {
  node: string;
  op: string;
  reason: string;
}

/** What `quantize` did: its JSON document, and what the table shows. */
export interface QuantizeReport {
  output: string;
  to: 'fp16' | 'int8';
  mode: Int8Mode | null;
  /** int8: what the model was quantized for */
  target: Int8Target | null;
  /** bytes of the model and its external data, before and after */
  sizeBefore: number;
  sizeAfter: number;
  nodesConverted: number;
  blockedNodes: BlockedNode[];
  /** float values changed to fit float16 (FP16 only) */
  clamped: number;
  /** float32 weight elements of the source (initializers and Constant values, every graph) and how many the conversion changed */
  weights: { float32: number; converted: number };
  /** INT8: how many nodes of each fused op were made before quantizing (empty when nothing was fused) */
  fused: Record<string, number>;
  /** the new model against the original, on the given inputs, the calibration data or generated inputs */
  drift: CheckReport;
  /** the new model's speed against the original's, measured side by side on the first input set */
  speed: SpeedReport;
  /** choices made and defaults taken, for the report */
  notes: string[];
  /** with `fallback: true`: the nodes the search kept in float32 */
  fallback?: FallbackReport;
}

export interface FallbackReport {
  /** in the order they were kept; cosine: the worst output cosine with the nodes kept up to this one */
  kept: { node: string; op: string; cosine: number }[];
  /** quantized models measured (the plain one included) */
  attempts: number;
  seconds: number;
  /** whether the final model meets the drift gate */
  met: boolean;
  /** the bound on kept nodes (`fallbackMax`) */
  max: number;
}
