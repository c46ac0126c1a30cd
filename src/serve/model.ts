/**
 * What the server says about a model: its metadata (`GET /v2/models/{name}`) and, where the
 * server has the model configuration extension, its config (`max_batch_size`), turned into the
 * TensorInfo the input generator takes. The protocol has no names for dims: the batch axis (the
 * first, when the model batches) is `batch`, every other variable axis `dim<axis>`, so
 * `dims: dim1=128` sets the sequence length of every [batch, seq] input at once; `ioFrom` takes
 * the names of the ONNX model the served one was made from instead.
 */
import { InputError, ToolError } from '../errors.js';
import type { Dim, TensorInfo } from '../onnx/signature.js';
import { opt } from '../option-ref.js';
import { type HttpClient, statusError } from './client.js';
import { dtypeOfWire } from './protocol.js';

export interface ServedModel {
  name: string;
  /** the version requests go to; undefined: the server's choice (the latest ready) */
  version?: string;
  platform: string;
  inputs: TensorInfo[];
  outputs: string[];
  /** 0: the model does not batch and shapes are whole */
  maxBatchSize: number;
  /** the config as the server returned it (JSON), when it has the configuration extension */
  config?: Record<string, unknown>;
  notes: string[];
}

interface MetadataTensor {
  name: string;
  datatype: string;
  shape: (number | string)[];
}

interface Metadata {
  name?: string;
  versions?: string[];
  platform?: string;
  inputs?: MetadataTensor[];
  outputs?: MetadataTensor[];
}

export function modelPath(name: string, version?: string): string {
  return `/v2/models/${encodeURIComponent(name)}${version ? `/versions/${encodeURIComponent(version)}` : ''}`;
}

/** Triton answers an unknown model with 400 or 404 and "unknown model" / "not found" in its message. */
const UNKNOWN_MODEL = /unknown model|not found|no such model/i;

export async function describeModel(client: HttpClient, name: string, version?: string): Promise<ServedModel> {
  const path = modelPath(name, version);
  const answer = await client.send('GET', path);
  if (answer.status === 404 || (answer.status === 400 && UNKNOWN_MODEL.test(answer.body.toString('utf8')))) {
    const index = await repositoryIndex(client);
    const entry = index.find((m) => m.name === name);
    if (entry) throw notReady(client, name, entry.reason ?? entry.state);
    const known = [...new Set(index.map((m) => m.name))];
    throw new InputError(`the server at ${client.base.origin} has no model '${name}'${version ? ` version ${version}` : ''}`, {
      kind: 'model', hint: known.length ? `it has ${known.slice(0, 8).join(', ')}${known.length > 8 ? ', …' : ''}` : 'check the name with GET /v2/repository/index',
    });
  }
  if (answer.status >= 400) throw statusError('GET', path, answer);
  const meta = parseJson<Metadata>(answer.body, `GET ${path}`);
  const ready = await client.send('GET', `${path}/ready`);
  if (ready.status !== 200) throw notReady(client, name);
  const notes: string[] = [];
  const configAnswer = await client.send('GET', `${path}/config`);
  const config = configAnswer.status === 200 ? parseJson<Record<string, unknown>>(configAnswer.body, `GET ${path}/config`) : undefined;
  const maxBatchSize = config ? Number(config.max_batch_size ?? 0) : 0;
  if (!config) notes.push(`the server has no model configuration extension (GET ${path}/config answered ${configAnswer.status}): the model is taken not to batch`);
  if (!meta.inputs?.length) throw new ToolError(`the server's metadata for model '${name}' lists no inputs`, { kind: 'server' });
  const inputs = meta.inputs.map((t) => tensorInfo(t, maxBatchSize > 0, name));
  return { name, version, platform: meta.platform ?? 'unknown', inputs, outputs: (meta.outputs ?? []).map((o) => o.name), maxBatchSize, config, notes };
}

function tensorInfo(t: MetadataTensor, batched: boolean, model: string): TensorInfo {
  const dtype = dtypeOfWire(t.datatype);
  if (!dtype) throw new ToolError(`model '${model}' input '${t.name}' has datatype ${t.datatype}, which is not in the KServe v2 protocol`, { kind: 'server' });
  const shape: Dim[] = t.shape.map((raw, axis) => {
    const d = Number(raw);
    if (d >= 0) return d;
    return batched && axis === 0 ? 'batch' : `dim${axis}`;
  });
  return { name: t.name, dtype, shape };
}

/**
 * The served inputs named as in the ONNX model they came from: same names and dtypes required,
 * the model's symbolic dims where the server has a variable one.
 */
export function namedFrom(served: TensorInfo[], onnx: TensorInfo[], source: string): TensorInfo[] {
  return served.map((s) => {
    const o = onnx.find((i) => i.name === s.name);
    if (!o) throw new InputError(`${opt('ioFrom', source)} has no input '${s.name}', which the served model takes`, { hint: `its inputs are ${onnx.map((i) => i.name).join(', ')}` });
    if (o.dtype !== s.dtype) throw new InputError(`input '${s.name}' is ${s.dtype} on the server but ${o.dtype} in ${source}`);
    if (!o.shape || o.shape.length !== s.shape!.length) return s;
    return { ...s, shape: s.shape!.map((d, axis) => (typeof d === 'string' && typeof o.shape![axis] === 'string' ? o.shape![axis] : d)) };
  });
}

function notReady(client: HttpClient, name: string, why?: string): ToolError {
  return new ToolError(`model '${name}' is not ready on the server at ${client.base.origin}${why ? ` (${why})` : ''}`, {
    kind: 'not-ready', hint: 'load it (POST /v2/repository/models/<name>/load) or look at the server log for why it failed to load',
  });
}

interface IndexEntry {
  name: string;
  state?: string;
  reason?: string;
}

/** The repository extension's index; empty where the server has none. */
async function repositoryIndex(client: HttpClient): Promise<IndexEntry[]> {
  try {
    const index = await client.json<IndexEntry[]>('POST', '/v2/repository/index', {});
    return Array.isArray(index) ? index : [];
  } catch {
    return [];
  }
}

function parseJson<T>(body: Buffer, what: string): T {
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch {
    throw new ToolError(`${what}: the server's answer is not JSON`, { kind: 'server' });
  }
}
