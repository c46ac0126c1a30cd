import { InputError } from '../errors.js';
import { type Dtype, DTYPES, dtypeInfo } from './dtype.js';
import { type Tensor, elementCount, fromBytes, toBytes, zeros } from './tensor.js';

/**
 * NumPy's .npy format (versions 1–3): a magic string, a Python-literal header
 * {'descr', 'fortran_order', 'shape'}, then the raw values.
 */
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const byDescr = new Map<string, Dtype>(
  DTYPES.flatMap((d) => {
    const npy = dtypeInfo(d).npy;
    return npy ? [[npy.slice(1), d] as [string, Dtype]] : [];
  }),
);

interface Header {
  descr: string;
  fortran: boolean;
  shape: number[];
}

function parseHeader(text: string, where: string): Header {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1];
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shape === undefined) {
    throw new InputError(`${where}: not a valid .npy header`);
  }
  const dims = shape.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new InputError(`${where}: bad shape (${shape}) in .npy header`);
  return { descr, fortran: fortran === 'True', shape: dims };
}

/** Parses a whole .npy file held in memory. `where` names it in errors. */
export function parseNpy(bytes: Uint8Array, where: string): Tensor {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new InputError(`${where}: not a .npy array (bad magic)`);
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerStart = major === 1 ? 10 : 12;
  if (![1, 2, 3].includes(major) || bytes.length < headerStart) throw new InputError(`${where}: unsupported .npy version ${major}`);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) throw new InputError(`${where}: truncated .npy header`);
  const header = parseHeader(new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart)), where);
  const payload = bytes.subarray(dataStart);
  const tensor = decodePayload(header, payload, where);
  return header.fortran && tensor.shape.length > 1 ? fortranToC(tensor) : tensor;
}

function decodePayload({ descr, shape }: Header, payload: Uint8Array, where: string): Tensor {
  const count = elementCount(shape);
  const order = descr[0];
  const base = descr.slice(1);
  const text = /^([US])(\d+)$/.exec(base);
  if (text) return decodeStrings(text[1] as 'U' | 'S', Number(text[2]), shape, payload, where);
  if (base === 'O') throw new InputError(`${where}: object arrays (pickled Python objects) are not supported; save with a numeric or string dtype`);
  const dtype = byDescr.get(base);
  if (!dtype) throw new InputError(`${where}: unsupported .npy dtype '${descr}'`);
  const size = (dtypeInfo(dtype).bits / 8) * count;
  if (payload.length < size) throw new InputError(`${where}: truncated .npy data (${payload.length} of ${size} bytes)`);
  let bytes = payload.subarray(0, size);
  const width = dtypeInfo(dtype).bits / 8 / dtypeInfo(dtype).lanes;
  if (order === '>' && width > 1) bytes = swapBytes(bytes, width);
  return fromBytes(dtype, shape, bytes);
}

function decodeStrings(kind: 'U' | 'S', width: number, shape: number[], payload: Uint8Array, where: string): Tensor {
  const count = elementCount(shape);
  const unit = kind === 'U' ? 4 : 1;
  if (payload.length < count * width * unit) throw new InputError(`${where}: truncated .npy string data`);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const data: string[] = [];
  for (let i = 0; i < count; i++) {
    const start = i * width * unit;
    if (kind === 'S') {
      let end = start + width;
      while (end > start && payload[end - 1] === 0) end--;
      data.push(new TextDecoder().decode(payload.subarray(start, end)));
    } else {
      let text = '';
      for (let j = 0; j < width; j++) {
        const cp = view.getUint32(start + j * 4, true);
        if (cp === 0) break;
        if (cp > 0x10ffff) throw new InputError(`${where}: string ${i} holds ${cp}, which is not a Unicode code point`);
        text += String.fromCodePoint(cp);
      }
      data.push(text);
    }
  }
  return { dtype: 'string', shape, data };
}

function swapBytes(bytes: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += width) for (let j = 0; j < width; j++) out[i + j] = bytes[i + width - 1 - j];
  return out;
}

function fortranToC(tensor: Tensor): Tensor {
  const { shape } = tensor;
  const lanes = dtypeInfo(tensor.dtype).lanes;
  const src = tensor.data as ArrayLike<unknown>;
  const n = elementCount(shape);
  const out = zeros(tensor.dtype, shape);
  const dst = out.data as unknown as Record<number, unknown>;
  const index = new Array(shape.length).fill(0);
  for (let c = 0; c < n; c++) {
    let f = 0;
    for (let d = shape.length - 1; d >= 0; d--) f = f * shape[d] + index[d];
    for (let l = 0; l < lanes; l++) dst[c * lanes + l] = src[f * lanes + l];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

/** Encodes a tensor as a .npy (version 1; strings as fixed-width UTF-32 'U' arrays like numpy). */
export function encodeNpy(tensor: Tensor): Uint8Array {
  const [header, payload] = encodeNpyParts(tensor);
  const out = new Uint8Array(header.length + payload.length);
  out.set(header, 0);
  out.set(payload, header.length);
  return out;
}

/** The .npy header and the payload as separate chunks, so the payload is never copied. */
export function encodeNpyParts(tensor: Tensor): [Uint8Array, Uint8Array] {
  const info = dtypeInfo(tensor.dtype);
  let descr: string;
  let payload: Uint8Array;
  if (tensor.dtype === 'string') {
    const values = tensor.data as string[];
    const width = Math.max(1, ...values.map((s) => [...s].length));
    descr = `<U${width}`;
    payload = new Uint8Array(values.length * width * 4);
    const view = new DataView(payload.buffer);
    values.forEach((s, i) => [...s].forEach((ch, j) => view.setUint32((i * width + j) * 4, ch.codePointAt(0)!, true)));
  } else if (info.npy) {
    descr = info.npy;
    payload = toBytes(tensor);
  } else {
    throw new InputError(`numpy has no ${tensor.dtype} type; cannot write it to .npy`);
  }
  const shape = tensor.shape.length === 1 ? `(${tensor.shape[0]},)` : `(${tensor.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // numpy pads the header with spaces so the data starts on a 64-byte boundary, ending in '\n'.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = new Uint8Array(10 + header.length);
  head.set(MAGIC, 0);
  head[6] = 1;
  head[7] = 0;
  new DataView(head.buffer).setUint16(8, header.length, true);
  head.set(new TextEncoder().encode(header), 10);
  return [head, payload];
}
