import fs from 'node:fs';
import path from 'node:path';

/**
 * The first of `inputs` that writing `outputs` would replace. An output renamed into place
 * replaces the directory entry it names (a link there is replaced, not followed), while an input
 * is read through its links: so an input reached through a symbolic link, or whose folder is
 * reached through one, is still found. Replacing it would change what the command goes on
 * reading (the drift report, the benchmark) and destroy the user's file.
 */
export function overwrittenInput(outputs: string[], inputs: string[]): string | undefined {
  const real = (file: string) => {
    try {
      return fs.realpathSync(file);
    } catch {
      return path.resolve(file);
    }
  };
  const written = new Set(outputs.map((file) => path.join(real(path.dirname(file)), path.basename(file))));
  return inputs.find((file) => written.has(real(file)));
}
