/**
 * What `tdeploy package` can be asked for, validated with zod. The same schema takes the CLI's
 * raw strings ("4,8", "latest:2") and typed values from a config file or a library caller.
 */
import { z } from 'zod';

/** Triton model names: the folder name in the repository, so nothing that could leave it. */
export const SAFE_NAME = /^[A-Za-z0-9_.-]+$/;

export function isSafeName(name: string): boolean {
  return SAFE_NAME.test(name) && name !== '.' && name !== '..';
}

const WHOLE = 'expected a whole number';
// Coercion turns text that is not a number into NaN, which zod words as a type error.
const count = z.coerce.number({ error: (issue) => (issue.code === 'invalid_type' ? WHOLE : undefined) }).int(WHOLE);
const REPOSITORY = 'the repository folder is required (-o <repo>)';

/** "4,8" or [4, 8]. */
const commaList = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((s) => Number(s.trim())) : v),
  z.array(count.positive('batch sizes must be at least 1')).min(1),
);

export type VersionPolicy = { latest: number } | { all: true } | { specific: number[] };

/** `latest:N`, `all` or `specific:1,3`: one row per form. */
const VERSION_POLICIES: { pattern: RegExp; build: (m: RegExpExecArray) => VersionPolicy }[] = [
  { pattern: /^latest:([1-9]\d*)$/, build: (m) => ({ latest: Number(m[1]) }) },
  { pattern: /^all$/, build: () => ({ all: true }) },
  { pattern: /^specific:([1-9]\d*(?:,[1-9]\d*)*)$/, build: (m) => ({ specific: m[1].split(',').map(Number) }) },
];

const versionPolicy = z.string().transform((text, ctx): VersionPolicy => {
  for (const { pattern, build } of VERSION_POLICIES) {
    const m = pattern.exec(text.trim());
    if (m) return build(m);
  }
  ctx.addIssue({ code: 'custom', message: `'${text}' is not latest:N, all or specific:1,3` });
  return z.NEVER;
});

const shapeSpec = z.object({
  shapes: z.record(z.string(), z.array(z.number().int().positive())),
  dims: z.record(z.string(), z.array(z.number().int().positive()).length(1)),
});

/** How the model is served: everything that ends up in its config.pbtxt besides its tensors. */
export const ServingOptions = z.object({
  /** undefined: Triton's default of 4 when the model can batch (raised to the largest preferred size), else 0 */
  maxBatchSize: count.nonnegative().optional()
    .describe('0 = no batching; N > 0 needs a dynamic leading dim on every tensor (default: 4 when the model can batch, else 0)'),
  dynamicBatching: z.boolean().default(false).describe("turn on Triton's dynamic batcher"),
  preferredBatchSize: commaList.optional().describe('preferred batch sizes for the dynamic batcher'),
  maxQueueDelayUs: count.nonnegative().optional().describe('how long the dynamic batcher may hold a request, in microseconds'),
  instances: count.positive().optional().describe('model instances per device'),
  kind: z.enum(['gpu', 'cpu', 'auto']).optional().describe('where instances run'),
  trtAccelerator: z.enum(['fp16', 'fp32']).optional().describe("ONNX Runtime's TensorRT execution accelerator, at this precision"),
  warmupBatch: count.positive().optional().describe('warm the model up with one request of this batch size when it loads'),
  /** fixes symbolic dims for the warm-up request (one value each) */
  shapes: shapeSpec.default({ shapes: {}, dims: {} }),
  versionPolicy: versionPolicy.optional().describe('which versions Triton serves: latest:N, all or specific:1,3'),
  labelFile: z.string().min(1).optional().describe('labels for a classifier output, one per line: FILE, or OUTPUT=FILE when several outputs could be one'),
});

export type ServingOptions = z.infer<typeof ServingOptions>;

export const PackageOptions = ServingOptions.extend({
  output: z.string({ error: REPOSITORY }).min(1, REPOSITORY),
  name: z.string().refine(isSafeName, { message: 'model names may use only letters, digits, _ . - and may not be . or ..' }).optional(),
  modelVersion: z.union([z.literal('next'), count.positive()], { error: "expected a version number (1 or more) or 'next'" }).default(1),
  force: z.boolean().default(false),
  /** where a TensorRT engine's inputs and outputs come from: the ONNX model it was built from */
  ioFrom: z.string().min(1).optional(),
  /** a Hugging Face tokenizer folder (with tokenizer.json): adds a tokenizer step and an ensemble */
  tokenizer: z.string().min(1).optional(),
  /** the tokenizer truncates to this many tokens when the model's sequence length is not fixed */
  maxLength: count.positive().optional(),
  /** the tritonserver release (YY.MM) the models must load in; default: the newest in tdeploy's table */
  triton: z.string().min(1).optional(),
  /** write the ONNX model with this (lower) IR version, when nothing in it needs a newer one */
  irVersion: count.positive().optional(),
});

export type PackageOptions = z.infer<typeof PackageOptions>;
export type PackageOptionsInput = z.input<typeof PackageOptions>;
