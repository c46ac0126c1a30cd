/**
 * Just enough of the protobuf wire format to walk a model file without holding it in memory:
 * a window of the file is read at a time, and fields are described by their byte ranges.
 */
import { InputError } from '../errors.js';
import { readFullySync } from '../io/ranges.js';

export interface WireField {
  number: number;
  wireType: number;
  /** where the field starts (its tag) and ends */
  start: number;
  end: number;
  /** where a length-delimited field's payload starts */
  payload: number;
}

const WINDOW = 4 << 20;

export class WireReader {
  constructor(
    readonly size: number,
    private readonly read: (pos: number, length: number) => Uint8Array,
    private readonly where: string,
  ) {}

  /** Reads a file through a 4 MiB window, so a model is walked without being held in memory. */
  static overFile(fd: number, size: number, where: string): WireReader {
    let buf: Buffer = Buffer.alloc(0);
    let base = 0;
    const readExact = (pos: number, length: number): Buffer => {
      const out = Buffer.allocUnsafe(length);
      readFullySync(fd, out, pos, where);
      return out;
    };
    return new WireReader(size, (pos, length) => {
      if (pos >= base && pos + length <= base + buf.length) return buf.subarray(pos - base, pos - base + length);
      if (length > WINDOW) return readExact(pos, length);
      base = pos;
      buf = readExact(pos, Math.min(WINDOW, size - pos));
      return buf.subarray(0, length);
    }, where);
  }

  static overBytes(bytes: Uint8Array, where = 'message'): WireReader {
    return new WireReader(bytes.length, (pos, length) => bytes.subarray(pos, pos + length), where);
  }

  /** The bytes [pos, pos+length): a view while it lies in memory. */
  bytes(pos: number, length: number): Uint8Array {
    if (pos + length > this.size) throw truncated(this.where);
    return this.read(pos, length);
  }

  varint(pos: number): [value: number, next: number] {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos + i >= this.size) throw truncated(this.where);
      const byte = this.bytes(pos + i, 1)[0];
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if (byte < 0x80) return [value, pos + i + 1];
    }
    throw this.invalid('varint longer than 10 bytes');
  }

  /** The fields of the message occupying [start, end). */
  *fields(start: number, end: number): Generator<WireField> {
    let pos = start;
    while (pos < end) {
      const [tag, afterTag] = this.varint(pos);
      const number = Math.floor(tag / 8);
      const wireType = tag & 7;
      if (number === 0) throw this.invalid('field number 0');
      let fieldEnd: number;
      let payload = afterTag;
      switch (wireType) {
        case 0: fieldEnd = this.varint(afterTag)[1]; break;
        case 1: fieldEnd = afterTag + 8; break;
        case 5: fieldEnd = afterTag + 4; break;
        case 2: {
          const [length, next] = this.varint(afterTag);
          payload = next;
          fieldEnd = next + length;
          break;
        }
        default: throw this.invalid(`wire type ${wireType}`);
      }
      if (fieldEnd > end) throw truncated(this.where);
      yield { number, wireType, start: pos, end: fieldEnd, payload };
      pos = fieldEnd;
    }
  }

  private invalid(what: string): InputError {
    return new InputError(`${this.where}: not an ONNX model (invalid protobuf: ${what})`, { kind: 'invalid-model' });
  }
}

function truncated(where: string): InputError {
  return new InputError(`${where}: truncated or not an ONNX model (a field runs past the end of the file)`, { kind: 'invalid-model' });
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

export function encodeVarint(value: number): Uint8Array {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return Uint8Array.from(out);
}

export function varintSize(value: number): number {
  return encodeVarint(value).length;
}
