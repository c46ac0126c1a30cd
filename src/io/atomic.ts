/**
 * Outputs are written to temporary paths beside their destination and renamed into place only
 * when complete, so a failed or interrupted command never leaves a half-written file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { makeFolders } from './folders.js';
import { statIfExists } from './read.js';
import { type JournalEntry, newTag, rollForward, sweepAbandoned, temporaryPath } from './temporaries.js';
import { opt } from '../option-ref.js';

const pending = new Set<string>();
/** Commits between their first and last rename, by journal: these are finished, never undone. */
const committing = new Map<string, JournalEntry[]>();

/**
 * Finishes the commits under way and removes every other temporary output still in flight (the
 * CLI calls this on SIGINT/SIGTERM). A commit that has begun renaming is finished rather than
 * removed: its originals are already aside.
 */
export function removePendingOutputs(): void {
  for (const [journal, entries] of committing) {
    rollForward(entries);
    fs.rmSync(journal, { force: true });
  }
  committing.clear();
  for (const tmp of pending) fs.rmSync(tmp, { recursive: true, force: true });
  pending.clear();
}

/** Registers a file (a lock) for removal on SIGINT/SIGTERM, after the commits under way are finished; returns the unregistering. */
export function removeOnInterrupt(file: string): () => void {
  pending.add(file);
  return () => pending.delete(file);
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

/** Makes an output's folder, or says why it cannot be made, as an input error. */
export async function makeOutputFolder(dir: string): Promise<void> {
  try {
    await makeFolders(dir);
  } catch (error) {
    // mkdir's ENOENT with the parent present: a pseudo-file system (/proc, /sys) that takes no folders.
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file system there takes no new folders' : writeProblem(error);
    throw new InputError(`cannot create output folder ${dir}: ${why}`, { kind: 'file', cause: error });
  }
}

/** Folders this process has cleared of what killed runs left there (once each is enough). */
const swept = new Set<string>();

/** Removes what killed runs left in `dir` (and finishes their interrupted commits), once per process. */
export async function sweepOnce(dir: string): Promise<void> {
  if (swept.has(dir)) return;
  swept.add(dir);
  await sweepAbandoned(dir);
}

/**
 * Tests set TDEPLOY_TEST_COMMIT_PAUSE_MS to hold each commit after every step, so that a test
 * can kill the process in each window between two renames instead of relying on timing luck.
 */
const pauseMs = Number(process.env.TDEPLOY_TEST_COMMIT_PAUSE_MS ?? 0);
const pause = () => (pauseMs > 0 ? new Promise((resolve) => setTimeout(resolve, pauseMs)) : Promise.resolve());

/** Flushes a written file or folder tree to the disk, so that a rename after it survives a power cut, not only a kill. */
async function syncTree(target: string): Promise<void> {
  const stat = await fs.promises.lstat(target);
  if (stat.isSymbolicLink()) return;
  if (stat.isDirectory()) {
    for (const entry of await fs.promises.readdir(target)) await syncTree(path.join(target, entry));
  }
  await syncOne(target);
}

/** Flushes one file, or one folder's entries (the renames made in it). */
async function syncOne(target: string): Promise<void> {
  const handle = await fs.promises.open(target, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * A group of outputs that appear together or not at all, e.g. a model and its external-data
 * file. `temp(dest)` gives the path to write; `commit()` renames them into place in the order
 * they were taken, so take data before the file that points at it.
 */
export class OutputSet {
  private readonly temps = new Map<string, string>();
  private readonly tag = newTag();

  async temp(dest: string): Promise<string> {
    const resolved = path.resolve(dest);
    const existing = this.temps.get(resolved);
    if (existing) return existing;
    await makeOutputFolder(path.dirname(resolved));
    await sweepOnce(path.dirname(resolved));
    const tmp = temporaryPath(resolved, this.tag, 'tmp');
    this.temps.set(resolved, tmp);
    pending.add(tmp);
    return tmp;
  }

  /** A temporary folder beside `dest` (a work or scratch folder), made now; a folder that cannot be written in is an input error naming it. */
  async folder(dest: string): Promise<string> {
    const dir = await this.temp(dest);
    try {
      await fs.promises.mkdir(dir);
    } catch (error) {
      throw new InputError(`cannot write in ${path.dirname(dir)}: ${writeProblem(error)}`, { kind: 'file', cause: error });
    }
    return dir;
  }

  /**
   * One output that replaces nothing, or replaces a file, is one rename. Anything more is a
   * journalled commit: the journal names every rename; the originals are moved aside (the file
   * that points at data first), so that at no moment does a destination hold an old file beside a
   * new one; then the temporaries are renamed in order. A run killed in between leaves the
   * journal, and the next run into that folder finishes the commit.
   */
  async commit(): Promise<void> {
    if (this.temps.size === 0) return;
    const entries: JournalEntry[] = [...this.temps].map(([dest, tmp]) => ({ dest, tmp, aside: temporaryPath(dest, this.tag, 'old') }));
    // All checked before any is renamed, so a refusal leaves none of the set in place.
    for (const { tmp, dest } of entries) await checkReplaceable(tmp, dest);
    for (const { tmp } of entries) await syncTree(tmp);
    const single = entries.length === 1 && !(await lstatOf(entries[0].dest))?.isDirectory();
    if (single) await renameInto(entries[0].tmp, entries[0].dest);
    else await this.journalled(entries);
    for (const dir of new Set(entries.map((e) => path.dirname(e.dest)))) await syncOne(dir);
    for (const { tmp } of entries) pending.delete(tmp);
    this.temps.clear();
  }

  private async journalled(entries: JournalEntry[]): Promise<void> {
    const journal = temporaryPath(entries[0].dest, this.tag, 'commit');
    // Written under another name and renamed: a journal is whole from the instant it has its name,
    // so the next run finishes every commit whose journal it finds (a half-written one is a temporary).
    const written = temporaryPath(journal, this.tag, 'tmp');
    await fs.promises.writeFile(written, JSON.stringify(entries));
    await syncOne(written);
    await fs.promises.rename(written, journal);
    await syncOne(path.dirname(journal));
    committing.set(journal, entries);
    await pause();
    const done: [string, string][] = [];
    const step = async (from: string, to: string) => {
      await renameInto(from, to);
      done.push([from, to]);
      await pause();
    };
    try {
      for (const e of [...entries].reverse()) if (await lstatOf(e.dest)) await step(e.dest, e.aside);
      for (const e of entries) await step(e.tmp, e.dest);
    } catch (error) {
      // Undone step by step, so that a refused rename leaves what was there.
      for (const [from, to] of done.reverse()) await fs.promises.rename(to, from);
      committing.delete(journal);
      await fs.promises.rm(journal, { force: true });
      throw error;
    }
    rollForward(entries);
    committing.delete(journal);
    await fs.promises.rm(journal, { force: true });
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
  const existing = await lstatOf(dest);
  if (!existing?.isDirectory() || (await fs.promises.lstat(tmp)).isDirectory()) return;
  throw new InputError(`${dest} is a folder; tdeploy does not replace a folder with a file`, { kind: 'file', hint: 'give the path of the file to write' });
}

/** What is at `path`, if anything (a name too long to exist counts as nothing; its rename says why). */
const lstatOf = (file: string) => fs.promises.lstat(file).catch(() => undefined);

async function renameInto(tmp: string, dest: string): Promise<void> {
  try {
    await fs.promises.rename(tmp, dest);
  } catch (error) {
    // A folder that appeared meanwhile (another run's) is not replaced.
    const why = ['ENOTEMPTY', 'EEXIST'].includes((error as NodeJS.ErrnoException).code ?? '') ? 'another run put a folder there meanwhile' : writeProblem(error);
    throw new InputError(`cannot write ${dest}: ${why}`, { kind: 'file', cause: error });
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
