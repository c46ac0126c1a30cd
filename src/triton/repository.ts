import { create, equals } from '@bufbuild/protobuf';
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { OutputSet, makeOutputFolder, sweepOnce } from '../io/atomic.js';
import { makeFolders } from '../io/folders.js';
import { withLock } from '../io/lock.js';
import { parseTemporary } from '../io/temporaries.js';
import { type ModelConfig, ModelConfigSchema, ModelOutputSchema } from './gen/model_config_pb.js';
import { isSafeName } from './options.js';
import { configText, readConfig } from './text.js';
import { opt } from '../option-ref.js';

/**
 * Writes model folders into a Triton repository. Nothing is written in place: each model folder
 * is built whole beside its destination (with the versions and files it already had linked in)
 * and renamed into place, so that a model's config.pbtxt and its version folders always come
 * from one write. Writers of one repository take turns through a lock file beside it.
 */

/** A file to put in a model folder: copied from `from` or written from `text`. */
export type FileEntry = { name: string; from: string } | { name: string; text: string };

export interface ModelFolder {
  config: ModelConfig;
  /** files of the version folder, e.g. model.onnx and its external data */
  versionFiles: FileEntry[];
  /** files beside config.pbtxt, e.g. a label file */
  modelFiles: FileEntry[];
}

export interface WriteOptions {
  version: number | 'next';
  /** replace an existing version folder */
  force: boolean;
  /** files at the repository's root (tdeploy.json), updated after the models under the same lock */
  updateRoot?: (repository: string) => Promise<void>;
  /** how long to wait for another run writing the repository; default 10 minutes */
  lockWaitMs?: number;
}

export interface WrittenRepository {
  repository: string;
  version: number;
  /** every file written, relative to the repository */
  files: string[];
  /** version folders that were replaced (`force`) */
  replaced: string[];
}

export const isVersionName = (name: string) => /^[1-9]\d*$/.test(name);

export function versionsIn(modelDir: string): number[] {
  if (!fs.existsSync(modelDir)) return [];
  return fs.readdirSync(modelDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && isVersionName(e.name))
    .map((e) => Number(e.name))
    .sort((a, b) => a - b);
}

/** The lock file of a repository: beside it, so that a new repository can still appear in one rename. */
export const lockFileOf = (repository: string) => path.join(path.dirname(repository), `.${path.basename(repository)}.tdeploy-lock`);

export async function writeRepository(repo: string, folders: ModelFolder[], options: WriteOptions): Promise<WrittenRepository> {
  const repository = path.resolve(repo);
  if (fs.existsSync(repository) && !fs.statSync(repository).isDirectory()) throw new InputError(`-o ${repo} exists and is not a folder`);
  for (const { config } of folders) {
    if (!isSafeName(config.name)) throw new InputError(`unsafe model name '${config.name}'`, { hint: 'model names may use only letters, digits, _ . - and may not be . or ..' });
  }
  await makeOutputFolder(path.dirname(repository));
  const lockWaitMs = options.lockWaitMs ?? 600_000;
  return withLock(lockFileOf(repository), `the repository ${repo}`, async () => {
    // What a killed run left is cleared (its interrupted commit finished) before anything is read.
    await sweepOnce(path.dirname(repository));
    if (fs.existsSync(repository)) await sweepOnce(repository);
    const written = await writeLocked(repository, folders, options);
    await options.updateRoot?.(repository);
    return written;
  }, { waitMs: lockWaitMs });
}

async function writeLocked(repository: string, folders: ModelFolder[], options: WriteOptions): Promise<WrittenRepository> {
  for (const { config } of folders) {
    const modelDir = path.join(repository, config.name);
    if (fs.existsSync(modelDir) && !fs.statSync(modelDir).isDirectory()) {
      throw new InputError(`${modelDir} exists and is not a folder`, { hint: `the model folder would go there: move that file, or package under another ${opt('name')}` });
    }
  }
  const version = options.version === 'next'
    ? Math.max(0, ...folders.flatMap((f) => versionsIn(path.join(repository, f.config.name)))) + 1
    : options.version;
  const replaced: string[] = [];
  for (const folder of folders) {
    const existing = await checkExisting(repository, folder.config, version, options.force);
    if (existing) replaced.push(existing);
  }
  const files: string[] = [];
  await new OutputSet().run(async (set) => {
    if (!fs.existsSync(repository)) {
      const tmp = await set.temp(repository);
      for (const folder of folders) files.push(...await writeModelFolder(path.join(tmp, folder.config.name), folder, version));
      return;
    }
    // In the order given: the models an ensemble refers to come before it.
    for (const folder of folders) {
      const modelDir = path.join(repository, folder.config.name);
      const staged = await set.temp(modelDir);
      if (fs.existsSync(modelDir)) await carryOver(modelDir, staged, new Set(['config.pbtxt', String(version), ...folder.modelFiles.map((f) => f.name)]));
      files.push(...await writeModelFolder(staged, folder, version));
    }
  });
  return { repository, version, files, replaced };
}

/**
 * Links what a model folder holds into its staged copy, except the names being written anew and
 * tdeploy's own temporaries: hard links cost no copy, and the replaced folder can then go whole.
 */
async function carryOver(from: string, to: string, written: Set<string>): Promise<void> {
  await makeFolders(to);
  for (const entry of await fs.promises.readdir(from, { withFileTypes: true })) {
    if (written.has(entry.name) || parseTemporary(entry.name)) continue;
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) await carryOver(source, target, new Set());
    else if (entry.isSymbolicLink()) await fs.promises.symlink(await fs.promises.readlink(source), target);
    else await fs.promises.link(source, target).catch(() => fs.promises.copyFile(source, target, fs.constants.COPYFILE_FICLONE));
  }
}

/**
 * An existing version is replaced only with force; adding a version next to others keeps their
 * config, so the new one must describe the same tensors.
 */
async function checkExisting(repository: string, config: ModelConfig, version: number, force: boolean): Promise<string | undefined> {
  const modelDir = path.join(repository, config.name);
  const versions = versionsIn(modelDir);
  const clash = versions.includes(version);
  if (clash && !force) {
    throw new InputError(`${path.join(modelDir, String(version))} already exists`, { hint: `add ${opt('force')} to replace it, or ${opt('modelVersion', 'next')} for a new version` });
  }
  const others = versions.filter((v) => v !== version);
  const configFile = path.join(modelDir, 'config.pbtxt');
  if (others.length > 0 && fs.existsSync(configFile)) {
    const existing = await readConfig(configFile);
    if (!equals(ModelConfigSchema, tensorsOf(existing), tensorsOf(config))) {
      throw new InputError(`${configFile} describes other inputs/outputs (or max_batch_size) than this model, and versions ${others.join(', ')} still use it`, {
        hint: `package under another ${opt('name')}, or remove the old versions first`,
      });
    }
  }
  return clash ? `${config.name}/${version}` : undefined;
}

/** The part of a config all versions of a model share: its tensors and batch size. */
function tensorsOf(config: ModelConfig): ModelConfig {
  const output = config.output.map((o) => create(ModelOutputSchema, { ...o, labelFilename: '' }));
  return create(ModelConfigSchema, { maxBatchSize: config.maxBatchSize, input: config.input, output });
}

async function writeModelFolder(dir: string, folder: ModelFolder, version: number): Promise<string[]> {
  await makeFolders(dir);
  await fs.promises.writeFile(path.join(dir, 'config.pbtxt'), configText(folder.config));
  await writeFiles(dir, folder.modelFiles);
  await writeFiles(path.join(dir, String(version)), folder.versionFiles);
  return relativeFiles(folder, version);
}

async function writeFiles(dir: string, files: FileEntry[]): Promise<void> {
  await makeFolders(dir);
  for (const file of files) await putFile(path.join(dir, file.name), file);
}

async function putFile(dest: string, file: FileEntry): Promise<void> {
  await makeFolders(path.dirname(dest));
  if ('text' in file) await fs.promises.writeFile(dest, file.text);
  // A copy-on-write clone where the file system has one, else a kernel copy: never through the heap.
  else await fs.promises.copyFile(file.from, dest, fs.constants.COPYFILE_FICLONE);
}

function relativeFiles(folder: ModelFolder, version: number): string[] {
  const name = folder.config.name;
  return [
    `${name}/config.pbtxt`,
    ...folder.modelFiles.map((f) => `${name}/${f.name}`),
    ...(folder.versionFiles.length ? folder.versionFiles.map((f) => `${name}/${version}/${f.name}`) : [`${name}/${version}/`]),
  ];
}
