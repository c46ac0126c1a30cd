import fs from 'node:fs';
import zlib from 'node:zlib';
import { InputError } from '../errors.js';
import { readFully, writeFully } from '../io/ranges.js';

/**
 * The subset of ZIP that .npz files use: stored and deflated members, ZIP64 for members or
 * archives over 4 GiB. Members are read one at a time with positional reads, never the archive whole.
 */
export interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX32 = 0xffffffff;

/** `length` bytes at `position`, checked against the file's size first: a corrupt size field must not allocate gigabytes. */
async function readAt(fh: fs.promises.FileHandle, position: number, length: number, where: string): Promise<Buffer> {
  const { size } = await fh.stat();
  if (position + length > size) throw new InputError(`${where}: truncated .npz archive`);
  const buffer = Buffer.alloc(length);
  await readFully(fh, buffer, position, where);
  return buffer;
}

export async function listZip(fh: fs.promises.FileHandle, where: string): Promise<ZipEntry[]> {
  const { size } = await fh.stat();
  const tailLength = Math.min(size, 22 + 0xffff);
  const tail = await readAt(fh, size - tailLength, tailLength, where);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) if (tail.readUInt32LE(i) === EOCD) { eocd = i; break; }
  if (eocd < 0) throw new InputError(`${where}: not a .npz archive (no ZIP directory found)`);
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdSize === MAX32 || cdOffset === MAX32) {
    const locatorAt = eocd - 20;
    if (locatorAt < 0 || tail.readUInt32LE(locatorAt) !== ZIP64_LOCATOR) throw new InputError(`${where}: broken ZIP64 archive`);
    const record = await readAt(fh, Number(tail.readBigUInt64LE(locatorAt + 8)), 56, where);
    if (record.readUInt32LE(0) !== ZIP64_EOCD) throw new InputError(`${where}: broken ZIP64 archive`);
    count = Number(record.readBigUInt64LE(32));
    cdSize = Number(record.readBigUInt64LE(40));
    cdOffset = Number(record.readBigUInt64LE(48));
  }
  const cd = await readAt(fh, cdOffset, cdSize, where);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL) throw new InputError(`${where}: corrupt ZIP directory`);
    const nameLength = cd.readUInt16LE(p + 28);
    const extraLength = cd.readUInt16LE(p + 30);
    const commentLength = cd.readUInt16LE(p + 32);
    const entry: ZipEntry = {
      name: cd.toString('utf8', p + 46, p + 46 + nameLength),
      method: cd.readUInt16LE(p + 10),
      crc: cd.readUInt32LE(p + 16),
      compressedSize: cd.readUInt32LE(p + 20),
      size: cd.readUInt32LE(p + 24),
      localOffset: cd.readUInt32LE(p + 42),
    };
    readZip64Extra(cd.subarray(p + 46 + nameLength, p + 46 + nameLength + extraLength), entry);
    entries.push(entry);
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** ZIP64 extra field: 64-bit values, present only for the 32-bit fields that hold 0xFFFFFFFF. */
function readZip64Extra(extra: Buffer, entry: ZipEntry): void {
  for (let q = 0; q + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(q);
    const length = extra.readUInt16LE(q + 2);
    if (id === 0x0001) {
      let r = q + 4;
      for (const key of ['size', 'compressedSize', 'localOffset'] as const) {
        if (entry[key] === MAX32 && r + 8 <= q + 4 + length) {
          entry[key] = Number(extra.readBigUInt64LE(r));
          r += 8;
        }
      }
    }
    q += 4 + length;
  }
}

export async function readZipEntry(fh: fs.promises.FileHandle, entry: ZipEntry, where: string): Promise<Uint8Array> {
  const local = await readAt(fh, entry.localOffset, 30, where);
  if (local.readUInt32LE(0) !== LOCAL) throw new InputError(`${where}: corrupt member ${entry.name}`);
  const dataStart = entry.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  const compressed = await readAt(fh, dataStart, entry.compressedSize, `${where}: member ${entry.name}`);
  let data: Uint8Array;
  if (entry.method === 0) data = compressed;
  else if (entry.method === 8) {
    try {
      // bounded by the size the directory states, so a corrupt or hostile member cannot fill memory
      data = zlib.inflateRawSync(compressed, { maxOutputLength: Math.max(1, entry.size) });
    } catch {
      throw new InputError(`${where}: member ${entry.name} does not inflate (corrupt deflate data)`);
    }
  } else throw new InputError(`${where}: member ${entry.name} uses ZIP compression method ${entry.method}; only stored and deflated members are supported`);
  if (data.length !== entry.size || zlib.crc32(data) !== entry.crc) throw new InputError(`${where}: member ${entry.name} is corrupt (size or CRC mismatch)`);
  return data;
}

/** Writes a ZIP archive of stored members, each given as its byte chunks, to an open file. */
export async function writeZip(fh: fs.promises.FileHandle, members: { name: string; chunks: Uint8Array[] }[]): Promise<void> {
  let offset = 0;
  const write = async (bytes: Uint8Array) => {
    await writeFully(fh, bytes, offset);
    offset += bytes.length;
  };
  const central: Buffer[] = [];
  for (const { name, chunks } of members) {
    const nameBytes = Buffer.from(name, 'utf8');
    const size = chunks.reduce((n, c) => n + c.length, 0);
    // zlib.crc32 forgets the running value for a view of a zero-length buffer, so skip empty chunks.
    const crc = chunks.reduce((c, chunk) => (chunk.length ? zlib.crc32(chunk, c) : c), 0);
    const big = size >= MAX32 || offset >= MAX32;
    const localOffset = offset;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(LOCAL, 0);
    local.writeUInt16LE(big ? 45 : 20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(big ? MAX32 : size, 18);
    local.writeUInt32LE(big ? MAX32 : size, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const localExtra = big ? zip64Extra([size, size]) : Buffer.alloc(0);
    local.writeUInt16LE(localExtra.length, 28);
    await write(local);
    await write(nameBytes);
    await write(localExtra);
    for (const chunk of chunks) await write(chunk);

    const centralExtra = big ? zip64Extra([size, size, localOffset]) : Buffer.alloc(0);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(CENTRAL, 0);
    entry.writeUInt16LE(big ? 45 : 20, 4);
    entry.writeUInt16LE(big ? 45 : 20, 6);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(big ? MAX32 : size, 20);
    entry.writeUInt32LE(big ? MAX32 : size, 24);
    entry.writeUInt16LE(nameBytes.length, 28);
    entry.writeUInt16LE(centralExtra.length, 30);
    entry.writeUInt32LE(big ? MAX32 : localOffset, 42);
    central.push(entry, nameBytes, centralExtra);
  }
  const cdOffset = offset;
  for (const part of central) await write(part);
  const cdSize = offset - cdOffset;
  const big = cdOffset >= MAX32 || members.length >= 0xffff;
  if (big) {
    const record = Buffer.alloc(56);
    record.writeUInt32LE(ZIP64_EOCD, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeUInt16LE(45, 12);
    record.writeUInt16LE(45, 14);
    record.writeBigUInt64LE(BigInt(members.length), 24);
    record.writeBigUInt64LE(BigInt(members.length), 32);
    record.writeBigUInt64LE(BigInt(cdSize), 40);
    record.writeBigUInt64LE(BigInt(cdOffset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(ZIP64_LOCATOR, 0);
    locator.writeBigUInt64LE(BigInt(offset), 8);
    locator.writeUInt32LE(1, 16);
    await write(record);
    await write(locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(EOCD, 0);
  end.writeUInt16LE(big ? 0xffff : members.length, 8);
  end.writeUInt16LE(big ? 0xffff : members.length, 10);
  end.writeUInt32LE(big ? MAX32 : cdSize, 12);
  end.writeUInt32LE(big ? MAX32 : cdOffset, 16);
  await write(end);
}

function zip64Extra(values: number[]): Buffer {
  const buf = Buffer.alloc(4 + 8 * values.length);
  buf.writeUInt16LE(0x0001, 0);
  buf.writeUInt16LE(8 * values.length, 2);
  values.forEach((v, i) => buf.writeBigUInt64LE(BigInt(v), 4 + 8 * i));
  return buf;
}
