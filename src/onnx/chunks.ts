import type { UnknownField } from '@bufbuild/protobuf';
import type { FileRange } from '../io/ranges.js';
import { WireReader, encodeVarint, varintSize } from './wire.js';

/** An encoded model as a list of pieces: bytes in memory, or a byte range still on disk. */
export type Chunk = Uint8Array | FileRange;

/** A length-delimited field (tag, length, payload) whose payload is given as chunks. */
export function lengthDelimited(fieldNumber: number, payload: Chunk[]): Chunk[] {
  const length = payload.reduce((n, c) => n + c.length, 0);
  return [encodeVarint(fieldNumber * 8 + 2), encodeVarint(length), ...payload];
}

/**
 * Inserts encoded fields into an encoded message at the place of `fieldNumber`: after every
 * known field with a lower number, before higher ones and before the unknown fields that
 * protobuf writes last. This is how the field would have been ordered had it been encoded in place.
 */
export function spliceField(message: Uint8Array, unknown: UnknownField[] | undefined, fieldNumber: number, fields: Chunk[]): Chunk[] {
  const unknownLength = (unknown ?? []).reduce((n, f) => n + varintSize(f.no * 8 + f.wireType) + f.data.length, 0);
  const knownEnd = message.length - unknownLength;
  let at = knownEnd;
  for (const field of WireReader.overBytes(message).fields(0, knownEnd)) {
    if (field.number > fieldNumber) {
      at = field.start;
      break;
    }
  }
  return [message.subarray(0, at), ...fields, message.subarray(at)];
}
