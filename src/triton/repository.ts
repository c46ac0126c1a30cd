import { create, equals } from '@bufbuild/protobuf';
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { OutputSet } from '../io/atomic.js';
import { type ModelConfig, ModelConfigSchema, ModelOutputSchema } from './gen/model_config_pb.js';
import { isSafeName } from './options.js';
import { configText, readConfig } from './text.js';
import { opt } from '../option-ref.js';

/**
 * Writes model folders into a Triton repository. Nothing is written in place: a new repository,
 * a new model folder, or a new version folder (with the updated config.pbtxt) is built in a
 * temporary folder beside its destination and renamed into place once complete.
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

export async function writeRepository(repo: string, folders: ModelFolder[], options: WriteOptions): Promise<WrittenRepository> {
  const repository = path.resolve(repo);
  if (fs.existsSync(repository) && !fs.statSync(repository).isDirectory()) throw new InputError(`-o ${repo} exists and is not a folder`);
  for (const { config } of folders) {
    if (!isSafeName(config.name)) throw new InputError(`unsafe model name '${config.name}'`, { hint: 'model names may use only letters, digits, _ . - and may not be . or ..' });
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
  const outputs = new OutputSet();
  await outputs.run(async (set) => {
    if (!fs.existsSync(repository)) {
      const tmp = await set.temp(repository);
      for (const folder of folders) files.push(...await writeModelFolder(path.join(tmp, folder.config.name), folder, version));
      return;
    }
    for (const folder of folders) {
      const modelDir = path.join(repository, folder.config.name);
      if (!fs.existsSync(modelDir)) {
        files.push(...await writeModelFolder(await set.temp(modelDir), folder, version));
        continue;
      }
      // config.pbtxt is taken first so that the commit, which renames in reverse, moves the
      // version folder into place before the config that describes it.
      await fs.promises.writeFile(await set.temp(path.join(modelDir, 'config.pbtxt')), configText(folder.config));
      for (const file of folder.modelFiles) await putFile(await set.temp(path.join(modelDir, file.name)), file);
      await writeFiles(await set.temp(path.join(modelDir, String(version))), folder.versionFiles);
      files.push(...relativeFiles(folder, version));
    }
  });
  return { repository, version, files, replaced };
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
  await fs.promises.mkdir(dir, { recursive: true });
  await fs.promises.writeFile(path.join(dir, 'config.pbtxt'), configText(folder.config));
  await writeFiles(dir, folder.modelFiles);
  await writeFiles(path.join(dir, String(version)), folder.versionFiles);
  return relativeFiles(folder, version);
}

async function writeFiles(dir: string, files: FileEntry[]): Promise<void> {
  await fs.promises.mkdir(dir, { recursive: true });
  for (const file of files) await putFile(path.join(dir, file.name), file);
}

async function putFile(dest: string, file: FileEntry): Promise<void> {
  await fs.promises.mkdir(path.dirname(dest), { recursive: true });
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
