import fs from 'node:fs';
import { fileError, InputError } from '../errors.js';
import { writeAtomic } from '../io/atomic.js';
import { encodeNpyParts, parseNpy } from './npy.js';
import type { TensorMap } from './tensor.js';
import { listZip, readZipEntry, writeZip } from './zip.js';

/** Reads every array of a .npz archive; keys are the member names without `.npy`, in archive order. */
export async function readNpz(file: string): Promise<TensorMap> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, 'r');
    if ((await fh.stat()).isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
  } catch (error) {
    throw fileError(file, error);
  }
  try {
    const tensors: TensorMap = new Map();
    for (const entry of await listZip(fh, file)) {
      if (entry.name.endsWith('/')) continue;
      const name = entry.name.replace(/\.npy$/, '');
      tensors.set(name, parseNpy(await readZipEntry(fh, entry, file), `${file}: member '${entry.name}'`));
    }
    return tensors;
  } finally {
    await fh.close();
  }
}

/** Writes tensors as an uncompressed .npz (what numpy.savez writes), atomically. */
export async function writeNpz(file: string, tensors: TensorMap): Promise<void> {
  if (tensors.size === 0) throw new InputError(`nothing to write to ${file}: no tensors`);
  const members = [...tensors].map(([name, tensor]) => ({ name: `${name}.npy`, chunks: encodeNpyParts(tensor) }));
  await writeAtomic(file, async (tmp) => {
    const fh = await fs.promises.open(tmp, 'w');
    try {
      await writeZip(fh, members);
    } finally {
      await fh.close();
    }
  });
}
