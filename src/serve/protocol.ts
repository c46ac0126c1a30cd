/**
 * The KServe v2 inference protocol's tensors as bytes on the wire: the request and response bodies
 * in JSON, and with Triton's binary tensor extension (a JSON header of
 * `Inference-Header-Content-Length` bytes followed by each binary tensor's raw bytes, in the order
 * the header lists them). BYTES elements travel as a 4-byte little-endian length and the bytes.
 */
import { InputError } from '../errors.js';
import { type Dtype, DTYPES, dtypeInfo } from '../tensor/dtype.js';
import { type Tensor, elementCount, fromBytes, toBytes, zeros } from '../tensor/tensor.js';

export const HEADER_LENGTH = 'inference-header-content-length';

/** The protocol's datatype of a dtype: Triton's TYPE_* without the prefix, STRING called BYTES. */
export function wireType(dtype: Dtype): string | undefined {
  const triton = dtypeInfo(dtype).triton;
  return triton === undefined ? undefined : triton === 'TYPE_STRING' ? 'BYTES' : triton.slice('TYPE_'.length);
}

const byWire = new Map(DTYPES.flatMap((d) => (wireType(d) ? [[wireType(d)!, d] as const] : [])));

export function dtypeOfWire(datatype: string): Dtype | undefined {
  return byWire.get(datatype);
}

/** One tensor in a request or response header. */
export interface WireTensor {
  name: string;
  datatype: string;
  shape: number[];
  parameters?: Record<string, unknown>;
  data?: unknown[];
}

export interface InferRequestHeader {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: WireTensor[];
  outputs?: { name: string; parameters?: Record<string, unknown> }[];
}

/** A ready-to-send request body and the headers that go with it. */
export interface EncodedRequest {
  body: Buffer;
  headers: Record<string, string>;
}

/** The bytes of a BYTES tensor: each element as a uint32 length and its UTF-8 bytes. */
export function encodeStrings(values: readonly string[]): Buffer {
  const parts = values.map((v) => Buffer.from(v, 'utf8'));
  const out = Buffer.alloc(parts.reduce((n, p) => n + 4 + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.writeUInt32LE(p.length, at);
    p.copy(out, at + 4);
    at += 4 + p.length;
  }
  return out;
}

export function decodeStrings(bytes: Uint8Array, count: number): string[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: string[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 4 > buf.length) throw new Error(`BYTES tensor ends after ${i} of ${count} elements`);
    const n = buf.readUInt32LE(at);
    if (at + 4 + n > buf.length) throw new Error(`BYTES element ${i} claims ${n} bytes, past the end of the tensor`);
    out.push(buf.toString('utf8', at + 4, at + 4 + n));
    at += 4 + n;
  }
  if (at !== buf.length) throw new Error(`BYTES tensor has ${buf.length - at} bytes after its ${count} elements`);
  return out;
}

export function tensorBytes(tensor: Tensor): Buffer {
  if (tensor.dtype === 'string') return encodeStrings(tensor.data as string[]);
  const bytes = toBytes(tensor);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function requireWireType(tensor: Tensor, name: string): string {
  const datatype = wireType(tensor.dtype);
  if (!datatype) throw new InputError(`input '${name}' is ${tensor.dtype}, which the KServe v2 protocol has no datatype for`);
  return datatype;
}

/** JSON has no form for fp16/bf16 bits, and bigints are not JSON numbers. */
function jsonData(tensor: Tensor, name: string): unknown[] {
  if (tensor.dtype === 'float16' || tensor.dtype === 'bfloat16') {
    throw new InputError(`input '${name}' is ${tensor.dtype}, which KServe v2 carries only as binary data`, { hint: 'leave out `jsonTensors`' });
  }
  const data = tensor.data as ArrayLike<unknown>;
  const out = new Array<unknown>(data.length);
  for (let i = 0; i < data.length; i++) out[i] = typeof data[i] === 'bigint' ? Number(data[i]) : tensor.dtype === 'bool' ? data[i] !== 0 : data[i];
  return out;
}

/**
 * An infer request for the given inputs. Binary: every input as raw bytes after the header and
 * every output asked for as binary data; JSON: `data` arrays and JSON outputs.
 */
export function encodeRequest(inputs: Map<string, Tensor>, outputs: string[], binary: boolean): EncodedRequest {
  const header: InferRequestHeader = { inputs: [] };
  const chunks: Buffer[] = [];
  for (const [name, tensor] of inputs) {
    const datatype = requireWireType(tensor, name);
    if (binary) {
      const bytes = tensorBytes(tensor);
      chunks.push(bytes);
      header.inputs.push({ name, datatype, shape: tensor.shape, parameters: { binary_data_size: bytes.length } });
    } else {
      header.inputs.push({ name, datatype, shape: tensor.shape, data: jsonData(tensor, name) });
    }
  }
  header.outputs = outputs.map((name) => ({ name, parameters: { binary_data: binary } }));
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  if (!binary) return { body: json, headers: { 'content-type': 'application/json' } };
  return {
    body: Buffer.concat([json, ...chunks]),
    headers: { 'content-type': 'application/octet-stream', [HEADER_LENGTH]: String(json.length) },
  };
}

/**
 * Splits a body into its JSON header and the binary tensors that follow, as described by each
 * tensor's `binary_data_size`. Throws a plain Error naming what does not add up.
 */
export function splitBody<H extends { inputs?: { name: string; parameters?: Record<string, unknown> }[]; outputs?: { name: string; parameters?: Record<string, unknown> }[] }>(
  body: Buffer, headerLength: string | undefined, list: 'inputs' | 'outputs',
): { header: H; binary: Map<string, Buffer> } {
  const jsonLength = headerLength === undefined ? body.length : Number(headerLength);
  if (!Number.isSafeInteger(jsonLength) || jsonLength < 0 || jsonLength > body.length) {
    throw new Error(`Inference-Header-Content-Length ${headerLength} does not fit a body of ${body.length} bytes`);
  }
  const header = JSON.parse(body.toString('utf8', 0, jsonLength)) as H;
  const binary = new Map<string, Buffer>();
  let at = jsonLength;
  for (const t of header[list] ?? []) {
    const size = t.parameters?.binary_data_size;
    if (size === undefined) continue;
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || at + size > body.length) {
      throw new Error(`'${t.name}' has binary_data_size ${String(size)} but ${body.length - at} bytes are left`);
    }
    binary.set(t.name, body.subarray(at, at + size));
    at += size;
  }
  if (at !== body.length) throw new Error(`${body.length - at} bytes follow the last binary tensor`);
  return { header, binary };
}

/** A tensor from its header and, for binary data, its bytes; a plain Error says what is wrong. */
export function decodeTensor(t: WireTensor, bytes: Buffer | undefined): Tensor {
  const dtype = dtypeOfWire(t.datatype);
  if (!dtype) throw new Error(`'${t.name}' has unknown datatype ${t.datatype}`);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`'${t.name}' has no valid shape`);
  const count = elementCount(t.shape);
  if (bytes) {
    if (dtype === 'string') return { dtype, shape: t.shape, data: decodeStrings(bytes, count) };
    return fromBytes(dtype, t.shape, new Uint8Array(bytes));
  }
  const flat = (t.data ?? []).flat(Infinity as 1) as unknown[];
  if (flat.length !== count) throw new Error(`'${t.name}' has ${flat.length} values for shape [${t.shape.join(', ')}]`);
  const tensor = zeros(dtype, t.shape);
  const out = tensor.data as unknown as unknown[];
  const big = dtypeInfo(dtype).array.startsWith('Big');
  for (let i = 0; i < count; i++) {
    const v = flat[i];
    out[i] = dtype === 'string' ? String(v) : big ? BigInt(v as number) : typeof v === 'boolean' ? Number(v) : v;
  }
  return tensor;
}
