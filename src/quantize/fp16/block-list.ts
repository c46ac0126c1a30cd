import type { NodeProto } from '../../onnx/gen/onnx_pb.js';
import { nodeLabel } from '../graph.js';
import { opt } from '../../option-ref.js';

/**
 * Ops that stay float32 in an FP16 model unless the user says otherwise, each with the reason
 * the report gives. Ops ONNX Runtime's CPU provider simply lacks a float16 kernel for are not
 * listed: ORT inserts the casts for those itself (at a speed cost that `bench` shows). Listed are
 * ops whose numbers suffer in float16, whose element type comes from an attribute, and domains
 * this converter does not know. If/Loop/Scan are not blocked: their bodies are converted inside
 * float32 edges (convert.ts).
 */
const reasons = {
  accumulates: 'accumulates along an axis; float16 loses the running total',
  typed: 'element type set by an attribute, not by its inputs',
  geometry: 'box and coordinate arithmetic needs float32',
  sequence: 'sequence values keep their element type',
};

export const DEFAULT_BLOCKED_OPS: Record<string, string> = {
  Range: reasons.accumulates,
  CumSum: reasons.accumulates,
  RandomNormal: reasons.typed,
  RandomUniform: reasons.typed,
  RandomNormalLike: reasons.typed,
  RandomUniformLike: reasons.typed,
  Bernoulli: reasons.typed,
  Multinomial: reasons.typed,
  EyeLike: reasons.typed,
  TfIdfVectorizer: reasons.typed,
  HannWindow: reasons.typed,
  HammingWindow: reasons.typed,
  BlackmanWindow: reasons.typed,
  MelWeightMatrix: reasons.typed,
  Resize: reasons.geometry,
  Upsample: reasons.geometry,
  RoiAlign: reasons.geometry,
  NonMaxSuppression: reasons.geometry,
  GridSample: reasons.geometry,
  SequenceConstruct: reasons.sequence,
  SequenceInsert: reasons.sequence,
  SequenceAt: reasons.sequence,
  SplitToSequence: reasons.sequence,
  ConcatFromSequence: reasons.sequence,
};

/** Domains whose ops are converted; anything else (ai.onnx.ml, custom ops) stays float32. */
const CONVERTED_DOMAINS = new Set(['', 'ai.onnx', 'com.microsoft']);

export interface BlockRules {
  /** op types blocked on top of the defaults */
  ops: string[];
  /** node names blocked */
  nodes: string[];
  /** nodes (by nodeLabel) blocked by the overflow search on data, with the reason found */
  auto: Map<string, string>;
}

/** Why a node stays float32, or undefined when it converts. */
export function blockReason(node: NodeProto, rules: BlockRules): string | undefined {
  if (rules.nodes.includes(node.name)) return `named by ${opt('blockNodes')}`;
  if (rules.ops.includes(node.opType)) return `op type named by ${opt('blockOps')}`;
  const auto = rules.auto.get(nodeLabel(node));
  if (auto) return auto;
  if (!CONVERTED_DOMAINS.has(node.domain)) return `op of domain ${node.domain}`;
  return DEFAULT_BLOCKED_OPS[node.opType];
}
