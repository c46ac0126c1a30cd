/**
 * Model configs as JSON, the form Triton's configuration extension returns (`GET
 * /v2/models/{name}/config`) and its repository extension takes (`"parameters": {"config": …}` on
 * a load request): protobuf's JSON mapping with the schema's field names, 64-bit integers written
 * as numbers the way Triton writes them rather than as protobuf's strings.
 */
import { fromJson, toJson } from '@bufbuild/protobuf';
import { type ModelConfig, ModelConfigSchema } from '../triton/gen/model_config_pb.js';

const INT64_KEYS = new Set(['dims', 'shape', 'max_queue_delay_microseconds', 'default_timeout_microseconds', 'max_priority_level', 'default_priority_level']);

function numbers(value: unknown, key = ''): unknown {
  if (typeof value === 'string' && INT64_KEYS.has(key) && /^-?\d+$/.test(value)) return Number(value);
  if (Array.isArray(value)) return value.map((v) => numbers(v, key));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, numbers(v, k)]));
  return value;
}

export function configToJson(config: ModelConfig): Record<string, unknown> {
  return numbers(toJson(ModelConfigSchema, config, { useProtoFieldName: true })) as Record<string, unknown>;
}

/** A config from its JSON form; throws protobuf's own error for a field the schema does not know. */
export function configFromJson(json: unknown): ModelConfig {
  return fromJson(ModelConfigSchema, json as Parameters<typeof fromJson>[1]);
}
