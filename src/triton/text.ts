import { fromText, toText } from '@bufbuild/protobuf/txtpb';
import { InputError } from '../errors.js';
import { type ModelConfig, ModelConfigSchema } from './gen/model_config_pb.js';
import { readText } from '../io/read.js';

/**
 * config.pbtxt is protobuf text format over the project's own copy of Triton's schema, so a
 * field Triton does not know is an error here exactly as it is when Triton loads the model.
 */

export class ConfigSyntaxError extends InputError {
  /** the field name when the problem is a field the schema does not have */
  readonly field?: string;

  constructor(readonly file: string, readonly detail: string, readonly line?: number) {
    super(`${file}${line ? `:${line}` : ''}: ${detail}`, { kind: 'config-syntax' });
    this.field = /^unknown field "([^"]+)"/.exec(detail)?.[1];
  }
}

export function parseConfig(text: string, file = 'config.pbtxt'): ModelConfig {
  try {
    return fromText(ModelConfigSchema, text);
  } catch (error) {
    const detail = (error as Error).message.replace(/^cannot decode (field )?\S+ from text format: /, '');
    throw new ConfigSyntaxError(file, detail, lineOf(text, detail));
  }
}

/**
 * txtpb's messages carry no position; most name the offending token in quotes ('unknown field
 * "foo"'), so the first line where that token stands outside a comment is where to look.
 */
function lineOf(text: string, detail: string): number | undefined {
  const token = /"([^"]+)"/.exec(detail)?.[1];
  if (!token) return undefined;
  const lines = text.split('\n');
  const escaped = token.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`(^|[^\\w"])${escaped}($|[^\\w"])`);
  const at = lines.findIndex((line) => pattern.test(line.replace(/#.*$/, '')));
  return at >= 0 ? at + 1 : undefined;
}

export async function readConfig(file: string): Promise<ModelConfig> {
  const text = await readText(file, 'model config');
  return parseConfig(text, file);
}

/** The canonical text: one field per line, two-space indent, fields in schema order. */
export function configText(config: ModelConfig): string {
  return toText(ModelConfigSchema, config);
}
