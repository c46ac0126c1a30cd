import { InputError } from '../errors.js';
import { formatShape } from '../onnx/signature.js';
import { opt } from '../option-ref.js';
import type { TensorMap } from '../tensor/tensor.js';

/**
 * What onnxruntime's error text means, in one table: each row turns a message into a kind, a
 * sentence that says why the model cannot be run, and a hint. A model onnxruntime cannot load or
 * run is an input problem (exit 2), never an accuracy verdict.
 */
interface OrtErrorRule {
  pattern: RegExp;
  /** further condition on the match, for rows that share a pattern */
  when?: (m: RegExpMatchArray) => boolean;
  kind: string;
  reason: (m: RegExpMatchArray) => string;
  hint?: (m: RegExpMatchArray) => string;
}

/** ONNX Runtime dropped the kernels of operator versions before opset 7. */
const OLDEST_IMPLEMENTED_OPSET = 7;

const RULES: OrtErrorRule[] = [
  {
    pattern: /Could not find an implementation for (\w+)\((\d+)\)/,
    when: (m) => Number(m[2]) < OLDEST_IMPLEMENTED_OPSET,
    kind: 'unsupported-opset',
    reason: (m) => `the model uses ${m[1]} as defined in opset ${m[2]}, which ONNX Runtime no longer implements (it runs opset ${OLDEST_IMPLEMENTED_OPSET} and later)`,
    hint: () => `upgrade the model's opset (tdeploy check ${opt('upgradeOpset')} checks a copy upgraded to opset 7; onnx.version_converter.convert_version(model, 13) converts the file), or re-export it`,
  },
  {
    pattern: /Could not find an implementation for (\w+)\((\d+)\)/,
    kind: 'no-kernel',
    reason: (m) => `ONNX Runtime has no ${m[1]} (opset ${m[2]}) kernel for the input types this model gives it`,
    hint: () => 'check the element types feeding that op; casting them to a supported type (often float32) makes it run',
  },
  {
    pattern: /([\w.]*training[\w.]*):(\w+)\(-?\d+\) is not a registered function\/op/,
    kind: 'training-op',
    reason: (m) => `the model uses the training-only op ${m[2]} (domain ${m[1]}), which onnxruntime-node's inference build does not have`,
    hint: () => 'export the model for inference, without gradient or optimizer nodes',
  },
  {
    pattern: /([\w.]*):(\w+)\(-?\d+\) is not a registered function\/op/,
    kind: 'unknown-op',
    reason: (m) => `ONNX Runtime does not know the op ${m[2]}${m[1] ? ` of domain ${m[1]}` : ''}`,
    hint: () => 'the op may need a custom-op library or a newer onnxruntime; or re-export the model without it',
  },
  {
    pattern: /Failed to construct locale with name:\s*([\w.@-]+)/,
    kind: 'missing-locale',
    reason: (m) => `the model's StringNormalizer needs the ${m[1]} locale, which this machine does not have`,
    hint: (m) => `install and generate it (Debian/Ubuntu: apt-get install locales && locale-gen ${m[1]}), then run again`,
  },
  {
    pattern: /Unsupported model IR version: (\d+), max supported IR version: (\d+)/,
    kind: 'ir-version',
    reason: (m) => `the model's IR version ${m[1]} is newer than this onnxruntime supports (${m[2]})`,
    hint: () => 'save the model with an older IR version, or use a newer onnxruntime-node',
  },
  {
    pattern: /Opset (\d+) is under development.*?support for domain ([\w.]+) is till opset (\d+)/s,
    kind: 'opset-too-new',
    reason: (m) => `the model's opset ${m[1]} of ${m[2]} is newer than this onnxruntime supports (up to ${m[3]})`,
    hint: (m) => `export with opset ${m[3]} or lower, or use a newer onnxruntime-node`,
  },
  {
    pattern: /Protobuf parsing failed/,
    kind: 'invalid-model',
    reason: () => 'the file is not a valid ONNX model (protobuf parsing failed)',
  },
  {
    pattern: /External data path does not exist: "?([^"\n]+)"?/,
    kind: 'external-data',
    reason: (m) => `its external-data file ${m[1]} does not exist`,
    hint: () => 'keep the external-data files beside the model, under the names the model records',
  },
  {
    pattern: /Non tensor type is temporarily not supported/,
    kind: 'unsupported-type',
    reason: () => 'one of its outputs is a sequence or a map, which onnxruntime-node cannot return to JavaScript',
    hint: () => 'expose the values as tensor outputs (e.g. ConcatFromSequence, SequenceAt) to check them',
  },
  {
    pattern: /\[ShapeInferenceError\][^\n]*|Type Error:[^\n]*/,
    kind: 'invalid-graph',
    reason: (m) => `the graph does not type-check: ${m[0].trim()}`,
  },
];

/** The error text onnxruntime gave, first meaningful line. */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n').find((l) => l.trim())?.trim() ?? text;
}

/**
 * The InputError for an onnxruntime failure on `modelPath` while loading it (`load`) or running it
 * (`run`): classified when a rule knows the text, else onnxruntime's own first line. A run names
 * the shapes it was fed: onnxruntime's broadcast and reshape errors name none.
 */
export function ortError(stage: 'load' | 'run', modelPath: string, error: unknown, feeds?: TensorMap): InputError {
  const text = error instanceof Error ? error.message : String(error);
  const shapes = feeds && [...feeds].map(([name, t]) => `${name} ${formatShape(t.shape)}`).join(', ');
  const doing = stage === 'load' ? 'cannot load' : 'failed to run';
  const on = shapes ? ` on inputs ${shapes}` : '';
  const shapeHint = shapes ? `set the input shapes with ${opt('dims')} or ${opt('shapes')} (generated inputs take 1 for a leading symbolic dim, 16 for others), or give inputs that fit the model` : undefined;
  for (const rule of RULES) {
    const m = rule.pattern.exec(text);
    if (!m || (rule.when && !rule.when(m))) continue;
    return new InputError(`onnxruntime ${doing} ${modelPath}${on}: ${rule.reason(m)}`, { kind: rule.kind, hint: rule.hint?.(m) ?? shapeHint, cause: error });
  }
  return new InputError(`onnxruntime ${doing} ${modelPath}${on}: ${firstLine(error)}`, { kind: `ort-${stage}`, hint: shapeHint, cause: error });
}
