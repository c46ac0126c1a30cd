import { create } from '@bufbuild/protobuf';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { InputError, fileError } from '../errors.js';
import type { ModelSignature } from '../onnx/signature.js';
import { readJson } from '../io/read.js';
import { dtypeInfo } from '../tensor/dtype.js';
import {
  type ModelConfig, type ModelInput, DataType, ModelConfigSchema, ModelEnsemblingSchema, ModelEnsembling_StepSchema,
  ModelInputSchema, ModelInstanceGroupSchema, ModelInstanceGroup_Kind, ModelOutputSchema, ModelParameterSchema,
} from './gen/model_config_pb.js';
import { opt } from '../option-ref.js';

/**
 * The text front of a model: a Python-backend step `<name>_tokenize` that runs a Hugging Face
 * tokenizer (templates/tokenizer/model.py) and emits exactly the model's integer inputs, and an
 * ensemble `<name>_pipeline` that takes `TEXT` and wires tokenizer -> model.
 */

export const TEXT_INPUT = 'TEXT';
export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_TEMPLATE = fileURLToPath(new URL('../../../templates/tokenizer/model.py', import.meta.url));

/** What a model input is fed from, by its name: the roles templates/tokenizer/model.py knows. */
const ROLES: { pattern: RegExp; role: string }[] = [
  { pattern: /^(input_?ids|token_?ids|ids|tokens)$/i, role: 'ids' },
  { pattern: /^(attention_?mask|input_?mask|mask)$/i, role: 'attention_mask' },
  { pattern: /^(token_?type_?ids|segment_?ids|type_?ids)$/i, role: 'type_ids' },
  { pattern: /^position_?ids$/i, role: 'positions' },
];

/** Token names tokenizers use for padding when tokenizer.json does not configure it. */
const PAD_TOKENS = ['[PAD]', '<pad>', '<|pad|>', '<PAD>'];

/** The part of a Hugging Face tokenizer.json that says how to pad and truncate. */
const TokenizerJson = z.object({
  model: z.object({
    type: z.string(),
    vocab: z.union([z.record(z.string(), z.number()), z.array(z.tuple([z.string(), z.number()]))]).optional(),
  }),
  added_tokens: z.array(z.object({ id: z.number(), content: z.string() })).default([]),
  padding: z.object({ pad_id: z.number().optional(), pad_type_id: z.number().optional(), pad_token: z.string().optional() }).nullish(),
  truncation: z.object({ max_length: z.number().optional() }).nullish(),
});

const TokenizerConfigJson = z.object({ model_max_length: z.number().optional() });

export interface TokenizerSource {
  dir: string;
  file: string;
  padId: number;
  padTypeId: number;
  /** the longest sequence the tokenizer is configured for, and where that came from */
  maxLength?: { value: number; from: string };
  notes: string[];
}

export async function readTokenizer(dir: string): Promise<TokenizerSource> {
  const file = path.join(dir, TOKENIZER_FILE);
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(dir);
  } catch (error) {
    throw fileError(dir, error, 'tokenizer folder');
  }
  if (!stat.isDirectory()) throw new InputError(`${opt('tokenizer', dir)} is not a folder`, { hint: 'give the Hugging Face tokenizer folder that holds tokenizer.json' });
  if (!fs.existsSync(file)) {
    throw new InputError(`${opt('tokenizer', dir)} has no ${TOKENIZER_FILE}`, {
      hint: "save it with the fast tokenizer: AutoTokenizer.from_pretrained(...).save_pretrained(dir) writes tokenizer.json",
    });
  }
  const json = TokenizerJson.safeParse(await readJson(file, 'tokenizer file'));
  if (!json.success) throw new InputError(`${file} is not a Hugging Face tokenizer (${json.error.issues[0].path.join('.')}: ${json.error.issues[0].message})`);
  const notes: string[] = [];
  return { dir, file, padId: padId(json.data, notes), padTypeId: json.data.padding?.pad_type_id ?? 0, maxLength: await maxLength(dir, json.data), notes };
}

function padId(json: z.infer<typeof TokenizerJson>, notes: string[]): number {
  if (json.padding?.pad_id !== undefined) return json.padding.pad_id;
  const vocab = json.model.vocab;
  const ids = new Map<string, number>(Array.isArray(vocab) ? vocab.map(([token], i) => [token, i]) : Object.entries(vocab ?? {}));
  for (const token of json.added_tokens) ids.set(token.content, token.id);
  const named = [json.padding?.pad_token, ...PAD_TOKENS].find((t) => t !== undefined && ids.has(t));
  if (named) return ids.get(named)!;
  notes.push('the tokenizer has no padding token: padding with id 0');
  return 0;
}

async function maxLength(dir: string, json: z.infer<typeof TokenizerJson>): Promise<TokenizerSource['maxLength']> {
  if (json.truncation?.max_length) return { value: json.truncation.max_length, from: 'tokenizer.json truncation' };
  const configFile = path.join(dir, 'tokenizer_config.json');
  if (!fs.existsSync(configFile)) return undefined;
  const config = TokenizerConfigJson.safeParse(await readJson(configFile));
  // transformers writes a huge sentinel (1e30) when the model sets no limit.
  const value = config.success ? config.data.model_max_length : undefined;
  return value !== undefined && value <= 1_000_000 ? { value, from: 'tokenizer_config.json model_max_length' } : undefined;
}

export interface TokenizerModels {
  tokenizer: ModelConfig;
  ensemble: ModelConfig;
  notes: string[];
}

/** The tokenizer step's and the ensemble's configs for a model whose config is `model`. */
export function tokenizerModels(model: ModelConfig, signature: ModelSignature, source: TokenizerSource, askedMaxLength?: number): TokenizerModels {
  const notes = [...source.notes];
  const roles = model.input.map((input) => ({ input, role: roleOf(input, signature) }));
  const clash = [...model.input, ...model.output].find((t) => t.name === TEXT_INPUT);
  if (clash) throw new InputError(`the model has a tensor named ${TEXT_INPUT}, the name the pipeline's text input takes`);
  const length = sequenceLength(signature, source, askedMaxLength, notes);
  const batched = model.maxBatchSize > 0;
  const text = create(ModelInputSchema, { name: TEXT_INPUT, dataType: DataType.TYPE_STRING, dims: [batched ? 1n : model.input[0].dims[0]] });
  const parameters = {
    tokenizer_file: TOKENIZER_FILE,
    padding: length.fixed ? 'max_length' : 'longest',
    max_length: length.value === undefined ? '' : String(length.value),
    pad_id: String(source.padId),
    pad_type_id: String(source.padTypeId),
    ...Object.fromEntries(roles.map(({ input, role }) => [`source.${input.name}`, role])),
  };
  const tokenizer = create(ModelConfigSchema, {
    name: `${model.name}_tokenize`,
    backend: 'python',
    maxBatchSize: model.maxBatchSize,
    input: [text],
    output: model.input.map((i) => create(ModelOutputSchema, { name: i.name, dataType: i.dataType, dims: i.dims })),
    instanceGroup: [create(ModelInstanceGroupSchema, { kind: ModelInstanceGroup_Kind.CPU, count: 1 })],
    parameters: Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, create(ModelParameterSchema, { stringValue: v })])),
  });
  const same = (names: string[]) => Object.fromEntries(names.map((n) => [n, n]));
  const inputNames = model.input.map((i) => i.name);
  const ensemble = create(ModelConfigSchema, {
    name: `${model.name}_pipeline`,
    platform: 'ensemble',
    maxBatchSize: model.maxBatchSize,
    input: [text],
    // The model's reshape is internal to it: its output reaches the ensemble at `dims`, and
    // Triton compares an ensemble output's reshape (not its dims) with the composing model's dims.
    output: model.output.map((o) => create(ModelOutputSchema, { name: o.name, dataType: o.dataType, dims: o.dims })),
    schedulingChoice: {
      case: 'ensembleScheduling',
      value: create(ModelEnsemblingSchema, {
        step: [
          create(ModelEnsembling_StepSchema, { modelName: tokenizer.name, modelVersion: -1n, inputMap: same([TEXT_INPUT]), outputMap: same(inputNames) }),
          create(ModelEnsembling_StepSchema, { modelName: model.name, modelVersion: -1n, inputMap: same(inputNames), outputMap: same(model.output.map((o) => o.name)) }),
        ],
      }),
    },
  });
  return { tokenizer, ensemble, notes };
}

function roleOf(input: ModelInput, signature: ModelSignature): string {
  const info = signature.inputs.find((t) => t.name === input.name)!;
  const role = ROLES.find((r) => r.pattern.test(input.name.replace(/:\d+$/, '')))?.role;
  if (!role) {
    throw new InputError(`${opt('tokenizer')}: cannot tell which tokenizer output feeds the model's input '${input.name}'`, {
      hint: 'the tokenizer step feeds inputs named input_ids, attention_mask, token_type_ids and position_ids',
    });
  }
  if (!['int', 'uint'].includes(dtypeInfo(info.dtype).kind)) throw new InputError(`${opt('tokenizer')}: input '${input.name}' is ${info.dtype}; token inputs are integers`);
  if (info.shape?.length !== 2) throw new InputError(`${opt('tokenizer')}: input '${input.name}' has shape [${info.shape?.join(', ') ?? '?'}]; token inputs are [batch, sequence]`);
  return role;
}

/**
 * A model with a fixed sequence length gets exactly that many tokens; otherwise the batch is
 * padded to its longest text and truncated where the user or the tokenizer says.
 */
function sequenceLength(signature: ModelSignature, source: TokenizerSource, asked: number | undefined, notes: string[]): { value?: number; fixed: boolean } {
  const fixed = [...new Set(signature.inputs.map((t) => t.shape?.[1]).filter((d): d is number => typeof d === 'number'))];
  if (fixed.length > 1) throw new InputError(`${opt('tokenizer')}: the model's token inputs disagree on the sequence length (${fixed.join(' vs ')})`);
  if (fixed.length === 1) {
    if (asked !== undefined && asked !== fixed[0]) throw new InputError(`${opt('maxLength', asked)}: the model takes exactly ${fixed[0]} tokens`);
    return { value: fixed[0], fixed: true };
  }
  if (asked !== undefined) return { value: asked, fixed: false };
  if (source.maxLength) {
    notes.push(`the tokenizer truncates to ${source.maxLength.value} tokens (${source.maxLength.from}; set it with ${opt('maxLength')})`);
    return { value: source.maxLength.value, fixed: false };
  }
  notes.push(`the tokenizer does not truncate: the model must take any length (set a limit with ${opt('maxLength')})`);
  return { fixed: false };
}
