/**
 * Reading and writing exact byte counts at file positions. One read() or write() call moves at
 * most 2 GiB - 1 (Node aborts the process on a larger read and throws on a larger write), and
 * Linux moves at most 0x7ffff000 bytes per call, so tensors of any size go through these loops.
 */
import fs from 'node:fs';
import { InputError } from '../errors.js';

/** A byte range of a file: where a tensor's data lives when it is not held in memory. */
export interface FileRange {
  file: string;
  offset: number;
  length: number;
}

/** What one call moves at most: well under the 2 GiB limit, large enough to cost nothing. */
const IO_CHUNK = 256 << 20;
/** What a copy holds in memory at once. */
const COPY_CHUNK = 16 << 20;

/** Fills `buffer` from `position`; the file ending first is an input error naming `file`. */
export async function readFully(fh: fs.promises.FileHandle, buffer: Uint8Array, position: number, file: string): Promise<void> {
  for (let done = 0; done < buffer.length; ) {
    const { bytesRead } = await fh.read(buffer, done, Math.min(IO_CHUNK, buffer.length - done), position + done);
    if (bytesRead === 0) throw endedEarly(file);
    done += bytesRead;
  }
}

/** The same for synchronous reads from a file descriptor. */
export function readFullySync(fd: number, buffer: Uint8Array, position: number, file: string): void {
  for (let done = 0; done < buffer.length; ) {
    const bytesRead = fs.readSync(fd, buffer, done, Math.min(IO_CHUNK, buffer.length - done), position + done);
    if (bytesRead === 0) throw endedEarly(file);
    done += bytesRead;
  }
}

/** Writes all of `bytes`, at `position` or, without one, at the file's current position. */
export async function writeFully(fh: fs.promises.FileHandle, bytes: Uint8Array, position?: number): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const at = position === undefined ? null : position + done;
    const { bytesWritten } = await fh.write(bytes, done, Math.min(IO_CHUNK, bytes.length - done), at);
    done += bytesWritten;
  }
}

/** The bytes of a range, read into memory. */
export async function readRange(range: FileRange): Promise<Uint8Array> {
  const fh = await fs.promises.open(range.file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(range.length);
    await readFully(fh, buffer, range.offset, range.file);
    return buffer;
  } finally {
    await fh.close();
  }
}

/** Appends a range of another file to `out`, a piece at a time, so memory stays bounded. */
export async function copyRange(out: fs.promises.FileHandle, range: FileRange): Promise<void> {
  const source = await fs.promises.open(range.file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(Math.min(COPY_CHUNK, range.length));
    for (let done = 0; done < range.length; ) {
      const piece = buffer.subarray(0, Math.min(buffer.length, range.length - done));
      await readFully(source, piece, range.offset + done, range.file);
      await writeFully(out, piece);
      done += piece.length;
    }
  } finally {
    await source.close();
  }
}

function endedEarly(file: string): InputError {
  return new InputError(`${file} ended early (changed while tdeploy was reading it?)`);
}
