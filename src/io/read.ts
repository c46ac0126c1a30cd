import fs from 'node:fs';
import { fileError } from '../errors.js';

/** Reads a small text file whole; a missing or unreadable file is an input error naming it as `what`. */
export async function readText(file: string, what = 'file'): Promise<string> {
  try {
    return await fs.promises.readFile(file, 'utf8');
  } catch (error) {
    throw fileError(file, error, what);
  }
}

/** The same for small binary files (one TensorProto, one .npy). */
export async function readBytes(file: string, what = 'file'): Promise<Uint8Array> {
  try {
    return await fs.promises.readFile(file);
  } catch (error) {
    throw fileError(file, error, what);
  }
}
