/**
 * Outputs are written to temporary paths beside their destination and renamed into place only
 * when complete, so a failed or interrupted command never leaves a half-written file.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { statIfExists } from './read.js';
import { opt } from '../option-ref.js';

const pending = new Set<string>();

/** Removes every temporary output still in flight (the CLI calls this on SIGINT/SIGTERM). */
export function removePendingOutputs(): void {
  for (const tmp of pending) fs.rmSync(tmp, { recursive: true, force: true });
  pending.clear();
}

/** Beside the destination, named after it: cut to 50 characters so that a long but legal name stays legal with the additions. */
function tempPathFor(dest: string): string {
  const name = [...path.basename(dest)].slice(0, 50).join('');
  return path.join(path.dirname(dest), `.${name}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

/** Why an output could not be written or its folder made, by error code. */
const WRITE_PROBLEMS: Record<string, string> = {
  EEXIST: 'a file is in the way',
  ENOTDIR: 'a file is in the way',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENAMETOOLONG: 'the name is too long',
};

function writeProblem(error: unknown): string {
  return WRITE_PROBLEMS[(error as NodeJS.ErrnoException).code ?? ''] ?? (error as Error).message;
}

async function makeParent(dest: string): Promise<void> {
  const dir = path.dirname(dest);
  try {
    await fs.promises.mkdir(dir, { recursive: true });
  } catch (error) {
    throw new InputError(`cannot create output folder ${dir}: ${writeProblem(error)}`, { kind: 'file', cause: error });
  }
}

/**
 * A group of outputs that appear together or not at all, e.g. a model and its external-data
 * file. `temp(dest)` gives the path to write; `commit()` renames them all into place.
 */
export class OutputSet {
  private readonly temps = new Map<string, string>();

  async temp(dest: string): Promise<string> {
    const resolved = path.resolve(dest);
    const existing = this.temps.get(resolved);
    if (existing) return existing;
    await makeParent(resolved);
    const tmp = tempPathFor(resolved);
    this.temps.set(resolved, tmp);
    pending.add(tmp);
    return tmp;
  }

  /** Renames every temporary into place; side files first so the main file never points at a missing one. */
  async commit(): Promise<void> {
    const entries = [...this.temps].reverse();
    // All checked before any is renamed, so a refusal leaves none of the set in place.
    for (const [dest, tmp] of entries) await checkReplaceable(tmp, dest);
    for (const [dest, tmp] of entries) {
      await renameOver(tmp, dest);
      pending.delete(tmp);
    }
    this.temps.clear();
  }

  async abort(): Promise<void> {
    for (const tmp of this.temps.values()) {
      await fs.promises.rm(tmp, { recursive: true, force: true });
      pending.delete(tmp);
    }
    this.temps.clear();
  }

  /** Runs `write` and commits, or removes every temporary if it throws. */
  async run<T>(write: (set: OutputSet) => Promise<T>): Promise<T> {
    try {
      const result = await write(this);
      await this.commit();
      return result;
    } catch (error) {
      const named = this.namedError(error);
      await this.abort();
      throw named;
    }
  }

  /** A file-system error on one of the temporaries (a read-only folder, a full disk) as an input error naming the output. */
  private namedError(error: unknown): unknown {
    const failed = (error as NodeJS.ErrnoException).path;
    if (!failed || !(error as NodeJS.ErrnoException).code) return error;
    const inside = (tmp: string) => failed === tmp || failed.startsWith(`${tmp}${path.sep}`);
    const dest = [...this.temps].find(([, tmp]) => inside(tmp))?.[0];
    return dest ? new InputError(`cannot write ${dest}: ${writeProblem(error)}`, { kind: 'file', cause: error }) : error;
  }
}

/**
 * A folder is replaced only by a folder (a repository's version folder written again): a file
 * output given the path of an existing folder would otherwise delete everything in it.
 */
async function checkReplaceable(tmp: string, dest: string): Promise<void> {
  const existing = await fs.promises.lstat(dest).catch(() => undefined);
  if (!existing?.isDirectory() || (await fs.promises.lstat(tmp)).isDirectory()) return;
  throw new InputError(`${dest} is a folder; tdeploy does not replace a folder with a file`, { kind: 'file', hint: 'give the path of the file to write' });
}

/**
 * rename() replaces a file atomically but refuses to replace a non-empty directory. Such a folder
 * is moved aside first and deleted last: an interruption in between leaves it under its
 * temporary name (not registered as pending, so Ctrl-C keeps it) instead of deleted.
 */
async function renameOver(tmp: string, dest: string): Promise<void> {
  try {
    await fs.promises.rename(tmp, dest);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw new InputError(`cannot write ${dest}: ${writeProblem(error)}`, { kind: 'file', cause: error });
    const aside = tempPathFor(dest);
    await fs.promises.rename(dest, aside);
    try {
      await fs.promises.rename(tmp, dest);
    } catch (second) {
      await fs.promises.rename(aside, dest);
      throw new InputError(`cannot write ${dest}: ${writeProblem(second)}`, { kind: 'file', cause: second });
    }
    await fs.promises.rm(aside, { recursive: true, force: true });
  }
}

/**
 * Refuses a file output that names a folder before a long run (a build, a benchmark) rather than
 * at its end, when the atomic writer would refuse to put the file in the folder's place.
 */
export function refuseFolderOutput(file: string, option: string, what: string, exampleName: string): void {
  if (!statIfExists(file)?.isDirectory()) return;
  throw new InputError(`${opt(option, file)} is a folder; ${what} is one file`, { kind: 'usage', hint: `give the file to write, e.g. ${opt(option, path.join(file, exampleName))}` });
}

/**
 * Awaits `work`, which examines files already put in place. A failed gate is a report and keeps
 * them to look at; when `work` itself fails (the files could not be run at all), they are removed,
 * so that nothing unchecked stays behind looking like a result.
 */
export async function removeIfFails<T>(work: Promise<T>, files: (string | undefined)[]): Promise<T> {
  try {
    return await work;
  } catch (error) {
    await Promise.all(files.map((file) => file && fs.promises.rm(file, { force: true })));
    throw error;
  }
}

/** Writes one file atomically: `write` fills the temporary path, which is then renamed to `dest`. */
export function writeAtomic<T>(dest: string, write: (tmp: string) => Promise<T>): Promise<T> {
  return new OutputSet().run(async (set) => write(await set.temp(dest)));
}

export function writeFileAtomic(dest: string, data: Uint8Array | string): Promise<void> {
  return writeAtomic(dest, (tmp) => fs.promises.writeFile(tmp, data));
}
