import fs from 'node:fs';
import path from 'node:path';

/**
 * `mkdir -p` with a bound. Node's recursive mkdir retries forever where a parent reads as missing
 * (ENOENT) but creating it reads as existing (EEXIST), as under /proc; this walks up to the first
 * folder that exists and creates each level below it once, so it fails with the real error instead.
 */
export async function makeFolders(dir: string): Promise<void> {
  const missing: string[] = [];
  let at = path.resolve(dir);
  while (!(await isFolder(at))) {
    missing.unshift(at);
    const parent = path.dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const folder of missing) {
    try {
      await fs.promises.mkdir(folder);
    } catch (error) {
      // Another run made it meanwhile; anything else that is there is in the way.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || !(await isFolder(folder))) throw error;
    }
  }
}

async function isFolder(dir: string): Promise<boolean> {
  try {
    return (await fs.promises.stat(dir)).isDirectory();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}
