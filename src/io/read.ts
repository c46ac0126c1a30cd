import fs from 'node:fs';
import { InputError, fileError } from '../errors.js';

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

/** Reads a JSON file; text that is not JSON is an input error naming the file. */
export async function readJson(file: string, what = 'file'): Promise<unknown> {
  const text = await readText(file, what);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InputError(`${file}: not valid JSON (${(error as Error).message})`, { kind: 'json' });
  }
}

/** Fails with an input error naming `what` unless `file` is an existing regular file. */
export function requireFile(file: string, what: string): void {
  try {
    if (fs.statSync(file).isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
  } catch (error) {
    throw fileError(file, error, what);
  }
}

/**
 * The file's stats, or undefined when nothing is there: `throwIfNoEntry: false` covers only
 * ENOENT, while a path through a file (`afile/x.json`) fails with ENOTDIR.
 */
export function statIfExists(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch (error) {
    if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw error;
  }
}
